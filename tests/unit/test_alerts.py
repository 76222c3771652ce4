"""Alerts in the common alert schema map to one restore of the protected server."""

import hashlib
from datetime import UTC, datetime

import pytest

from pgflex_restore.alerts import (
    AlertError,
    alert_restore_request,
    is_alert,
    match_backup_instance,
    parse_alert,
)

SERVER = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"
BI = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v/backupInstances/pg1-bi"


def alert(condition: str = "Fired", targets: list[str] | None = None) -> dict:
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": "/subscriptions/s1/providers/Microsoft.AlertsManagement/alerts/1B2C-33dd",
                "alertRule": "PG High CPU",
                "severity": "Sev2",
                "signalType": "Metric",
                "monitorCondition": condition,
                "alertTargetIDs": targets if targets is not None else [SERVER.lower()],
                "firedDateTime": "2026-11-20T02:13:45.123Z",
            },
            "alertContext": {},
        },
    }


def test_fired_alert_parses_with_utc_time_and_stable_names() -> None:
    """The alert's id, rule and firing time become the restore's id, prefix and 'before' time."""
    parsed = parse_alert(alert())
    assert parsed.fired_at == datetime(2026, 11, 20, 2, 13, 45, 123000, tzinfo=UTC)
    assert not parsed.is_resolved
    digest = hashlib.sha256(parsed.alert_id.encode()).hexdigest()
    assert parsed.restore_id == f"alert-1b2c-33dd-{digest[:12]}"
    assert parsed.file_prefix == f"alert-pg-high-cpu-1b2c-33dd-{digest[:8]}"
    request = alert_restore_request(parsed, BI, "https://acct.blob.core.windows.net/alerts")
    assert request["before"] == "2026-11-20T02:13:45.123000Z"
    assert request["requestId"] == parsed.restore_id
    assert request["target"] == {"containerUrl": "https://acct.blob.core.windows.net/alerts",
                                 "filePrefix": parsed.file_prefix}


def test_alert_ids_that_read_alike_name_different_restores() -> None:
    """``A_B`` and ``a-b`` have the same readable part; each still gets its own instance and file prefix."""
    payloads = [alert(), alert()]
    for payload, tail in zip(payloads, ("A_B", "a-b"), strict=True):
        essentials = payload["data"]["essentials"]
        essentials["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{tail}"
    first, second = (parse_alert(p) for p in payloads)
    assert first.restore_id != second.restore_id and first.file_prefix != second.file_prefix
    assert first.restore_id.startswith("alert-a-b-") and second.restore_id.startswith("alert-a-b-")


def test_resolved_alert_is_recognised() -> None:
    """A Resolved alert is an alert, but it starts nothing."""
    assert parse_alert(alert("Resolved")).is_resolved


def test_is_alert_tells_alerts_from_restore_requests() -> None:
    """Restore requests and alerts share one queue; the schema id or essentials block tells them apart."""
    assert is_alert(alert())
    assert not is_alert({"backupInstance": BI})
    assert not is_alert(["not", "a", "dict"])


def test_broken_alert_lists_every_problem() -> None:
    """Every missing field is named at once, so the rejected message says what to fix."""
    broken = {"data": {"essentials": {"monitorCondition": "Maybe", "firedDateTime": "yesterday"}}}
    with pytest.raises(AlertError) as caught:
        parse_alert(broken)
    text = str(caught.value)
    for field in ("alertId", "alertTargetIDs", "monitorCondition", "firedDateTime"):
        assert field in text
    with pytest.raises(AlertError, match="essentials"):
        parse_alert({"data": {}})


def test_server_matches_backup_instance_case_insensitively() -> None:
    """ARM ids differ in case between Azure Monitor and Azure Backup; the match must not care."""
    parsed = parse_alert(alert())
    other = ("/x/backupInstances/other", SERVER.replace("pg1", "pg2"))
    assert match_backup_instance(parsed.flexible_server_ids(), [other, (BI, SERVER)]) == BI


def test_unknown_server_is_a_permanent_error_naming_the_setting() -> None:
    """An alert for an unprotected server can never succeed; the message says where to look."""
    parsed = parse_alert(alert(targets=["/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/vm/x"]))
    assert parsed.flexible_server_ids() == []
    with pytest.raises(AlertError, match="RESTORE_VAULTS"):
        match_backup_instance(parsed.flexible_server_ids(), [(BI, SERVER)])
