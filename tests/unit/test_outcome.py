"""Every failure record says what is known and unknown about the Azure restore job (pgflex_restore/outcome.py).

One test per failure path of the restore orchestration, from the facts the orchestration has at that point.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgflex_restore.outcome import (
    ACCEPTED,
    NOT_ACCEPTED,
    UNKNOWN,
    JobFacts,
    find_job,
    outcome_fields,
    with_code,
)

SUB = "11111111-2222-3333-4444-555555555555"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/vault1"
BI = f"{VAULT}/backupInstances/pg1"
TARGET = "https://acct.blob.core.windows.net/restores"
JOB = f"{VAULT}/backupJobs/3c60cb49-63e8-4b21-b9bd-26277b3fdfae"
POSTED = "2026-11-01T06:01:00Z"
OFF_ARM = {"type": "DataProtectionError", "message": "refusing to send the ARM token to https://elsewhere.example",
           "retryable": False, "advice": "check ARM_ENDPOINT", "outcomeUnknown": False}


def facts(**changes: Any) -> JobFacts:
    return JobFacts(**{"backup_instance": BI, "container_url": TARGET, "file_prefix": "incident-42", **changes})


def test_a_failure_before_any_post_says_no_job_runs() -> None:
    """Listing points, validation, a refused restore POST: nothing was started, the ARM code stays."""
    error = {"code": "UserErrorMissingRequiredPermissions", "message": "no", "retryable": False}
    fields = outcome_fields("failed", error, facts())
    assert fields == {"error": error, "restorePost": NOT_ACCEPTED, "jobMayBeRunning": False, "findJob": None}


def test_a_deadline_before_any_post_says_no_job_runs() -> None:
    fields = outcome_fields("deadline_exceeded", {"code": "DeadlineExceeded", "message": "m"}, facts())
    assert fields["error"]["code"] == "DeadlineExceeded" and fields["jobMayBeRunning"] is False


@pytest.mark.parametrize(("error", "code"), [
    (OFF_ARM, "DataProtectionError"),
    ({"type": "TransportError", "message": "no answer", "requestSent": False}, "NoResponse"),
    ({"code": None, "message": "m"}, "UnknownError"),
    (None, "UnknownError"),
])
def test_a_failure_always_has_a_code_and_a_message(error: dict[str, Any] | None, code: str) -> None:
    found = with_code(error, "failed")
    assert found["code"] == code and found["message"] and found["retryable"] is False
    assert outcome_fields("load_failed", error, facts(post=ACCEPTED, job_id=JOB, ended=True))["error"]["code"] == code


def test_an_accepted_restore_whose_operation_cannot_be_followed_is_outcome_unknown() -> None:
    """The probe's case: 202, then a status URL off ARM. The job may be running; how to find it is spelled out."""
    fields = outcome_fields("failed", OFF_ARM, facts(post=ACCEPTED, posted_at=POSTED))
    error = fields["error"]
    assert error["code"] == "RestoreOutcomeUnknown" and error["retryable"] is False
    assert error["cause"]["code"] == "DataProtectionError" and "refusing" in error["cause"]["message"]
    assert "accepted the restore at 2026-11-01T06:01:00Z" in error["message"]
    assert "may be running" in error["message"] and "do not restore again" in error["advice"]
    assert fields["restorePost"] == ACCEPTED and fields["jobMayBeRunning"] is True
    hint = fields["findJob"]
    assert {k: hint[k] for k in ("jobId", "vault", "backupInstance", "containerUrl", "filePrefix", "postedAt")} == {
        "jobId": None, "vault": VAULT, "backupInstance": "pg1", "containerUrl": TARGET, "filePrefix": "incident-42",
        "postedAt": POSTED}
    assert hint["portal"].startswith("Backup center > Backup jobs: filter vault vault1, operation Restore")
    assert POSTED in hint["portal"] and "incident-42*" in hint["portal"]
    assert hint["azCli"].startswith(f"az dataprotection job list --subscription {SUB} --resource-group rg-backup "
                                    "--vault-name vault1 --query")
    assert hint["azCli"] in error["advice"]


@pytest.mark.parametrize("cause", [
    {"code": "GatewayTimeout", "message": "m", "status": 504, "outcomeUnknown": True, "correlationId": "c-1"},
    {"type": "TransportError", "message": "dropped after sending", "requestSent": True, "outcomeUnknown": True},
    {"code": "ActivityFailed", "message": "Activity function 'trigger_restore' failed", "crash": True},
    {"code": "InvalidRequest", "message": "a definite refusal after an ambiguous attempt", "status": 400},
])
def test_a_post_that_may_have_been_accepted_is_outcome_unknown(cause: dict[str, Any]) -> None:
    """No answer, a gateway error, a crash while posting, or a later refusal after any of them."""
    fields = outcome_fields("failed", cause, facts(post=UNKNOWN, posted_at=POSTED))
    error = fields["error"]
    assert error["code"] == "RestoreOutcomeUnknown" and fields["jobMayBeRunning"] is True
    assert "may have reached the service" in error["message"] and error["cause"]["code"]
    assert error.get("correlationId") == cause.get("correlationId")
    assert fields["restorePost"] == UNKNOWN and fields["findJob"]["postedAt"] == POSTED


@pytest.mark.parametrize("cause", [
    {"code": "NoJobId", "message": "the restore operation succeeded but no backup job was found"},
    {"code": "ResourceNotFound", "message": "operation gone", "status": 404},  # operation polling refused
    {"code": "InternalServerError", "message": "m", "status": 500, "retryable": True},  # polling gave up
    {"code": "OrchestrationFailed", "message": "the restore orchestration failed: KeyError: 'x'"},
])
def test_every_failure_after_an_accepted_post_without_a_job_id_is_outcome_unknown(cause: dict[str, Any]) -> None:
    fields = outcome_fields("failed", cause, facts(post=ACCEPTED, posted_at=POSTED))
    assert fields["error"]["code"] == "RestoreOutcomeUnknown" and fields["error"]["cause"] == {
        **cause, "retryable": cause.get("retryable", False)}
    assert fields["jobMayBeRunning"] is True and fields["findJob"]["jobId"] is None


def test_a_deadline_after_the_post_keeps_its_code_and_says_where_the_job_is() -> None:
    deadline = {"code": "DeadlineExceeded", "message": "the restore did not finish within 0:30:00"}
    fields = outcome_fields("deadline_exceeded", deadline, facts(post=ACCEPTED, posted_at=POSTED))
    assert fields["error"] == {**deadline, "retryable": False}
    assert fields["jobMayBeRunning"] is True and fields["findJob"]["postedAt"] == POSTED
    tracked = outcome_fields("deadline_exceeded", deadline, facts(post=ACCEPTED, posted_at=POSTED, job_id=JOB))
    assert tracked["jobMayBeRunning"] is True and tracked["findJob"]["jobId"] == JOB


@pytest.mark.parametrize("code", ["JobTrackingFailed", "AuthorizationFailed"])
def test_a_known_job_that_could_not_be_followed_keeps_its_code_and_names_the_job(code: str) -> None:
    """The tracker failed or reading the job failed for good: the job id is in the record and in findJob."""
    fields = outcome_fields("failed", {"code": code, "message": "m"}, facts(post=ACCEPTED, job_id=JOB))
    assert fields["error"]["code"] == code and fields["jobMayBeRunning"] is True
    hint = fields["findJob"]
    assert hint["jobId"] == JOB and hint["azCli"] == f"az dataprotection job show --ids {JOB}"
    assert hint["portal"] == "Backup center > Backup jobs: vault vault1, job 3c60cb49-63e8-4b21-b9bd-26277b3fdfae"


@pytest.mark.parametrize(("status", "code"), [("failed", "UserErrorRestoreFailed"), ("failed", "JobCancelled"),
                                              ("load_failed", "LoadRestoreFailed")])
def test_a_job_that_ended_runs_no_more(status: str, code: str) -> None:
    fields = outcome_fields(status, {"code": code, "message": "m"}, facts(post=ACCEPTED, job_id=JOB, ended=True))
    assert fields["error"]["code"] == code and fields["jobMayBeRunning"] is False and fields["findJob"] is None


def test_a_restore_operation_that_failed_leaves_no_job_running() -> None:
    error = {"code": "UserErrorStorageAccountPermissions", "message": "m"}
    fields = outcome_fields("failed", error, facts(post=ACCEPTED, posted_at=POSTED, ended=True))
    assert fields["error"]["code"] == "UserErrorStorageAccountPermissions" and fields["jobMayBeRunning"] is False


@pytest.mark.parametrize(("status", "post"), [("succeeded", ACCEPTED), ("loaded", ACCEPTED),
                                              ("validated", NOT_ACCEPTED)])
def test_a_success_has_no_error_and_no_running_job(status: str, post: str) -> None:
    fields = outcome_fields(status, None, facts(post=post, job_id=JOB if post == ACCEPTED else None,
                                                ended=post == ACCEPTED))
    assert fields == {"error": None, "restorePost": post, "jobMayBeRunning": False, "findJob": None}


def test_the_hint_survives_a_backup_instance_id_it_cannot_parse() -> None:
    hint = find_job(facts(backup_instance="not-an-arm-id", post=UNKNOWN))
    assert hint["vault"] is None and hint["backupInstance"] == "not-an-arm-id"
    assert "--resource-group <rg> --vault-name <vault>" in hint["azCli"]
    assert find_job(facts(post=ACCEPTED, job_id="odd/job"))["portal"].endswith("job odd/job")


def test_an_unknown_post_state_is_refused() -> None:
    with pytest.raises(ValueError, match="post must be one of"):
        facts(post="sent")


def test_the_cli_summary_says_the_job_may_be_running_and_how_to_find_it() -> None:
    from cli.restore import summary_text

    fields = outcome_fields("failed", OFF_ARM, facts(post=ACCEPTED, posted_at=POSTED))
    text = summary_text({"restoreId": "r1", "status": "failed", **fields})
    assert "error           : RestoreOutcomeUnknown: " in text
    assert "Azure job       : may still be running (restore POST accepted); find it with: az dataprotection" in text
    assert "Azure job" not in summary_text({"restoreId": "r1", "status": "failed",
                                            **outcome_fields("failed", OFF_ARM, facts())})
