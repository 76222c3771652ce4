"""Azure Monitor alerts (common alert schema) -> restore requests.

An alert about a PostgreSQL flexible server should restore that server's newest backup taken at or before the
moment the alert fired. This module holds the pure part: reading the alert, deciding whether it starts anything,
and naming the restore so that the same alert delivered twice maps to the same instance id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .inputs import excerpt

COMMON_ALERT_SCHEMA_ID = "azureMonitorCommonAlertSchema"
FLEXIBLE_SERVER_TYPE = "microsoft.dbforpostgresql/flexibleservers"
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9-]+")


class AlertError(ValueError):
    """The message claims to be an alert but cannot be acted on; it will never succeed if retried."""


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule: str
    monitor_condition: str
    target_ids: tuple[str, ...]
    fired_at: datetime

    @property
    def is_resolved(self) -> bool:
        return self.monitor_condition.lower() == "resolved"

    @property
    def short_id(self) -> str:
        """The alert's GUID (the last segment of its ARM id), safe for instance ids and blob prefixes."""
        tail = self.alert_id.rstrip("/").rsplit("/", 1)[-1]
        return _UNSAFE_ID_CHARS.sub("-", tail).strip("-").lower()[:64] or "alert"

    @property
    def restore_id(self) -> str:
        """One restore per alert: the instance id every delivery of this alert maps to, and no other alert does.

        The readable part drops punctuation and case (``A_B`` and ``a-b`` read alike), so a digest of the exact
        alert id follows it: two alerts never share an instance, and a second one is never taken for a repeat.
        """
        return f"alert-{self.short_id[:48]}-{self.digest}"

    @property
    def digest(self) -> str:
        """12 hex digits of the exact alert id's SHA-256: what tells apart ids that read alike."""
        return hashlib.sha256(self.alert_id.encode("utf-8", errors="surrogatepass")).hexdigest()[:12]

    @property
    def file_prefix(self) -> str:
        rule = _UNSAFE_ID_CHARS.sub("-", self.rule).strip("-").lower()[:40] or "alert"
        return f"alert-{rule}-{self.short_id[:12]}-{self.digest[:8]}"

    def flexible_server_ids(self) -> list[str]:
        """Targets that are PostgreSQL flexible servers (alerts may name other resources too)."""
        return [t for t in self.target_ids if f"/providers/{FLEXIBLE_SERVER_TYPE}/" in t.lower()]


def is_alert(message: object) -> bool:
    """Common-alert-schema payloads carry schemaId and data.essentials; restore requests never do."""
    if not isinstance(message, Mapping):
        return False
    data = message.get("data")
    return message.get("schemaId") == COMMON_ALERT_SCHEMA_ID or (
        isinstance(data, Mapping) and isinstance(data.get("essentials"), Mapping)
    )


def parse_alert(message: Mapping[str, Any]) -> Alert:
    """Read the fields a restore needs from a common-alert-schema payload; AlertError names what is missing."""
    data = message.get("data")
    essentials = data.get("essentials") if isinstance(data, Mapping) else None
    if not isinstance(essentials, Mapping):
        raise AlertError("alert has no data.essentials: is it in the common alert schema?")
    problems: list[str] = []
    alert_id = essentials.get("alertId")
    if not isinstance(alert_id, str) or not alert_id:
        problems.append("data.essentials.alertId is missing")
    targets = essentials.get("alertTargetIDs")
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets) or not targets:
        problems.append("data.essentials.alertTargetIDs must be a non-empty list of resource ids")
    condition = essentials.get("monitorCondition")
    if condition not in ("Fired", "Resolved"):
        problems.append("data.essentials.monitorCondition must be 'Fired' or 'Resolved'")
    fired_raw = essentials.get("firedDateTime")
    fired_at: datetime | None = None
    if isinstance(fired_raw, str):
        fired_at = _parse_time(fired_raw)
    if fired_at is None:
        problems.append("data.essentials.firedDateTime must be an ISO 8601 time")
    if problems:
        raise AlertError("; ".join(problems))
    assert isinstance(alert_id, str) and isinstance(targets, list) and fired_at is not None
    rule = essentials.get("alertRule")
    return Alert(
        alert_id=alert_id,
        rule=rule if isinstance(rule, str) else "",
        monitor_condition=str(condition),
        target_ids=tuple(targets),
        fired_at=fired_at,
    )


def match_backup_instance(server_ids: Sequence[str], instances: Sequence[tuple[str, str]]) -> str:
    """The backup instance protecting one of the servers: instances are (backup instance id, server id) pairs.

    ARM ids are case-insensitive, so they are compared lower-cased.
    """
    wanted = {s.rstrip("/").lower() for s in server_ids}
    for instance_id, server_id in instances:
        if server_id.rstrip("/").lower() in wanted:
            return instance_id
    names = ", ".join(excerpt(s, 200) for s in server_ids[:5]) or "(none)"
    raise AlertError(
        f"no backup instance in the configured vaults (RESTORE_VAULTS) protects {names}; "
        "protect the server in a Backup vault listed there, or fix the alert rule's target"
    )


def alert_restore_request(alert: Alert, backup_instance_id: str, target_container_url: str) -> dict[str, Any]:
    """The restore request (wire format) an alert starts: the newest point at or before the firing time."""
    return {
        "backupInstance": backup_instance_id,
        "recoveryPoint": "latest",
        "before": alert.fired_at.isoformat().replace("+00:00", "Z"),
        "target": {"containerUrl": target_container_url, "filePrefix": alert.file_prefix},
        "requestId": alert.restore_id,
    }


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else None
