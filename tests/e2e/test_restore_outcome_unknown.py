"""A restore accepted with an operation URL off ARM: never followed, and the record says the job may be running.

ARM's 202 to POST restore names the Azure-AsyncOperation URL to poll. When that URL is on another host, the app
must not send its ARM token there; the restore then cannot be followed, but its Azure job did start. The result
record must say so (code, jobMayBeRunning, how to find the job), not just "failed" with no job id.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from devhost.azurite import Azurite
from devhost.redelivery import Redelivery
from pgflex_restore.timeutil import parse_datetime
from tests.e2e.stack import RG, SUB, VAULT, running_stack, vault_id


class Listener:
    """A loopback port standing for a host off ARM: it records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.origin = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="off-arm-listener", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append(conn.recv(4096))
                except OSError:
                    self.connections.append(b"")


@contextmanager
def off_arm_listener() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()


def test_an_operation_url_off_arm_is_never_followed_and_the_record_says_the_job_may_be_running(
        azurite: Azurite) -> None:
    # This test is about the 202's answer reaching the orchestrator; an answer lost with its activity (the re-run
    # then finds its own job) is test_at_least_once's subject, so no delivery is lost here.
    no_loss = {"redelivery": Redelivery(activities=frozenset())}
    with off_arm_listener() as elsewhere, running_stack(azurite, host_options=no_loss) as stack:
        stack.emulator.inject_fault("foreign-operation-url", method="POST", path="/restore$", url=elsewhere.origin)
        result = stack.run(stack.request_body(requestId="off-arm"))

        assert result["status"] == "failed" and result["jobId"] is None
        error = result["error"]
        assert error["code"] == "RestoreOutcomeUnknown" and error["retryable"] is False
        assert error["cause"]["code"]  # what stopped it: the client's refusal, with a code
        assert "may be running" in error["message"] and "do not restore again" in error["advice"]
        assert result["restorePost"] == "accepted" and result["jobMayBeRunning"] is True

        hint = result["findJob"]
        assert hint["jobId"] is None and hint["vault"] == vault_id() and hint["backupInstance"] == "pg1"
        assert hint["containerUrl"] == stack.container_url and hint["filePrefix"] == "restored"
        assert hint["portal"].startswith(f"Backup center > Backup jobs: filter vault {VAULT}, operation Restore")
        assert hint["azCli"].startswith(
            f"az dataprotection job list --subscription {SUB} --resource-group {RG} --vault-name {VAULT} ")

        # The job did start in (emulated) Azure, at the time the hint names, and the hint's filters find it.
        posts = stack.arm_requests("POST", "/restore")
        assert len(posts) == 1 and posts[0]["status"] == 202
        posted_at = parse_datetime(hint["postedAt"])
        assert posted_at <= parse_datetime(posts[0]["time"]) <= posted_at + timedelta(seconds=5)
        jobs = stack.emulator.jobs()
        assert len(jobs) == 1 and jobs[0]["armId"].startswith(hint["vault"] + "/backupJobs/")

        # Never followed: nothing reached the host off ARM, and the operation's path was not asked of ARM either.
        assert result["restoreOperation"].startswith(elsewhere.origin + "/")
        assert elsewhere.connections == []
        operation_path = urlsplit(result["restoreOperation"]).path
        assert not [r for r in stack.emulator.requests if r["path"] == operation_path]

        # The status route shows the same record, and its progress the same code.
        shown = stack.get_restore("restore-off-arm")
        assert shown["result"] == result and shown["status"]["lastError"].startswith("RestoreOutcomeUnknown: ")
