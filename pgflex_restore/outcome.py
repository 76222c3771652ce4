"""What a restore's result record says is known, and unknown, about its Azure restore job.

A restore that failed after its restore POST may have left a job running in Azure: the POST was accepted (202)
but its operation could not be followed, or the answer never came, or the app gave up or failed later. Retrying
blindly could then run two restores into one target, so every failure record says whether the job may be
running, its id when known, and otherwise where and how to find it. Pure: the orchestration gathers the facts
(``JobFacts``), this module turns them into the record's keys.

Codes this module adds (README, "result record"):

- ``RestoreOutcomeUnknown``: the restore POST was (or may have been) accepted, but no job id was learnt; the
  error that stopped the restore is kept as ``error.cause``.
- ``OrchestrationFailed``: the orchestration itself failed (a bug); the record still says what it knew.
- a code derived from the error's type (``NoResponse`` for a request that got no answer, else the type name, else
  ``UnknownError``) for failures that came without an ARM code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pgflex_restore.ids import ArmIdError, BackupInstanceId, job_guid

# What is known of the restore POST: not accepted (never sent, or refused with a clear answer: nothing started),
# unknown (sent without a clear answer: no answer, a gateway error, a crash while sending), or accepted
# (202/200, or this request's job was found).
NOT_ACCEPTED, UNKNOWN, ACCEPTED = "notAccepted", "unknown", "accepted"
POST_STATES = (NOT_ACCEPTED, UNKNOWN, ACCEPTED)

RESTORE_OUTCOME_UNKNOWN = "RestoreOutcomeUnknown"
ORCHESTRATION_FAILED = "OrchestrationFailed"
UNKNOWN_ERROR = "UnknownError"
DEADLINE_EXCEEDED = "DeadlineExceeded"

# Result statuses that carry an error (progress.RESULT_STATUSES minus the successes).
FAILURE_STATUSES = frozenset({"failed", "deadline_exceeded", "load_failed", "preflight_failed"})
_CODE_FOR_TYPE = {"TransportError": "NoResponse"}
_PORTAL_DATASOURCE = "Azure Database for PostgreSQL flexible servers"


@dataclass(frozen=True)
class JobFacts:
    """What the orchestration knows about the restore POST and its job when it finishes.

    ``posted_at``: the orchestration's time of the first restore POST that may have reached the service (ISO);
    ``ended``: the job (or the restore operation) reached a final state, so nothing of it runs any more.
    """

    backup_instance: str
    container_url: str | None = None
    file_prefix: str | None = None
    post: str = NOT_ACCEPTED
    posted_at: str | None = None
    job_id: str | None = None
    ended: bool = False

    def __post_init__(self) -> None:
        if self.post not in POST_STATES:
            raise ValueError(f"post must be one of {', '.join(POST_STATES)}, not {self.post!r}")

    @property
    def job_may_be_running(self) -> bool:
        """Something was (or may have been) started in Azure and nobody saw it end."""
        return self.post != NOT_ACCEPTED and not self.ended


def outcome_fields(status: str, error: Mapping[str, Any] | None, facts: JobFacts) -> dict[str, Any]:
    """The record's ``error``, ``restorePost``, ``jobMayBeRunning`` and ``findJob`` for a restore ending in
    ``status``. A failure always has an error with a code; one whose job may be running without a known id is
    ``RestoreOutcomeUnknown`` (the deadline keeps ``DeadlineExceeded``: its status already says what happened).
    """
    failed = status in FAILURE_STATUSES
    may_run = failed and facts.job_may_be_running
    found = with_code(error, status) if failed else (dict(error) if error else None)
    if found is not None and may_run and facts.job_id is None and found["code"] != DEADLINE_EXCEEDED:
        found = outcome_unknown_error(found, facts)
    return {"error": found, "restorePost": facts.post, "jobMayBeRunning": may_run,
            "findJob": find_job(facts) if may_run else None}


def with_code(error: Mapping[str, Any] | None, status: str) -> dict[str, Any]:
    """The error of a failed restore, never without a code or a message."""
    found = dict(error or {})
    if not found.get("code"):
        kind = str(found.get("type") or "")
        found["code"] = _CODE_FOR_TYPE.get(kind) or kind or UNKNOWN_ERROR
    if not found.get("message"):
        found["message"] = f"the restore ended {status} without an error message"
    found.setdefault("retryable", False)
    return found


def outcome_unknown_error(cause: Mapping[str, Any], facts: JobFacts) -> dict[str, Any]:
    """``RestoreOutcomeUnknown``: what stopped the restore (``cause``), what that leaves unknown, what to do."""
    when = f" at {facts.posted_at}" if facts.posted_at else ""
    stopped = f"{cause.get('code')}: {cause.get('message')}"
    if facts.post == ACCEPTED:
        what = f"the service accepted the restore{when}, but this app could not follow it to its job ({stopped})"
    else:
        what = f"the restore request sent{when} may have reached the service ({stopped}), and no job of it was found"
    hint = find_job(facts)
    error: dict[str, Any] = {
        "code": RESTORE_OUTCOME_UNKNOWN,
        "message": f"{what}; the Azure restore job may be running",
        "advice": f"do not restore again before looking for the job: {hint['portal']}; or {hint['azCli']}",
        "retryable": False,
        "cause": dict(cause),
    }
    for key in ("correlationId", "requestId"):
        if cause.get(key):
            error[key] = cause[key]
    return error


def find_job(facts: JobFacts) -> dict[str, Any]:
    """Where the restore's job is: the job itself when its id is known, else the vault, instance, target and
    time to filter Backup jobs by, as a portal path and an ``az`` command."""
    try:
        instance: BackupInstanceId | None = BackupInstanceId.parse(facts.backup_instance)
    except ArmIdError:
        instance = None
    vault = instance.vault if instance is not None else None
    hint: dict[str, Any] = {
        "jobId": facts.job_id,
        "vault": str(vault) if vault is not None else None,
        "backupInstance": instance.backup_instance_name if instance is not None else facts.backup_instance,
        "containerUrl": facts.container_url,
        "filePrefix": facts.file_prefix,
        "postedAt": facts.posted_at,
    }
    vault_name = vault.vault_name if vault is not None else "<vault>"
    if facts.job_id:
        hint["portal"] = f"Backup center > Backup jobs: vault {vault_name}, job {_guid(facts.job_id)}"
        hint["azCli"] = f"az dataprotection job show --ids {facts.job_id}"
        return hint
    since = f", from {facts.posted_at}" if facts.posted_at else ""
    hint["portal"] = (f"Backup center > Backup jobs: filter vault {vault_name}, operation Restore, datasource type "
                      f"{_PORTAL_DATASOURCE}{since}; the restore job of backup instance {hint['backupInstance']} "
                      f"started then or later, writing {facts.file_prefix or '<prefix>'}* into {facts.container_url}")
    where = (f"--subscription {vault.subscription_id} --resource-group {vault.resource_group} "
             f"--vault-name {vault.vault_name}") if vault is not None else "--resource-group <rg> --vault-name <vault>"
    hint["azCli"] = (f"az dataprotection job list {where} --query \"sort_by([?properties.operationCategory=='Restore']"
                     ", &properties.startTime)[].{job:id, instance:properties.backupInstanceFriendlyName, "
                     "started:properties.startTime, status:properties.status}\" --output table")
    return hint


def _guid(job_id: str) -> str:
    try:
        return job_guid(job_id)
    except ArmIdError:
        return job_id
