"""Queue starter: restore requests and Azure Monitor alerts arrive on one queue (RESTORE_REQUESTS_QUEUE).

Nothing is lost: a message that can never succeed (not JSON, invalid fields, an alert for an unprotected server)
is copied to ``<queue>-rejected`` with the reason beside the original text, one that maps to a restore that
exists already to ``<queue>-duplicates`` with the instance it matched (triggers/kept.py), and then
acknowledged. Only transient failures raise, so the Functions runtime retries the message and finally moves it
to ``<queue>-poison``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from clients import arm_client
from pgflex_restore.alerts import (
    Alert,
    AlertError,
    alert_restore_request,
    is_alert,
    match_backup_instance,
    parse_alert,
)
from pgflex_restore.errors import ConfigurationError, DataProtectionError, FieldError, RequestValidationError
from pgflex_restore.inputs import read_document
from pgflex_restore.settings import Settings, get_settings
from triggers._start import existing_status, plan_restore, runtime_name, start_once
from triggers.kept import keep

log = logging.getLogger(__name__)

bp = df.Blueprint()


class Rejected(Exception):
    """The message can never succeed; ``details`` lists field errors when there are any."""

    def __init__(self, reason: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.details = details or []


def reject(settings: Settings, msg: func.QueueMessage, text: str, rejected: Rejected) -> None:
    """Keep the message with its reason in the rejected queue, so an operator can fix and resend it."""
    keep(settings.restore_requests_queue, "rejected", msg, text,
         {"reason": str(rejected), "errors": rejected.details})
    log.warning("rejected queue message %s: %s", msg.id, str(rejected)[:500])


def record_duplicate(settings: Settings, msg: func.QueueMessage, text: str, instance_id: str,
                     runtime_status: str | None) -> None:
    """A message for a restore that exists already starts nothing; it is kept beside the instance it matched."""
    keep(settings.restore_requests_queue, "duplicates", msg, text, {
        "reason": f"restore {instance_id} already exists ({runtime_status}); this message started nothing",
        "instanceId": instance_id, "runtimeStatus": runtime_status})
    log.info("queue message %s is a duplicate of %s (%s)", msg.id, instance_id, runtime_status)


def _alert_request(settings: Settings, alert: Alert) -> dict[str, Any]:
    """The restore request a fired alert asks for (blocking: lists backup instances in the configured vaults)."""
    if not settings.alert_restore_target:
        raise Rejected("alerts cannot start restores: ALERT_RESTORE_TARGET (a container URL) is not set")
    servers = alert.flexible_server_ids()
    if not servers:
        raise Rejected("the alert names no PostgreSQL flexible server in alertTargetIDs")
    client, _ = arm_client(settings)
    pairs: list[tuple[str, str]] = []
    for vault in settings.restore_vaults:
        try:
            instances = client.list_backup_instances(vault)
        except DataProtectionError as exc:
            if exc.retryable:
                raise  # the queue retries the message
            raise Rejected(f"cannot list backup instances of {vault}: {exc}") from exc
        pairs += [(i.arm_id, i.datasource_resource_id or "") for i in instances]
    try:
        instance = match_backup_instance(servers, pairs)
    except AlertError as exc:
        raise Rejected(str(exc)) from exc
    return alert_restore_request(alert, instance, settings.alert_restore_target)


@bp.queue_trigger(arg_name="msg", queue_name="%RESTORE_REQUESTS_QUEUE%", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def restore_request_queue(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    settings = get_settings()
    body = msg.get_body()
    text = body.decode("utf-8", errors="replace")
    try:
        try:
            data = read_document(body, "message")
        except RequestValidationError as exc:
            raise Rejected(str(exc), exc.to_dict()["error"]["details"]) from exc
        if not isinstance(data, dict):
            raise Rejected("the message must be a JSON object: a restore request or an Azure Monitor alert",
                           [FieldError("message", "must be a JSON object", "type").to_dict()])
        origin: dict[str, Any] = {"via": "queue", "messageId": msg.id}
        instance_id: str | None = None
        if is_alert(data):
            try:
                alert = parse_alert(data)
            except AlertError as exc:
                raise Rejected(f"invalid alert: {exc}",
                               [FieldError("data.essentials", str(exc)).to_dict()]) from exc
            if alert.is_resolved:
                log.info("alert %s is Resolved: nothing to restore", alert.alert_id)
                return
            found = await existing_status(client, alert.restore_id)
            if found is not None:
                await asyncio.to_thread(record_duplicate, settings, msg, text, alert.restore_id, runtime_name(found))
                return
            wire = await asyncio.to_thread(_alert_request, settings, alert)
            instance_id, origin["alert"] = alert.restore_id, alert.alert_id
        else:
            wire = data
        try:
            plan = plan_restore(wire, settings, f"queue-{msg.id}", origin, instance_id=instance_id)
        except RequestValidationError as exc:
            raise Rejected(str(exc), list(exc.to_dict()["error"].get("details", []))) from exc
        except ConfigurationError as exc:  # kept with its reason: resend it once the setting is fixed
            raise Rejected(f"configuration error: {exc}") from exc
        started = await start_once(client, plan)
        if not started.created:
            await asyncio.to_thread(record_duplicate, settings, msg, text, plan.restore_id, started.runtime_status)
            return
        log.info("queue message %s -> restore %s (started)", msg.id, plan.restore_id)
    except Rejected as rejected:
        await asyncio.to_thread(reject, settings, msg, text, rejected)

