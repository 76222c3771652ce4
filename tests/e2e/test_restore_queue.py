"""The restore-requests queue: requests and alerts start restores; nothing is ever lost."""

from __future__ import annotations

from typing import Any

from devhost.azurite import Azurite
from pgflex_restore.alerts import parse_alert
from tests.e2e.stack import instance_id, running_stack, server_id


def alert(condition: str = "Fired", server: str = "pg1", alert_guid: str = "6f1c2a40-aaaa") -> dict[str, Any]:
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {"essentials": {
            "alertId": f"/subscriptions/x/providers/Microsoft.AlertsManagement/alerts/{alert_guid}",
            "alertRule": "pg-cpu-high", "severity": "Sev1", "signalType": "Metric",
            "monitorCondition": condition, "monitoringService": "Platform",
            "alertTargetIDs": [server_id(server).lower()],
            "firedDateTime": "2026-11-01T05:00:00.000Z",
        }, "alertContext": {}},
    }


def test_queued_request_starts_a_restore(azurite: Azurite) -> None:
    """A restore request on the queue runs exactly like one sent over HTTP."""
    with running_stack(azurite) as stack:
        stack.send_queue_message(stack.request_body(requestId="from-queue"))
        stack.wait_until(lambda: stack.instance("restore-from-queue") is not None)
        state = stack.host.wait_for("restore-from-queue", timeout=60)
        assert state.output["status"] == "succeeded", state.output
        assert state.output["origin"]["via"] == "queue"


def test_alert_restores_the_servers_newest_point_before_it_fired_once(azurite: Azurite) -> None:
    """An alert maps its server to the backup instance; a second delivery of the same alert starts nothing."""
    with running_stack(azurite) as stack:
        restore_id = parse_alert(alert()).restore_id
        assert restore_id.startswith("alert-6f1c2a40-aaaa-")
        stack.send_queue_message(alert())
        stack.wait_until(lambda: stack.instance(restore_id) is not None)
        state = stack.host.wait_for(restore_id, timeout=60)
        result = state.output
        assert result["status"] == "succeeded", result
        assert result["backupInstance"] == instance_id("pg1")
        assert result["recoveryPoint"]["id"] == "rp-0"  # newest point (04:00) before the 05:00 firing
        assert result["target"]["filePrefix"].startswith("alert-pg-cpu-high-")
        stack.send_queue_message(alert())
        stack.wait_until(lambda: len(stack.queue_messages(f"{stack.queue}-duplicates")) == 1, timeout=30)
        assert len(stack.arm_requests("POST", "/restore")) == 1
        restores = [i.instance_id for i in stack.host.instances() if not i.instance_id.endswith(":job")]
        assert restores == [restore_id]
        duplicate = stack.queue_messages(f"{stack.queue}-duplicates")[0]  # kept, with the restore it matched
        assert duplicate["instanceId"] == restore_id and duplicate["runtimeStatus"] == "Completed"
        assert duplicate["original"] and "already exists" in duplicate["reason"]


def test_resolved_alert_starts_nothing(azurite: Azurite) -> None:
    """A Resolved alert is acknowledged without a restore or a rejection."""
    with running_stack(azurite) as stack:
        stack.send_queue_message(alert("Resolved"))
        stack.wait_until(stack.queue_drained, timeout=30)
        assert stack.host.instances() == []
        assert stack.queue_messages(f"{stack.queue}-rejected") == []


def test_messages_that_can_never_succeed_are_kept_with_their_reason(azurite: Azurite) -> None:
    """Bad JSON, invalid fields and an alert for an unprotected server go to <queue>-rejected, original kept."""
    with running_stack(azurite) as stack:
        stack.send_queue_message("{not json")
        stack.send_queue_message({"backupInstance": "nope", "target": {"containerUrl": stack.container_url}})
        stack.send_queue_message(alert(server="unprotected", alert_guid="bbbb"))
        stack.wait_until(lambda: len(stack.queue_messages(f"{stack.queue}-rejected")) == 3, timeout=30)
        rejected = stack.queue_messages(f"{stack.queue}-rejected")
        reasons = " | ".join(r["reason"] for r in rejected)
        assert "message: is not valid JSON" in reasons
        assert "RESTORE_VAULTS" in reasons
        assert sorted(e["field"] for r in rejected for e in r["errors"]) == ["backupInstance", "message"]
        assert {r["original"] for r in rejected} >= {"{not json"}
        assert stack.host.instances() == []
        assert stack.queue_messages(f"{stack.queue}-poison") == []


def test_transient_failures_are_retried_then_poisoned(azurite: Azurite) -> None:
    """ARM unavailable while mapping an alert: the queue retries it, then moves it to <queue>-poison."""
    with running_stack(azurite) as stack:
        stack.emulator.inject_fault("status", count=100, status=503, path="/backupInstances$")
        stack.host.settings.visibility_timeout = 1  # host.json waits 30 s between retries; not in a test
        stack.send_queue_message(alert(alert_guid="cccc"))
        stack.wait_until(lambda: len(stack.queue_messages(f"{stack.queue}-poison")) == 1, timeout=60)
        poisoned = stack.queue_messages(f"{stack.queue}-poison")[0]
        assert poisoned["data"]["essentials"]["alertId"].endswith("cccc")
        assert stack.queue_messages(f"{stack.queue}-rejected") == []
        assert stack.host.instances() == []
