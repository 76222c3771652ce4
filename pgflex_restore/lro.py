"""Handles of the long-running operations validateRestore and restore, and of each poll of them.

The client returns these instead of polling: the orchestrator owns every wait, so it needs the exact URLs and
the Retry-After the service sent. Each is JSON-able because it is the continuation token of a restore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .parsing import OperationStatus
from .wire import camel_case


@dataclass(frozen=True)
class AsyncOperation:
    """What a POST to validateRestore/restore answered.

    202: ``status_url`` (Azure-AsyncOperation) / ``result_url`` (Location) to poll, verbatim. 200: ``done`` with
    ``job_id`` from the OperationJobExtendedInfo body.
    """

    status_url: str | None
    result_url: str | None
    retry_after: str | None
    job_id: str | None
    done: bool
    request_id: str | None = None
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {camel_case(key): value for key, value in self.__dict__.items()}


@dataclass(frozen=True)
class OperationPoll:
    """One GET of the Azure-AsyncOperation URL."""

    status: OperationStatus
    retry_after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"status": self.status.to_dict(), "retryAfter": self.retry_after}


@dataclass(frozen=True)
class OperationResultPoll:
    """One GET of the Location URL: 202 while running, 200 (with a job id) or 204 when done."""

    done: bool
    job_id: str | None = None
    retry_after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {camel_case(key): value for key, value in self.__dict__.items()}
