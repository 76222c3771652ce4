"""Activity: deliver one notification to one NOTIFY_TARGETS entry (one POST).

The input names the target by its index in the settings (with the digest the orchestration was given), never by
URL: activity inputs and outputs are kept in the orchestration history. The URL is read here, from the settings,
and nothing that leaves this function (result, log line) holds it. Never raises: a notification must not fail
what it reports on, so every failure comes back as ``{"delivered": false, ...}`` for the orchestrator's retries.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import azure.durable_functions as df

from activities.payload import Payload
from clients import app_credential
from pgflex_restore.errors import ConfigurationError, DataProtectionError, NotificationError
from pgflex_restore.notify.delivery import EVENTGRID_SCOPE, eventgrid_url, failure, outcome, post
from pgflex_restore.notify.notices import with_link_base
from pgflex_restore.notify.payloads import event_source, render
from pgflex_restore.notify.targets import NotifyTarget
from pgflex_restore.settings import Settings, get_settings

NOTIFY_DELIVER = "notify_deliver"
USER_AGENT = "pgflex-restore-notify/1"
ATTEMPT_HEADER = "Pgflex-Delivery-Attempt"

log = logging.getLogger(__name__)
bp = df.Blueprint()


def deliver(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: target (index), digest, label, attempt, notice. Output: delivered, status, retryable, retryAfter,
    error."""
    label = str(payload.get("label") or f"target {payload.get('target')}")
    notice = payload["notice"]
    try:
        settings = get_settings()
        target = _target(settings, payload)
        rendered = render(target.type, with_link_base(notice, settings.notify_link_base),
                          source=event_source(settings.notify_link_base, str(notice["kind"])))
        headers = {"Content-Type": rendered.content_type, "User-Agent": USER_AGENT,
                   # The same for every delivery of this event: receivers drop repeats (the host may re-run us).
                   "Idempotency-Key": str(notice["deliveryId"]),
                   # Which of the orchestrator's attempts this is (a re-run by the host repeats the number).
                   ATTEMPT_HEADER: str(payload.get("attempt") or 1)}
        url = target.url
        if target.type == "eventgrid":
            url = eventgrid_url(url)
            headers["Authorization"] = f"Bearer {_eventgrid_token(settings)}"
        body = json.dumps(rendered.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        result = outcome(post(url, body, headers), url)
    except NotificationError as exc:
        result = failure(exc)
    except ConfigurationError as exc:
        result = failure(NotificationError(f"the app settings are invalid ({', '.join(exc.settings)})",
                                           retryable=False))
    except Exception as exc:  # a bug must not fail the restore; its text might hold anything, so only its type
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f"{frame.filename}:{frame.lineno}" if frame else "?"
        log.error("notification to %s: unexpected %s at %s", label, type(exc).__name__, where)
        result = failure(NotificationError(f"unexpected {type(exc).__name__} while sending", retryable=True))
    level = logging.INFO if result["delivered"] else logging.WARNING
    log.log(level, "%s %s notification %s to %s: %s", notice.get("kind"), notice.get("event"), notice.get("id"),
            label, "delivered" if result["delivered"] else result["error"])
    return result


def _target(settings: Settings, payload: dict[str, Any]) -> NotifyTarget:
    """The entry at the payload's index, if it is still the one the orchestration was started with."""
    index = payload.get("target")
    targets = settings.notify_targets
    if not isinstance(index, int) or not 0 <= index < len(targets) or targets[index].digest != payload.get("digest"):
        raise NotificationError(f"NOTIFY_TARGETS changed since this started: entry {index} is no longer "
                                f"{payload.get('label')}", retryable=False)
    return targets[index]


def _eventgrid_token(settings: Settings) -> str:
    """A token for Event Grid from the app's identity (the role EventGrid Data Sender on the topic)."""
    try:
        token: str = app_credential(settings).get_token(EVENTGRID_SCOPE).token
    except DataProtectionError as exc:  # ManagedIdentityError: says whether a retry can help
        raise NotificationError(f"no Event Grid token from the managed identity: {exc.message}"[:300],
                                retryable=exc.retryable) from None
    except Exception as exc:  # azure-identity's errors (not on App Service)
        raise NotificationError(f"no Event Grid token: {type(exc).__name__}: {str(exc)[:200]}",
                                retryable=True) from None
    return token


@bp.activity_trigger(input_name="payload")
def notify_deliver(payload: Payload) -> dict[str, Any]:
    return deliver(payload)
