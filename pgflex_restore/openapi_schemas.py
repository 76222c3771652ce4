"""The OpenAPI document's schemas of restores: the request, the answers, the result record and the error bodies.

JSON Schema 2020-12 as OpenAPI 3.1 uses it (``type: [..., "null"]`` for a nullable value). Each schema says what
the code really sends or accepts (pgflex_restore/models.py, load_spec.py, triggers/http.py, orchestrations/
restore.py, outcome.py, progress.py): a field the parser treats as absent when null is nullable here, a key every
answer carries is required, and an object that is open-ended by design (the progress view, a load's report, an
ARM error) allows more keys than it lists. Constants come from the modules that enforce them.
"""

from __future__ import annotations

from typing import Any

from .errors import MAX_DETAILS, MAX_MESSAGE_CHARS, MAX_PATH_CHARS
from .load_spec import DEFAULT_JOBS, MAX_JOBS, MAX_NAME_BYTES
from .outcome import FAILURE_STATUSES, POST_STATES
from .progress import RESULT_STATUSES

Schema = dict[str, Any]

# The Durable Functions runtime statuses an instance can report (OrchestrationRuntimeStatus).
RUNTIME_STATUSES = ("Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated",
                    "Suspended")
PHASES = ("selecting", "preflight", "validating", "restoring", "tracking", "loading", "succeeded", "failed")
JOB_OUTCOMES = ("running", "succeeded", "succeeded_with_warnings", "failed", "cancelled")
EXAMPLE_INSTANCE = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-backup/providers/"
                    "Microsoft.DataProtection/backupVaults/vault1/backupInstances/pg1")
EXAMPLE_SERVER = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-db/providers/"
                  "Microsoft.DBforPostgreSQL/flexibleServers/pg-restored")


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (a ``$ref`` cannot take a type list, so it goes in an anyOf)."""
    if "$ref" in schema or "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    out = {**schema, "type": [*kinds, "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def string(description: str = "", **more: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **more}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), *, open_: bool = False,
        description: str = "", **more: Any) -> Schema:
    """An object schema; closed (``additionalProperties: false``) unless ``open_``."""
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if not open_:
        out["additionalProperties"] = False
    if description:
        out["description"] = description
    return {**out, **more}


COUNT = {"type": "integer", "minimum": 0}
DATE_TIME = string(format="date-time")
URI = string(format="uri")


def request_schemas() -> dict[str, Schema]:
    """The restore request (HTTP body and queue message): every field, as ``RestoreRequest.from_dict`` reads it."""
    return {
        "RestoreRequest": obj({
            "backupInstance": {"description": "the backup instance: its ARM id (case-insensitive segment names; a "
                                              "full management URL is accepted) or its four parts",
                               "oneOf": [string(minLength=1, examples=[EXAMPLE_INSTANCE]),
                                         ref("BackupInstanceParts")]},
            "recoveryPoint": nullable(string(
                "\"latest\" (the default; case-insensitive), a recovery point id, or the recovery point's ARM id "
                "(of this backup instance)", minLength=1, examples=["latest", "rp-3"])),
            "before": nullable(string("with recoveryPoint \"latest\" only: the newest point at or before this "
                                      "instant (ISO 8601)", format="date-time")),
            "target": ref("RestoreTarget"),
            "restoreLocation": nullable(string("target region, case-insensitive", pattern="^[A-Za-z][A-Za-z0-9]"
                                               "{1,49}$", examples=["westeurope"])),
            "dataStore": nullable(string("the store to restore from (case-insensitive); by default VaultStore when "
                                         "the point has a usable copy there, else ArchiveStore",
                                         enum=["VaultStore", "ArchiveStore"])),
            "rehydrationPriority": nullable(string("archive points only (case-insensitive)",
                                                   enum=["Standard", "High"], default="Standard")),
            "rehydrationRetentionDuration": nullable(string("archive points only: ISO 8601 duration, longer than "
                                                            "zero", format="duration", default="P15D")),
            "validateOnly": nullable({"type": "boolean", "default": False,
                                      "description": "true: validate the restore, start nothing"}),
            "requestId": nullable(string("your id for the request: the same id twice never starts two restores "
                                         "(the restore id is restore-<requestId>, ':' written '~')",
                                         pattern="^[A-Za-z0-9_.:-]{1,100}$", examples=["incident-42"])),
            "load": nullable(ref("LoadSpec")),
            "preflight": nullable({"type": "boolean", "default": True,
                                   "description": "check the target's known failure causes before validating "
                                                  "(docs/preflight.md); false: skip"}),
        }, ("backupInstance", "target"), description="a restore request; unknown fields are refused, every "
           "invalid field is reported at once; at most 64 KiB, no control characters in keys or strings"),
        "BackupInstanceParts": obj({k: string(minLength=1) for k in (
            "subscriptionId", "resourceGroup", "vaultName", "backupInstanceName")},
            ("subscriptionId", "resourceGroup", "vaultName", "backupInstanceName")),
        "RestoreTarget": obj({
            "containerUrl": string("the blob container the vault writes the files to: must be on "
                                   "RESTORE_TARGET_ALLOWLIST (else 403); no SAS", minLength=1),
            "filePrefix": nullable(string("prefix of the written files (default: the restore id)",
                                          pattern="^(?!.*//)(?!.*\\.\\./)[A-Za-z0-9][A-Za-z0-9_./-]{0,199}$")),
        }, ("containerUrl",)),
        "LoadSpec": obj({
            "server": string("the target flexible server's ARM id: must be on LOAD_TARGET_ALLOWLIST (else 403)",
                             minLength=1, examples=[EXAMPLE_SERVER]),
            "databases": nullable({"type": "object", "minProperties": 1,
                                   "description": "source database -> target database name (each 1 to "
                                                  f"{MAX_NAME_BYTES} UTF-8 bytes, no control characters, not a "
                                                  "reserved name, no two sources to one target); default: every "
                                                  "restored database under its own name",
                                   "propertyNames": {"minLength": 1},
                                   "additionalProperties": string(minLength=1)}),
            "onExists": nullable(string("fail: an existing target database stops the load; replace: drop and "
                                        "recreate it, only if this app created it (case-insensitive)",
                                        enum=["fail", "replace"], default="fail")),
            "roles": nullable(string("apply the restored roles, or skip them (case-insensitive)",
                                     enum=["apply", "skip"], default="apply")),
            "jobs": nullable({"type": "integer", "minimum": 1, "maximum": MAX_JOBS, "default": DEFAULT_JOBS,
                              "description": "parallel pg_restore jobs"}),
        }, ("server",), description="load the restored files into a flexible server and check them "
           "(docs/loading.md)"),
    }


def error_schemas() -> dict[str, Schema]:
    """ARM's error shape, as the app's own errors, its validation errors and ARM's errors passed on fill it."""
    detail = obj({"field": string(f"the field's dotted path (at most {MAX_PATH_CHARS} characters; 'request' for "
                                  "the whole document)", minLength=1),
                  "message": string(maxLength=MAX_MESSAGE_CHARS),
                  "code": string("invalid, required, type, unknown, conflict, TargetNotAllowed, controlCharacter, "
                                 "json, tooLarge, tooDeep, duplicateKey, encoding, ...", minLength=1)},
                 ("field", "message", "code"))
    return {
        "FieldError": detail,
        "Error": obj({"error": obj({"code": string(minLength=1), "message": string(),
                                    "target": string("the field or parameter the answer is about", minLength=1)},
                                   ("code", "message"))}, ("error",),
                     description="an error the app answers itself (ARM's shape)"),
        "ValidationError": obj({"error": obj({
            "code": string(const="InvalidRequest"), "message": string(),
            "target": string("the first invalid field", minLength=1),
            "details": {"type": "array", "items": ref("FieldError"), "minItems": 1, "maxItems": MAX_DETAILS},
            "omittedDetails": {"type": "integer", "minimum": 1,
                               "description": f"problems found beyond the {MAX_DETAILS} listed"},
        }, ("code", "message", "target", "details"))}, ("error",),
            description="every invalid field at once (403 when the only problems are allowlist refusals, "
                        "code TargetNotAllowed)"),
        "UpstreamError": obj({"error": obj({
            "code": string("ARM's code, or NoResponse (no answer), or the failure's kind", minLength=1),
            "message": string(), "target": string(const="backupInstance"),
            "type": string("the app's error class (NotFoundError, TransportError, ...)"),
            "status": {"type": "integer", "description": "ARM's HTTP status"},
            "details": {"type": "array", "items": {"type": "object"}, "description": "ARM's own error details"},
            "retryable": {"type": "boolean"}, "advice": string("what to do about it"),
            "outcomeUnknown": {"type": "boolean"}, "requestSent": {"type": "boolean"},
            "requestId": nullable(string()), "correlationId": nullable(string()), "retryAfter": nullable(string()),
        }, ("code", "message", "target", "type", "retryable", "advice", "outcomeUnknown"), open_=True)},
            ("error",), description="Microsoft.DataProtection refused or failed the call the app made for you"),
    }


def answer_schemas() -> dict[str, Schema]:
    """What POST/GET /api/restores... answer."""
    urls = {"restoreStatusUri": URI, "statusQueryGetUri": {**URI, "description": "the same as restoreStatusUri"},
            "cancelPostUri": URI}
    runtime = string("the Durable Functions runtime status (not the restore's outcome: read result.status)",
                     enum=list(RUNTIME_STATUSES))
    return {
        "RuntimeStatus": runtime,
        "RestoreStarted": obj({
            "restoreId": string(minLength=1), "created": {"type": "boolean", "description": "false: a restore "
                                                          "with this id exists already; nothing new started"},
            "runtimeStatus": ref("RuntimeStatus"), **urls,
            "message": string("only when created is false"),
        }, ("restoreId", "created", "runtimeStatus", *urls)),
        "RestoreStatus": obj({
            "restoreId": string(minLength=1), **urls, "runtimeStatus": ref("RuntimeStatus"),
            "createdTime": nullable(DATE_TIME), "lastUpdatedTime": nullable(DATE_TIME),
            "status": ref("Progress"),
            "result": nullable(ref("ResultRecord")),
            "output": {"type": ["string", "number", "boolean", "array", "null"],
                       "description": "the orchestration's output when it is not a result record (the reason of "
                                      "a terminated restore, a failure text); else null"},
        }, ("restoreId", *urls, "runtimeStatus", "createdTime", "lastUpdatedTime", "status", "result", "output")),
        "Progress": obj({
            "phase": string(enum=list(PHASES)), "restoreId": string(),
            "recoveryPoint": ref("PointSummary"), "jobId": string(), "jobStatus": nullable(string()),
            "progress": nullable({"type": "number", "description": "the job's percent done"}),
            "nextCheck": DATE_TIME, "retries": COUNT, "lastError": string(), "polls": COUNT, "generation": COUNT,
            "loadTarget": string(), "loadStep": string(), "loadJob": string(), "loadServer": string(),
            "execution": string(), "loadPolls": COUNT,
        }, open_=True, description="live progress: the restore's custom status merged with its job tracker's and "
                                   "its loader's; empty before the orchestration first ran"),
        "CancelAccepted": obj({
            "restoreId": string(minLength=1), "cancelled": {"const": True},
            "jobId": nullable(string("the Azure restore job, which this does NOT cancel")),
            "message": string(), "loadExecution": string("the loader execution that was stopped"),
        }, ("restoreId", "cancelled", "jobId", "message")),
        **record_schemas(),
        **point_schemas(),
    }


def point_schemas() -> dict[str, Schema]:
    """GET /api/recovery-points' items (``RecoveryPoint.to_dict``)."""
    nullable_text, nullable_time = nullable(string()), nullable(DATE_TIME)
    return {
        "RecoveryPoint": obj({
            "id": string("the recovery point's name: what a restore request's recoveryPoint takes", minLength=1),
            "armId": nullable_text, "time": DATE_TIME, "type": nullable_text,
            "stores": {"type": "array", "items": ref("DataStoreDetails")},
            "expiryTime": nullable_time, "state": nullable_text, "friendlyName": nullable_text,
        }, ("id", "armId", "time", "type", "stores", "expiryTime", "state", "friendlyName")),
        "DataStoreDetails": obj({
            "type": string("VaultStore, ArchiveStore, ...", minLength=1), "state": nullable_text,
            "visible": nullable({"type": "boolean"}), "creationTime": nullable_time, "expiryTime": nullable_time,
            "rehydrationStatus": nullable_text, "rehydrationExpiryTime": nullable_time,
        }, ("type", "state", "visible", "creationTime", "expiryTime", "rehydrationStatus",
            "rehydrationExpiryTime")),
    }


def record_schemas() -> dict[str, Schema]:
    """The result record (the restore orchestration's output): README, "result record"."""
    nullable_text = nullable(string())
    return {
        "ResultRecord": obj({
            "restoreId": string(minLength=1), "status": string(enum=sorted(RESULT_STATUSES)),
            "backupInstance": string(), "validateOnly": {"type": "boolean"},
            "recoveryPoint": nullable(ref("PointSummary")),
            "target": obj({"containerUrl": nullable_text, "filePrefix": nullable_text},
                          ("containerUrl", "filePrefix")),
            "validateOperation": nullable(string("the validateRestore operation's URL")),
            "validated": {"type": "boolean"},
            "restoreOperation": nullable(string("the restore operation's URL")),
            "jobId": nullable(string()), "job": nullable(ref("JobSummary")),
            "restorePost": string(enum=list(POST_STATES)), "jobMayBeRunning": {"type": "boolean"},
            "findJob": nullable(ref("FindJob")),
            "startedAt": DATE_TIME, "finishedAt": DATE_TIME, "armCalls": COUNT, "retries": COUNT,
            "origin": nullable({"type": "object", "description": "where the request came from (via: http, queue, "
                                                                 "alert, drill, cli, ...)"}),
            "error": nullable(ref("RecordError")),
            "phases": {"type": "object", "description": "per phase the restore went through (selecting, "
                       "validating, restoring, tracking, loading), back to back",
                       "additionalProperties": ref("PhaseTimes")},
            "notifications": {"type": "array", "items": ref("NotificationOutcome"),
                              "description": "with NOTIFY_TARGETS set: what became of each notification"},
            "preflight": nullable(ref("PreflightSummary")),
            "load": nullable({"type": "object", "description": "with a load section: the loader's record and "
                                                               "report (docs/loading.md)",
                              "properties": {"status": string(), "failedStep": nullable_text,
                                             "error": {"type": ["object", "null"]}}}),
        }, ("restoreId", "status", "backupInstance", "validateOnly", "recoveryPoint", "target", "validateOperation",
            "validated", "restoreOperation", "jobId", "job", "restorePost", "jobMayBeRunning", "findJob",
            "startedAt", "finishedAt", "armCalls", "retries", "origin", "error", "phases"),
            description="links everything about one finished restore; a failure record always has an error")
        | {"if": {"properties": {"status": {"enum": sorted(FAILURE_STATUSES)}}},
           "then": {"properties": {"error": ref("RecordError")}}},
        "PreflightSummary": obj({"findings": {"type": "array", "items": ref("Finding")},
                                 "blocking": COUNT, "warnings": COUNT},
                                ("findings", "blocking", "warnings"), description="the pre-flight's findings"),
        "Finding": obj({"code": string(minLength=1), "severity": string(enum=["blocking", "warning"]),
                        "resource": string(), "problem": string(), "fix": nullable(string())},
                       ("code", "severity", "resource", "problem", "fix"),
                       description="one pre-flight finding, with the command that fixes it"),
        "PhaseTimes": obj({"startedAt": DATE_TIME, "finishedAt": DATE_TIME, "durationSeconds": {"type": "number"}},
                          ("startedAt", "finishedAt", "durationSeconds")),
        "NotificationOutcome": obj({
            "target": nullable(string("type and host, never the URL")), "event": string(enum=["started", "ended"]),
            "delivered": {"type": "boolean"}, "attempts": COUNT, "status": nullable({"type": "integer"}),
            "error": nullable_text, "deliveryId": string(),
        }, ("target", "event", "delivered", "attempts"), open_=True),
        "PointSummary": obj({"id": nullable_text, "time": nullable(DATE_TIME), "store": nullable_text},
                            ("id", "time", "store")),
        "JobSummary": obj({"status": nullable_text, "outcome": nullable(string(enum=list(JOB_OUTCOMES))),
                           "startTime": nullable(DATE_TIME), "endTime": nullable(DATE_TIME),
                           "durationSeconds": nullable({"type": "number"}),
                           "progressPercent": nullable({"type": "number"})},
                          ("status", "outcome", "startTime", "endTime", "durationSeconds", "progressPercent")),
        "FindJob": obj({"jobId": nullable_text, "vault": nullable_text, "backupInstance": nullable_text,
                        "containerUrl": nullable_text, "filePrefix": nullable_text,
                        "postedAt": nullable(DATE_TIME), "portal": string(), "azCli": string()},
                       ("jobId", "vault", "backupInstance", "containerUrl", "filePrefix", "postedAt", "portal",
                        "azCli"), description="where the Azure restore job that may be running is"),
        "RecordError": obj({
            "code": string(minLength=1), "message": string(), "advice": string(), "retryable": {"type": "boolean"},
            "correlationId": nullable_text, "requestId": nullable_text,
            "cause": {"type": "object", "description": "RestoreOutcomeUnknown: the error that stopped the restore"},
        }, ("code", "message"), open_=True, description="ARM's code and ids, or one of the app's codes "
                                                        "(RestoreOutcomeUnknown, DeadlineExceeded, ...)"),
    }
