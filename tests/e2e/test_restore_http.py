"""A restore started over HTTP runs to the end against the emulator, on both api-versions and every selection."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from devhost.azurite import Azurite
from tests.e2e.stack import START, backup_instance, instance_id, points, running_stack

API_VERSIONS = ("2021-07-01", "2026-06-01")


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_latest_point_restores_and_files_land(azurite: Azurite, api_version: str) -> None:
    """Latest point -> validate -> restore -> job -> succeeded; the vault wrote the files; polite polling."""
    with running_stack(azurite, api_version=api_version) as stack:
        result = stack.run(stack.request_body())
        assert result["status"] == "succeeded", result
        assert result["recoveryPoint"]["id"] == "rp-0"
        assert result["recoveryPoint"]["store"] == "VaultStore"
        assert result["jobId"].lower().startswith("/subscriptions/")
        assert result["job"]["outcome"] == "succeeded"
        assert result["error"] is None
        files = stack.blobs()
        assert any(name.startswith("restored") and "appdb" in name for name in files), files
        assert all(size > 0 for size in files.values())
        # Every DataProtection request carried the configured api-version; the body was accepted by the
        # spec-checking emulator. The pre-flight's reads of the storage account and its role assignments carry
        # their own providers' api-versions; it found nothing to say.
        arm = stack.arm_requests()
        assert all(r["query"].get("api-version") == api_version for r in arm
                   if "/Microsoft.DataProtection/" in r["path"])
        assert {r["query"]["api-version"] for r in arm if "/Microsoft.DataProtection/" not in r["path"]} == {
            "2025-06-01", "2022-04-01"}
        assert result["preflight"] == {"findings": [], "blocking": 0, "warnings": 0}
        assert len(stack.arm_requests("POST", "/restore")) == 1  # also when the host re-ran trigger_restore
        if stack.reruns():
            return  # a lost outcome repeats that activity's requests: the exact counts below hold for one delivery
        assert len(stack.arm_requests("POST", "/validateRestore")) == 1
        # Validation takes 25 s with Retry-After 10, the restore 70 s with Retry-After 30: polled at the service's
        # cadence (10/20/30 s and 30/60/90 s), 3 + 3 status polls, never more.
        assert len(stack.arm_requests("GET", "operationStatus")) == 6
        # The job takes 600 s and is polled every 30 s (POLL_DEFAULT_SECONDS): about 21 GETs, never a storm.
        job_gets = len(stack.arm_requests("GET", "/backupJobs/"))
        assert 20 <= job_gets <= 23, job_gets
        assert result["armCalls"] == len(arm)


def test_point_by_id_and_before_time(azurite: Azurite) -> None:
    """recoveryPoint=<id> picks that point; before=<time> picks the newest at or before it."""
    with running_stack(azurite) as stack:
        by_id = stack.run(stack.request_body(recoveryPoint="rp-3", requestId="by-id"))
        assert by_id["status"] == "succeeded", by_id
        assert by_id["recoveryPoint"]["id"] == "rp-3"
        before = (START - timedelta(days=2)).isoformat()
        at_time = stack.run(stack.request_body(before=before, requestId="before",
                                               target={"containerUrl": stack.container_url, "filePrefix": "b"}))
        assert at_time["recoveryPoint"]["id"] == "rp-2", at_time


def test_archive_only_point_is_restored_with_rehydration(azurite: Azurite) -> None:
    """A point that only exists in ArchiveStore is restored with AzureBackupRestoreWithRehydrationRequest."""
    archived = backup_instance(recoveryPoints=points(2, stores=("ArchiveStore",)))
    with running_stack(azurite, {"pg1": archived}) as stack:
        result = stack.run(stack.request_body())
        assert result["status"] == "succeeded", result
        assert result["recoveryPoint"]["store"] == "ArchiveStore"
        posted = stack.arm_requests("POST", "/restore")[0]["body"]
        assert posted["objectType"] == "AzureBackupRestoreWithRehydrationRequest"
        assert posted["sourceDataStoreType"] == "ArchiveStore"
        assert posted["rehydrationPriority"] == "Standard"


def test_missing_role_fails_validation_with_advice(azurite: Azurite) -> None:
    """The vault identity lacks Storage Blob Data Contributor: without the pre-flight (which would stop it first,
    test_preflight.py) the restore fails at validation and says so."""
    with running_stack(azurite, grant_role=False) as stack:
        result = stack.run(stack.request_body(preflight=False))
        assert result["status"] == "failed"
        assert result["validated"] is False
        assert "Storage Blob Data Contributor" in (result["error"]["message"] + result["error"]["advice"])
        assert stack.arm_requests("POST", "/restore") == []


def test_job_failure_is_reported_with_the_service_error(azurite: Azurite) -> None:
    """The job fails at 40%: the result is failed and carries the job's error code."""
    failing = backup_instance(failures={"jobFailAtPercent": 40,
                                        "jobError": {"code": "UserErrorRestoreFailed", "message": "disk full"}})
    with running_stack(azurite, {"pg1": failing}) as stack:
        result = stack.run(stack.request_body())
        assert result["status"] == "failed"
        assert result["job"]["outcome"] == "failed"
        assert result["error"]["code"] == "UserErrorRestoreFailed"


def test_function_key_is_required(azurite: Azurite) -> None:
    """Without the function key the API answers 401 and starts nothing."""
    with running_stack(azurite) as stack:
        reply = requests.post(f"{stack.api}/restores", json=stack.request_body(), timeout=30)
        assert reply.status_code == 401
        assert stack.host.instances() == []


def test_bad_request_lists_every_field_and_allowlist_is_403(azurite: Azurite) -> None:
    """400 names every invalid field at once; a target off the allowlist is 403."""
    with running_stack(azurite) as stack:
        bad = stack.post_restore({"backupInstance": "nope", "target": {"containerUrl": "ftp://x"}, "extra": 1})
        assert bad.status_code == 400
        fields = {d["field"] for d in bad.json()["error"]["details"]}
        assert {"backupInstance", "extra"} <= fields and any(f.startswith("target") for f in fields)
        off_list = stack.post_restore(stack.request_body(
            target={"containerUrl": "https://other.blob.core.windows.net/elsewhere", "filePrefix": "x"}))
        assert off_list.status_code == 403
        assert off_list.json()["error"]["details"][0]["code"] == "TargetNotAllowed"
        assert stack.host.instances() == []


def test_recovery_points_route_lists_newest_first_and_filters_by_time(azurite: Azurite) -> None:
    """GET /api/recovery-points lets automation choose; before= keeps points at or before that time."""
    with running_stack(azurite) as stack:
        url = f"{stack.api}/recovery-points"
        every = requests.get(url, params={"backupInstance": instance_id("pg1")}, headers=stack.key, timeout=30)
        assert every.status_code == 200
        assert [p["id"] for p in every.json()["recoveryPoints"]] == ["rp-0", "rp-1", "rp-2", "rp-3", "rp-4"]
        before = (START - timedelta(days=2)).isoformat()
        older = requests.get(url, params={"backupInstance": instance_id("pg1"), "before": before},
                             headers=stack.key, timeout=30).json()
        assert [p["id"] for p in older["recoveryPoints"]] == ["rp-2", "rp-3", "rp-4"]
        missing = requests.get(url, headers=stack.key, timeout=30)
        assert missing.status_code == 400 and "backupInstance" in missing.json()["error"]["message"]
        bad_time = requests.get(url, params={"backupInstance": instance_id("pg1"), "before": "yesterday"},
                                headers=stack.key, timeout=30)
        assert bad_time.status_code == 400
        unknown = requests.get(url, params={"backupInstance": instance_id("ghost")}, headers=stack.key, timeout=30)
        assert unknown.status_code == 404


def test_validate_only_stops_after_validation(azurite: Azurite) -> None:
    """validateOnly: the restore is validated and nothing is triggered."""
    with running_stack(azurite) as stack:
        result = stack.run(stack.request_body(validateOnly=True))
        assert result["status"] == "validated"
        assert result["validated"] is True
        assert result["validateOperation"]
        assert stack.arm_requests("POST", "/restore") == []
        assert stack.get_restore(result["restoreId"])["status"]["phase"] == "succeeded"


def test_request_ids_never_collide_with_other_ids(azurite: Azurite) -> None:
    """'x' and 'restore-x' are two requests, and a caller's 'alert-...' id is not an alert's restore."""
    with running_stack(azurite) as stack:
        ids = [stack.post_restore(stack.request_body(requestId=rid, validateOnly=True)).json()["restoreId"]
               for rid in ("x", "restore-x", "alert-6f1c2a40-aaaa")]
        assert ids == ["restore-x", "restore-restore-x", "restore-alert-6f1c2a40-aaaa"]
        for restore_id in ids:
            assert stack.host.wait_for(restore_id, timeout=30).output["status"] == "validated"


MANAGEMENT_URLS = ("terminatePostUri", "restartPostUri", "purgeHistoryDeleteUri", "rewindPostUri", "sendEventPostUri",
                   "suspendPostUri", "resumePostUri")


def test_answers_give_the_restores_own_urls_never_the_hosts_management_keys(azurite: Azurite) -> None:
    """The durable management payload carries the system key; callers get only this restore's routes."""
    with running_stack(azurite) as stack:
        started = stack.post_restore(stack.request_body(requestId="urls"))
        assert started.status_code == 202
        body = started.json()
        own = f"{stack.api}/restores/{body['restoreId']}"
        assert body["restoreStatusUri"] == body["statusQueryGetUri"] == started.headers["Location"] == own
        assert body["cancelPostUri"] == f"{own}/cancel"
        status = requests.get(own, headers=stack.key, timeout=30)
        assert status.status_code == 200 and status.json()["cancelPostUri"] == f"{own}/cancel"
        for answer in (started.text, status.text):
            assert stack.host.system_key not in answer and "/runtime/webhooks/" not in answer
            assert not any(name in answer for name in MANAGEMENT_URLS)
        assert stack.host.wait_for(body["restoreId"], timeout=60).runtime_status == "Completed"
