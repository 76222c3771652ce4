"""ARM-shaped errors: api-version, routes, resources, bodies, and the service's restore rules."""

from __future__ import annotations

import pytest

from emulator import VirtualClock
from tests.emulator.emusupport import ARCHIVED_RP, BI_PATH, BV_PATH, SUB, Arm, restore_body

ARM_HEADERS = ("x-ms-request-id", "x-ms-correlation-request-id", "x-ms-routing-request-id")


def _error(answer: object) -> dict[str, str]:
    body = answer.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


def test_missing_and_unknown_api_versions(arm: Arm) -> None:
    missing = arm.session.get(f"{arm.server.url}{BV_PATH}/backupInstances",
                              headers={"Authorization": f"Bearer {arm.token}"})
    assert missing.status_code == 400
    assert _error(missing)["code"] == "MissingApiVersionParameter"
    wrong = arm.get(f"{BV_PATH}/backupInstances", api_version="2023-01-01")
    assert wrong.status_code == 400
    error = _error(wrong)
    assert error["code"] == "InvalidApiVersionParameter"
    assert "'2023-01-01' is invalid" in error["message"] and "2021-07-01" in error["message"]
    for name in ARM_HEADERS:
        assert wrong.headers[name]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x/providers/"
         "Microsoft.DataProtection/backupVaults/v/backupInstances", "SubscriptionNotFound"),
        (f"/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.DataProtection/backupVaults/v/backupInstances",
         "ResourceGroupNotFound"),
        (BV_PATH.replace("pg-vault", "other-vault") + "/backupInstances", "ResourceNotFound"),
        (f"{BV_PATH}/backupInstances/missing/recoveryPoints", "ResourceNotFound"),
        (f"{BI_PATH}/recoveryPoints/00000000-0000-0000-0000-000000000000", "ResourceNotFound"),
        (f"{BV_PATH}/backupJobs/00000000-0000-0000-0000-000000000000", "ResourceNotFound"),
        (f"{BV_PATH}/somethingElse", "NotFound"),
        (f"/subscriptions/{SUB}/providers/Microsoft.DataProtection/locations/westeurope/operationStatus/abc",
         "ResourceNotFound"),
    ],
)
def test_unknown_resources_and_routes_are_404(arm: Arm, path: str, code: str) -> None:
    answer = arm.get(path)
    assert answer.status_code == 404
    assert _error(answer)["code"] == code
    for name in ARM_HEADERS:
        assert answer.headers[name]


def test_wrong_method_is_405(arm: Arm) -> None:
    answer = arm.post(f"{BV_PATH}/backupInstances", json={})
    assert answer.status_code == 405
    assert _error(answer)["code"] == "MethodNotAllowed"


def test_malformed_json_is_400(arm: Arm) -> None:
    answer = arm.post(f"{BI_PATH}/restore", data=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert _error(answer)["code"] == "InvalidRequestContent"
    empty = arm.post(f"{BI_PATH}/restore", data=b"")
    assert empty.status_code == 400


@pytest.mark.parametrize("version", ["2021-07-01", "2026-06-01"])
@pytest.mark.parametrize(
    ("mutate", "target"),
    [
        (lambda b: b["restoreTargetInfo"]["targetDetails"].pop("filePrefix"),
         "restoreRequestObject.restoreTargetInfo.targetDetails.filePrefix"),
        (lambda b: b.pop("sourceDataStoreType"), "restoreRequestObject.sourceDataStoreType"),
        (lambda b: b["restoreTargetInfo"].update(objectType="Bogus"),
         "restoreRequestObject.restoreTargetInfo.objectType"),
        (lambda b: b["restoreTargetInfo"].update(recoveryOption="Overwrite"),
         "restoreRequestObject.restoreTargetInfo.recoveryOption"),
        (lambda b: b.pop("recoveryPointId"), "restoreRequestObject.recoveryPointId"),
        (lambda b: b["restoreTargetInfo"]["targetDetails"].update(url=5),
         "restoreRequestObject.restoreTargetInfo.targetDetails.url"),
    ],
)
def test_schema_violations_name_the_field(arm: Arm, version: str, mutate: object, target: str) -> None:
    body = restore_body("rp")
    mutate(body)  # type: ignore[operator]
    answer = arm.post(f"{BI_PATH}/validateRestore", api_version=version, json={"restoreRequestObject": body})
    assert answer.status_code == 400
    error = _error(answer)
    assert error["code"] == "UserErrorInvalidRequestParameter"
    assert error["target"] == target
    assert target in error["message"]
    unwrapped = arm.post(f"{BI_PATH}/restore", api_version=version, json=body)
    assert _error(unwrapped)["target"] == target.removeprefix("restoreRequestObject.")


def test_validate_body_must_be_wrapped(arm: Arm) -> None:
    answer = arm.post(f"{BI_PATH}/validateRestore", json=restore_body("rp"))
    assert answer.status_code == 400
    assert _error(answer)["target"] == "restoreRequestObject"


def _validate_error(arm: Arm, clock: VirtualClock, body: dict[str, object], instance_path: str = BI_PATH) -> dict:
    answer = arm.post(f"{instance_path}/validateRestore", json={"restoreRequestObject": body})
    assert answer.status_code == 202
    clock.advance(3600)
    status = arm.get(answer.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Failed"
    return status["error"]  # type: ignore[no-any-return]


def test_unknown_recovery_point_fails_validation(arm: Arm, clock: VirtualClock) -> None:
    error = _validate_error(arm, clock, restore_body("00000000-0000-0000-0000-00000000dead"))
    assert error["code"] == "UserErrorRecoveryPointNotFound"
    assert "00000000-0000-0000-0000-00000000dead" in error["message"]


def test_archive_only_point_needs_rehydration(arm: Arm, clock: VirtualClock) -> None:
    archive_path = f"{BV_PATH}/backupInstances/pg-archive"
    error = _validate_error(arm, clock, restore_body(ARCHIVED_RP), archive_path)
    assert error["code"] == "UserErrorRecoveryPointRehydrationRequired"
    rehydrate = {**restore_body(ARCHIVED_RP), "objectType": "AzureBackupRestoreWithRehydrationRequest",
                 "sourceDataStoreType": "ArchiveStore", "rehydrationPriority": "Standard",
                 "rehydrationRetentionDuration": "P10D"}
    answer = arm.post(f"{archive_path}/validateRestore", json={"restoreRequestObject": rehydrate})
    clock.advance(3600)
    assert arm.get(answer.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"


def test_target_without_the_blob_role_fails_with_a_permission_error(arm: Arm, clock: VirtualClock) -> None:
    url = "https://otheracct.blob.core.windows.net/restores"
    error = _validate_error(arm, clock, restore_body(arm.latest_rp(), url=url))
    assert error["code"] == "UserErrorMissingRequiredPermissions"
    assert "Storage Blob Data Contributor" in error["message"]
    assert "otheracct" in error["message"]


def test_time_based_restore_is_not_supported_for_flexible_servers(arm: Arm, clock: VirtualClock) -> None:
    body = {**restore_body("x"), "objectType": "AzureBackupRecoveryTimeBasedRestoreRequest",
            "recoveryPointTime": "2026-03-01T00:00:00Z"}
    body.pop("recoveryPointId")
    assert _validate_error(arm, clock, body)["code"] == "UserErrorRestoreTypeNotSupported"


def test_one_restore_at_a_time_per_backup_instance(arm: Arm, clock: VirtualClock) -> None:
    rp = arm.latest_rp()
    assert arm.post(f"{BI_PATH}/restore", json=restore_body(rp)).status_code == 202
    second = arm.post(f"{BI_PATH}/restore", json=restore_body(rp, prefix="other"))
    assert second.status_code == 409
    assert _error(second)["code"] == "UserErrorAnotherOperationInProgress"
    other_instance = arm.post(f"{BV_PATH}/backupInstances/pg-archive/restore", json=restore_body(ARCHIVED_RP))
    assert other_instance.status_code == 202  # the rule is per instance
    clock.advance(660)
    assert arm.post(f"{BI_PATH}/restore", json=restore_body(rp, prefix="again")).status_code == 202


def test_failed_restore_operation_creates_no_job(arm: Arm, clock: VirtualClock) -> None:
    answer = arm.post(f"{BI_PATH}/restore", json=restore_body("00000000-0000-0000-0000-00000000dead"))
    clock.advance(60)
    status = arm.get(answer.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Failed" and "properties" not in status
    assert arm.server.jobs() == []
