"""The commands' live line: rewritten in place on a terminal, plain lines elsewhere; the restore's line text."""

from __future__ import annotations

import io

from cli.progress import LiveLine
from cli.restore import describe


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_rewritten_in_place_and_cleared() -> None:
    screen = Terminal()
    line = LiveLine(screen)
    line.show("validating")
    line.show("validating")
    line.show("restoring  job InProgress  40%")
    line.clear()
    written = screen.getvalue()
    assert written.count("\r[00:00] ") == 2 and "\n" not in written
    assert written.endswith("\r" + " " * len("[00:00] restoring  job InProgress  40%") + "\r")


def test_the_restore_line_names_phase_job_progress_retries_and_next_check() -> None:
    text = describe({"phase": "tracking", "jobStatus": "InProgress", "progress": 42.4, "retries": 2,
                     "nextCheck": "2026-11-01T02:00:30Z"})
    assert text == "tracking  job InProgress  42%  retries 2  next check 2026-11-01T02:00:30Z"
    assert describe({}) == "starting"
