"""Every error the core package raises, so callers can catch by meaning rather than by message.

::

    PgflexError
     ├── ConfigurationError          bad app settings (names the setting); raised at start-up
     ├── RequestValidationError      bad restore request; .errors lists every FieldError at once
     ├── NoRecoveryPointError        nothing qualifies for the requested point/time (permanent)
     ├── NotificationError           a notification was not delivered (never names its URL); .retryable
     └── DataProtectionError         talking to Microsoft.DataProtection failed; .retryable, .advice
          ├── TransportError         no HTTP response (connect/read timeout, dropped); .request_sent
          └── ApiError               an HTTP error response (CloudError body parsed)
               ├── AuthError         401 / 403
               ├── NotFoundError     404
               ├── ConflictError     409 (retryable only when another operation is in progress)
               ├── ThrottledError    429
               └── ServerError       5xx

DataProtectionError subclasses cross the Durable Functions boundary as plain dicts (``to_dict()`` in the activity);
the orchestrator reads those dicts (code, message, retryability, Retry-After) and never rebuilds the exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class PgflexError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(PgflexError):
    """One or more app settings are invalid; ``.setting`` is the first bad one, ``.problems`` all of them."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        if not problems:
            raise ValueError("ConfigurationError needs at least one problem")
        self.problems: dict[str, str] = dict(problems)
        self.setting: str = next(iter(self.problems))
        self.settings: tuple[str, ...] = tuple(self.problems)
        lines = "; ".join(f"{name}: {reason}" for name, reason in self.problems.items())
        super().__init__(f"invalid app settings: {lines}")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a restore request; ``path`` is dotted camelCase (``target.containerUrl``)."""

    path: str
    message: str
    code: str = "invalid"

    def __post_init__(self) -> None:
        # Bounded whatever the caller sent: a 10 MB key must not become a 10 MB error (or a too-large record).
        object.__setattr__(self, "path", _bounded(self.path, MAX_PATH_CHARS) or "request")
        object.__setattr__(self, "message", _bounded(self.message, MAX_MESSAGE_CHARS))

    def to_dict(self) -> dict[str, str]:
        """The wire form used in HTTP error bodies and rejected-message records."""
        return {"field": self.path, "message": self.message, "code": self.code}


TARGET_NOT_ALLOWED = "TargetNotAllowed"
MAX_PATH_CHARS, MAX_MESSAGE_CHARS = 120, 400
MAX_DETAILS = 20  # problems listed in one answer; the rest are counted
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _bounded(text: str, limit: int) -> str:
    """Printable and at most ``limit`` characters (cut ones end in '…')."""
    clean = _UNPRINTABLE.sub("?", text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


class RequestValidationError(PgflexError):
    """A restore request is invalid; carries every problem found, not just the first."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        if not errors:
            raise ValueError("RequestValidationError needs at least one FieldError")
        self.errors: list[FieldError] = list(errors)
        shown = self.errors[:MAX_DETAILS]
        summary = "; ".join(f"{e.path}: {e.message}" for e in shown[:3])
        more = len(self.errors) - min(3, len(shown))
        super().__init__(f"invalid request: {summary}" + (f" (and {more} more problems)" if more > 0 else ""))

    @property
    def target_not_allowed(self) -> bool:
        """True when the only problems are allowlist refusals (the HTTP layer answers 403, not 400)."""
        return all(e.code == TARGET_NOT_ALLOWED for e in self.errors)

    def to_dict(self) -> dict[str, Any]:
        """ARM-style error body so automation gets one familiar shape."""
        return {
            "error": {
                "code": "InvalidRequest",
                "message": str(self),
                "target": self.errors[0].path,
                "details": [e.to_dict() for e in self.errors[:MAX_DETAILS]],
                **({"omittedDetails": len(self.errors) - MAX_DETAILS} if len(self.errors) > MAX_DETAILS else {}),
            }
        }


class NoRecoveryPointError(PgflexError):
    """No recovery point matches the request; permanent until a new backup exists."""

    code = "NoRecoveryPoint"

    def to_dict(self) -> dict[str, Any]:
        """JSON form for activity results and HTTP bodies."""
        return {"type": type(self).__name__, "code": self.code, "message": str(self)}


class NotificationError(PgflexError):
    """A notification could not be sent or was refused. The text never holds the target's URL (a secret)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class DataProtectionError(PgflexError):
    """A call to Microsoft.DataProtection failed; says whether to retry and what a human should do."""

    def __init__(self, message: str, *, retryable: bool = False, advice: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.advice = advice

    @property
    def outcome_unknown(self) -> bool:
        """True when a POST may have taken effect despite the error (no answer, gateway timeout, 500).

        Before re-posting a restore after such an error, look for its job: restores must not run twice.
        """
        return False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for the durable boundary: what the orchestrator and the result record read."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "retryable": self.retryable,
            "advice": self.advice,
            "outcomeUnknown": self.outcome_unknown,
        }


class TransportError(DataProtectionError):
    """No HTTP response arrived. ``request_sent`` is False only when the server certainly never saw it."""

    def __init__(self, message: str, *, request_sent: bool, advice: str | None = None) -> None:
        super().__init__(
            message,
            retryable=True,
            advice=advice
            or "check that the Function App can reach the ARM endpoint (network, DNS, firewall); retry later",
        )
        self.request_sent = request_sent

    @property
    def outcome_unknown(self) -> bool:
        """The server may have received the request."""
        return self.request_sent

    def to_dict(self) -> dict[str, Any]:
        """Adds ``request_sent``: the orchestrator needs it to avoid posting a restore twice."""
        return {**super().to_dict(), "requestSent": self.request_sent}


class PacedError(DataProtectionError):
    """The call was not sent: the app's share of the subscription's ARM token bucket is spent for now.

    Retryable, and waited out like a 429 (never counted as a failure): ``retryAfter`` is when the slot reserved
    for this call comes, and ``reserved`` tells the next attempt that its first call has that slot.
    """

    def __init__(self, kind: str, subscription: str, wait_seconds: float) -> None:
        super().__init__(
            f"the ARM {kind} budget of subscription {subscription} is spent; this call's slot is in "
            f"{wait_seconds:.2f} s",
            retryable=True,
            advice="nothing to do: the call waits for the subscription's token bucket to refill",
        )
        self.wait_seconds = wait_seconds

    def to_dict(self) -> dict[str, Any]:
        """Shaped like a 429 answer's dict, with ``paced`` so nobody mistakes it for ARM's own throttling."""
        return {**super().to_dict(), "code": "PacedByTokenBucket", "paced": True, "reserved": True,
                "waitSeconds": round(self.wait_seconds, 3), "retryAfter": str(max(1, math.ceil(self.wait_seconds)))}


class ApiError(DataProtectionError):
    """An error response from ARM / Microsoft.DataProtection, with the service's own code and ids."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        details: Sequence[dict[str, Any]] = (),
        request_id: str | None = None,
        correlation_id: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.target = target
        self.details = list(details)
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.retry_after = retry_after
        super().__init__(
            message,
            retryable=is_retryable(status, code),
            advice=advice_for(status, code, message, self.details),
        )

    @property
    def outcome_unknown(self) -> bool:
        """408/500/502/504 can come from a gateway after the provider accepted the call; 429/503 cannot."""
        return self.status in _AMBIGUOUS_STATUSES

    def __str__(self) -> str:
        ids = f", correlation id {self.correlation_id}" if self.correlation_id else ""
        ids += f", request id {self.request_id}" if self.request_id else ""
        return f"{self.code or 'HTTP ' + str(self.status)}: {self.message} (HTTP {self.status}{ids})"

    def to_dict(self) -> dict[str, Any]:
        """Everything a support case needs, JSON-able."""
        return {
            **super().to_dict(),
            "status": self.status,
            "code": self.code,
            "target": self.target,
            "details": self.details,
            "requestId": self.request_id,
            "correlationId": self.correlation_id,
            "retryAfter": self.retry_after,
        }


class AuthError(ApiError):
    """401/403: the caller's identity or its role assignments are wrong."""


class NotFoundError(ApiError):
    """404: the vault, backup instance, recovery point or job does not exist (or is invisible to us)."""


class ConflictError(ApiError):
    """409: the request clashes with the resource's state (often another operation in progress)."""


class ThrottledError(ApiError):
    """429: ARM or the provider throttled us; wait for Retry-After."""


class ServerError(ApiError):
    """5xx: the service failed; usually transient."""


_API_CLASSES: dict[str, type[ApiError]] = {
    c.__name__: c for c in (ApiError, AuthError, NotFoundError, ConflictError, ThrottledError, ServerError)
}


def api_error_class(status: int) -> type[ApiError]:
    """The ApiError subclass for an HTTP status."""
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return ThrottledError
    if status >= 500:
        return ServerError
    return ApiError


_AMBIGUOUS_STATUSES = frozenset({408, 500, 502, 504})
_IN_PROGRESS_CODE = re.compile(r"anotheroperation|inprogress|retryable", re.IGNORECASE)


def is_retryable(status: int, code: str) -> bool:
    """408, 429 and 5xx are transient; a 409 only when its code says another operation is still running."""
    if status in (408, 429) or status >= 500:
        return True
    return status == 409 and bool(_IN_PROGRESS_CODE.search(code or ""))


_SCOPE = re.compile(r"scope '([^']+)'", re.IGNORECASE)
_STORAGE_SCOPE = re.compile(r"(/subscriptions/[^\s'\"]+?/providers/Microsoft\.Storage/storageAccounts/[^\s'\"/.,]+)",
                            re.IGNORECASE)
_STORAGE_ROLE = "Storage Blob Data Contributor"


def _all_text(message: str, details: Sequence[Mapping[str, Any]]) -> str:
    parts = [message]
    for d in details:
        parts.append(str(d.get("code", "")))
        parts.append(str(d.get("message", "")))
    return " ".join(parts)


def advice_for(status: int | None, code: str, message: str, details: Sequence[Mapping[str, Any]] = ()) -> str:
    """What a person should do about an error, naming the role and scope when the service says which.

    Public so the orchestration can advise on a Failed operation status (its ``error`` has the same shape).
    """
    text = _all_text(message, details)
    return (
        _permission_advice(status, code, message, text)
        or _status_advice(status, code)
        or _content_advice(text.lower())
    )


def _permission_advice(status: int | None, code: str, message: str, text: str) -> str | None:
    lowered = text.lower()
    if _STORAGE_ROLE.lower() in lowered or ("storage" in lowered and "permission" in lowered):
        found = _STORAGE_SCOPE.search(text)
        where = found.group(1) if found else "the target storage account"
        return (
            f"grant the Backup vault's managed identity the '{_STORAGE_ROLE}' role on {where}, "
            "then retry the restore"
        )
    if status == 401 or "expiredauthenticationtoken" in lowered or "invalidauthenticationtoken" in lowered:
        return "the ARM token was rejected; check the Function App's managed identity (AZURE_CLIENT_ID) and tenant"
    if status == 403 or code.lower() in ("authorizationfailed", "linkedauthorizationfailed"):
        found = _SCOPE.search(message)
        where = found.group(1) if found else "(the vault named in the request)"
        return f"grant the Function App's identity the Backup Operator role on the Backup vault {where}"
    return None


def _status_advice(status: int | None, code: str) -> str | None:
    if status == 404:
        return (
            "check the backup instance id (subscription, resource group, vault and instance names) and the "
            "recovery point or job id; the identity also needs read access to the vault"
        )
    if status == 409:
        if is_retryable(409, code):
            return "another operation is running on this backup instance; the restore will retry after it"
        return "the target already holds files with this prefix or the instance is busy; choose another filePrefix"
    if status == 429:
        return "ARM throttled the request; it is retried after Retry-After"
    if status is not None and (status >= 500 or status == 408):
        return (
            "the service failed transiently; the call is retried. If it persists, open a support case "
            "quoting the correlation id"
        )
    return None


def _content_advice(lowered: str) -> str:
    if "crosssubscription" in lowered:
        return "enable cross-subscription restore on the Backup vault, or restore into the vault's subscription"
    if "crosstenant" in lowered:
        return "set AllowCrossTenantReplication=true on the target storage account"
    return "fix the request as the service's message says; it will not succeed unchanged"
