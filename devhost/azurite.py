"""Start and stop Azurite, the real Azure Storage emulator, on loopback ports it picks itself.

Tests, the devhost CLI and the demo all need Blob, Queue and Table storage; this is the one place that knows
how to launch Azurite from ``node_modules`` and turn its startup lines into a connection string.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Azurite's well-known development account: public, documented, and accepted by every Azure SDK.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at (http://\S+)")
_REPO_ROOT = Path(__file__).resolve().parent.parent


class AzuriteError(RuntimeError):
    """Azurite could not be found or did not start."""


@dataclass(frozen=True)
class AzuriteEndpoints:
    blob: str
    queue: str
    table: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob}/{ACCOUNT_NAME};QueueEndpoint={self.queue}/{ACCOUNT_NAME};"
            f"TableEndpoint={self.table}/{ACCOUNT_NAME};"
        )

    @property
    def blob_account_url(self) -> str:
        return f"{self.blob}/{ACCOUNT_NAME}"


def find_azurite() -> str:
    """The azurite executable: the project's node_modules first, then PATH."""
    local = _REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise AzuriteError("azurite not found: run `make setup` (or `npm install`) in the repository root")


class Azurite:
    """A running Azurite process with in-memory storage; stop() ends it."""

    def __init__(self, process: subprocess.Popen[str], endpoints: AzuriteEndpoints, workdir: str) -> None:
        self.process = process
        self.endpoints = endpoints
        self._workdir = workdir

    @property
    def connection_string(self) -> str:
        return self.endpoints.connection_string

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                # Azurite's graceful close waits for idle keep-alive connections; nothing persists, so do not wait long
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()  # the reader thread has seen the end of the output
        shutil.rmtree(self._workdir, ignore_errors=True)


def start_azurite(timeout: float = 30.0) -> Azurite:
    """Launch Azurite on free loopback ports and wait until all three services listen."""
    workdir = tempfile.mkdtemp(prefix="azurite-")
    argv = [
        find_azurite(),
        "--silent",
        "--inMemoryPersistence",  # nothing persists; cwd=workdir takes the debug/lock files
        "--skipApiVersionCheck",
        "--loose",
        "--blobHost", "127.0.0.1", "--blobPort", "0",
        "--queueHost", "127.0.0.1", "--queuePort", "0",
        "--tableHost", "127.0.0.1", "--tablePort", "0",
    ]
    process = subprocess.Popen(
        argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    found: dict[str, str] = {}
    ready = threading.Event()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = _LISTENING.search(line)
            if match:
                found[match.group(1).lower()] = match.group(2).rstrip("/")
                if len(found) == 3:
                    ready.set()
        ready.set()  # the process ended: wake the waiter so it can report

    threading.Thread(target=read, name="azurite-output", daemon=True).start()
    if not ready.wait(timeout) or len(found) != 3:
        process.kill()
        process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise AzuriteError("Azurite did not start:\n" + "".join(output[-20:]))
    return Azurite(process, AzuriteEndpoints(found["blob"], found["queue"], found["table"]), workdir)


@contextlib.contextmanager
def running_azurite(timeout: float = 30.0) -> Iterator[Azurite]:
    azurite = start_azurite(timeout)
    try:
        yield azurite
    finally:
        azurite.stop()
