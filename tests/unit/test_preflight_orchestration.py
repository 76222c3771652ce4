"""The restore orchestrator's pre-flight, driven directly: its reads come between choosing the point and
validating, a blocking finding ends the restore before any POST, warnings are recorded and the restore goes on, a
read that fails for good is a warning, and a throttled read waits out its Retry-After."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from activities.preflight import (
    PREFLIGHT_FIND_ACCOUNT,
    PREFLIGHT_GET_CONTAINER,
    PREFLIGHT_GET_INSTANCE,
    PREFLIGHT_GET_VAULT,
    PREFLIGHT_LIST_ROLES,
)
from pgflex_restore.models import RestoreRequest
from pgflex_restore.preflight_arm import BLOB_DATA_CONTRIBUTOR
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.settings import Settings
from tests.orchestration_driver import activities
from tests.unit.test_restore_orchestration import BI, NOW, TARGET, VAULT, failed, happy, run, timers

ACCOUNT_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct"
PRINCIPAL = "0f0e0d0c-0000-4000-8000-0000000000aa"
READS = [PREFLIGHT_GET_VAULT, PREFLIGHT_GET_INSTANCE, PREFLIGHT_FIND_ACCOUNT, PREFLIGHT_GET_CONTAINER,
         PREFLIGHT_LIST_ROLES]


def plan() -> dict[str, Any]:
    parsed = Settings.from_env({"RESTORE_TARGET_ALLOWLIST": TARGET, "MAX_TRANSIENT_RETRIES": "2"})
    request = RestoreRequest.from_dict({"backupInstance": BI, "target": {"containerUrl": TARGET, "filePrefix": "p"}},
                                       allowlist=parsed.restore_target_allowlist)
    assert request.preflight is True  # the default
    return RestorePlan.create("r1", request, parsed).to_dict()


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, "armCalls": 1, **fields}


def reads(*, replication: bool = True, roles: list[dict[str, Any]] | None = None,
          vault: list[dict[str, Any]] | None = None) -> dict[str, list[Any]]:
    account = {"id": ACCOUNT_ID, "name": "acct", "allowCrossTenantReplication": replication,
               "publicNetworkAccess": "Enabled", "defaultAction": "Allow", "bypass": []}
    granted = [{"scope": ACCOUNT_ID, "role": BLOB_DATA_CONTRIBUTOR, "principalId": PRINCIPAL}]
    return {
        PREFLIGHT_GET_VAULT: vault or [ok(vault={"id": VAULT, "principalId": PRINCIPAL, "identityType":
                                                "SystemAssigned", "crossSubscriptionRestore": "Enabled"})],
        PREFLIGHT_GET_INSTANCE: [ok(instance={"currentProtectionState": "ProtectionStopped"})],
        PREFLIGHT_FIND_ACCOUNT: [ok(account=account)],
        PREFLIGHT_GET_CONTAINER: [ok(exists=True)],
        PREFLIGHT_LIST_ROLES: [ok(assignments=granted if roles is None else roles)],
    }


def test_warnings_are_recorded_and_the_restore_goes_on() -> None:
    result, context = run({**happy(), **reads()}, plan_input=plan())
    assert result["status"] == "succeeded", result
    assert activities(context)[:7] == ["resolve_recovery_point", *READS, "validate_restore"]
    assert [f["code"] for f in result["preflight"]["findings"]] == ["ProtectionNotActive"]
    assert (result["preflight"]["blocking"], result["preflight"]["warnings"]) == (0, 1)
    assert result["armCalls"] == 6 + 5 + 3  # the restore's six calls, the pre-flight's five, the tracker's three
    assert context.status["preflight"] == {"blocking": 0, "warnings": 1}


def test_a_blocking_finding_ends_the_restore_before_anything_is_posted() -> None:
    answers = {"resolve_recovery_point": happy()["resolve_recovery_point"], **reads(replication=False, roles=[])}
    result, context = run(answers, plan_input=plan())
    assert result["status"] == "preflight_failed"
    assert activities(context) == ["resolve_recovery_point", *READS]  # no validateRestore, no restore
    assert result["error"]["code"] == "PreflightFailed" and result["error"]["retryable"] is False
    assert [f["code"] for f in result["preflight"]["findings"]] == [
        "CrossTenantReplicationDisabled", "VaultRoleMissing", "ProtectionNotActive"]
    assert (result["restorePost"], result["jobMayBeRunning"], result["findJob"]) == ("notAccepted", False, None)
    assert result["validated"] is False and context.status["phase"] == "failed"


def test_a_read_that_fails_for_good_is_a_warning_and_a_throttled_one_waits() -> None:
    """A 429 with Retry-After 40 is waited out on a durable timer; a permanent error becomes PreflightCheckFailed."""
    throttled = failed("TooManyRequests", status_code=429, retryable=True, retry_after="40")
    answers = {**happy(), **reads(vault=[throttled, failed("InvalidApiVersionParameter", status_code=400)])}
    answers.pop(PREFLIGHT_LIST_ROLES)  # without the vault the identity is unknown: no role read
    result, context = run(answers, plan_input=plan())
    assert result["status"] == "succeeded", result
    assert timers(context)[0] == NOW + timedelta(seconds=40)
    codes = [f["code"] for f in result["preflight"]["findings"]]
    assert codes == ["PreflightCheckFailed", "ProtectionNotActive"]
    assert result["retries"] == 1
