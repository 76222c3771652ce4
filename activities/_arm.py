"""What every ARM activity shares: the JSON result envelope around one call with the shared ARM client.

Activities return ``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}`` instead of raising for service
errors, because the orchestrator only ever sees a failed activity as a plain text exception: a dict keeps the
ARM code, the correlation id and whether a retry can help. ``armCalls`` counts the HTTP requests each
activity sent, so the result record can report how polite a restore was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from clients import arm_client, load_arm_client, preflight_arm_client
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.errors import ConfigurationError, DataProtectionError, PacedError, PgflexError
from pgflex_restore.load_client import LoadClient
from pgflex_restore.preflight_client import PreflightClient
from pgflex_restore.settings import Settings, get_settings
from pgflex_restore.timeutil import parse_datetime

log = logging.getLogger(__name__)


_Client = TypeVar("_Client", bound=DataProtectionClient)


def run_arm(
    call: Callable[[DataProtectionClient, Settings], Mapping[str, Any]],
    payload: Mapping[str, Any] | None = None,
    *,
    resume: Callable[[], dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """Run one ARM interaction and wrap its outcome in the envelope the orchestrators expect.

    Service errors keep their ARM code and retryability; bad settings and bad input (ids, times, requests that no
    longer validate) are permanent. Only a real bug escapes as an exception (and is retried as a crash).
    ``payload["now"]`` (the orchestration's time, which ArmSteps adds) paces the calls to the subscription's
    token buckets; ``payload["reserved"]``: the first call's slot was reserved by the attempt before. After a
    retryable error, ``resume()`` is the progress to hand back to the next attempt.
    """
    return _run(arm_client, call, payload, resume)


def run_load_arm(call: Callable[[LoadClient, Settings], Mapping[str, Any]],
                 payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``run_arm`` for a load's calls (flexible server, loader job): the same envelope, pacing and counting."""
    return _run(load_arm_client, call, payload, None)


def run_preflight_arm(call: Callable[[PreflightClient, Settings], Mapping[str, Any]],
                      payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``run_arm`` for the pre-flight's reads: the same envelope, pacing and counting."""
    return _run(preflight_arm_client, call, payload, None)


def _run(
    make_client: Callable[..., tuple[_Client, Any]],
    call: Callable[[_Client, Settings], Mapping[str, Any]],
    payload: Mapping[str, Any] | None,
    resume: Callable[[], dict[str, Any] | None] | None,
) -> dict[str, Any]:
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        return {"ok": False, "error": permanent_error("ConfigurationError", str(exc)), "armCalls": 0}
    now = (payload or {}).get("now")
    client, counter = make_client(settings, now=parse_datetime(now) if isinstance(now, str) else None,
                                  reserved=bool((payload or {}).get("reserved")))
    try:
        result = dict(call(client, settings))
    except DataProtectionError as exc:
        # A call held back by the app's own pacing is not a failure: it waits its turn (PacedError's advice).
        log.log(logging.DEBUG if isinstance(exc, PacedError) else logging.WARNING, "ARM call failed: %s", exc)
        error = exc.to_dict()
        progress = resume() if resume is not None and exc.retryable else None
        if progress is not None:
            error["resume"] = progress
        return {"ok": False, "error": error, "armCalls": counter.sent}
    except (PgflexError, ValueError) as exc:
        code = str(getattr(exc, "code", "") or type(exc).__name__)
        return {"ok": False, "error": permanent_error(code, str(exc)), "armCalls": counter.sent}
    return {"ok": True, **result, "armCalls": counter.sent}


def permanent_error(code: str, message: str, advice: str = "") -> dict[str, Any]:
    """An error dict for failures that no retry can fix, shaped like DataProtectionError.to_dict()."""
    return {"type": "PermanentError", "code": code, "message": message, "advice": advice, "retryable": False}
