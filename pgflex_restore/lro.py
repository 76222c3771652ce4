"""Handles of the long-running operations validateRestore and restore, and of each poll of them.

The client returns these instead of polling: the orchestrator owns every wait, so it needs the exact URLs and
the Retry-After the service sent. Each is JSON-able because it is the continuation token of a restore.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .parsing import OperationStatus


def _opt(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


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
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AsyncOperation:
        """Inverse of to_dict."""
        return cls(
            status_url=_opt(data, "status_url"),
            result_url=_opt(data, "result_url"),
            retry_after=_opt(data, "retry_after"),
            job_id=_opt(data, "job_id"),
            done=bool(data.get("done", False)),
            request_id=_opt(data, "request_id"),
            correlation_id=_opt(data, "correlation_id"),
        )


@dataclass(frozen=True)
class OperationPoll:
    """One GET of the Azure-AsyncOperation URL."""

    status: OperationStatus
    retry_after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"status": self.status.to_dict(), "retry_after": self.retry_after}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperationPoll:
        """Inverse of to_dict."""
        return cls(OperationStatus.from_dict(data["status"]), _opt(data, "retry_after"))


@dataclass(frozen=True)
class OperationResultPoll:
    """One GET of the Location URL: 202 while running, 200 (with a job id) or 204 when done."""

    done: bool
    job_id: str | None = None
    retry_after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperationResultPoll:
        """Inverse of to_dict."""
        return cls(bool(data.get("done", False)), _opt(data, "job_id"), _opt(data, "retry_after"))
