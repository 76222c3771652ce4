"""The commands' live progress line on stderr."""

from __future__ import annotations

import time
from typing import TextIO


class LiveLine:
    """One status line: rewritten in place on a terminal, one plain line per change otherwise (logs, pipes).

    Each line starts with the time since the command began, ``[mm:ss]``.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = ""
        self.width = 0

    def show(self, line: str) -> None:
        """Show `line` unless it is what the line already says."""
        if line == self.last:
            return
        self.last = line
        elapsed = int(time.monotonic() - self.started)
        text = f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {line}"
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = max(self.width, len(text))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove the line from a terminal (nothing to do for plain lines)."""
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
