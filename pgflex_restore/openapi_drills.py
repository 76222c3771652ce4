"""The OpenAPI document's schemas of the drills API (triggers/drills_http.py, docs/drills.md).

Drill records are read back from Table rows, where a record may have been trimmed to fit a row (``_trim`` keeps a
few keys) or, for a row without its JSON column, be the row's own columns; so a record requires only what every
form of it has, and lists the rest as optional. The evidence document is built by the app itself and is closed.
"""

from __future__ import annotations

from .drills.evidence import PHASES, SCHEMA
from .drills.records import FAILED, PASSED, SKIPPED
from .openapi_schemas import COUNT, DATE_TIME, Schema, nullable, obj, ref, string

NUMBER = {"type": "number"}
_TEXT = nullable(string())
_NUMBER = nullable(NUMBER)


def drill_schemas() -> dict[str, Schema]:
    """Run summaries, instance records, one run, and its evidence."""
    verdict = string(enum=[PASSED, FAILED, SKIPPED])
    return {
        "DrillRunList": obj({"count": COUNT, "runs": {"type": "array", "items": {
            "allOf": [ref("DrillRunSummary"), {"required": ["runId"]}]}}}, ("count", "runs"),
            description="recent runs, newest first"),
        "DrillRunSummary": obj({
            "runId": string(), "kind": string(const="summary"), "status": string(enum=[PASSED, FAILED]),
            "scheduledAt": DATE_TIME, "startedAt": DATE_TIME, "finishedAt": DATE_TIME,
            "total": COUNT, "passed": COUNT, "failed": COUNT, "skipped": COUNT,
            "failures": {"type": "array", "items": obj({"backupInstance": _TEXT, "server": _TEXT, "reason": _TEXT},
                                                       open_=True)},
            "cleanup": {"type": "object", "description": "the deletion of old drill files at the run's start"},
            "plan": {"type": "object", "description": "the plan's container, recoveryPoint, maxPointAge, "
                                                      "concurrency and retention"},
            "evidence": {"type": "object", "description": "the evidence hash stored when the run was recorded"},
            "error": string(), "recordError": string(),
        }, ("status",), open_=True, description="one run's summary (docs/drills.md)"),
        "DrillInstanceRecord": obj({
            "runId": string(), "backupInstance": _TEXT, "instanceName": _TEXT, "vault": _TEXT, "server": _TEXT,
            "status": verdict, "reason": _TEXT, "message": _TEXT,
            "recoveryPoint": nullable({"type": "object"}), "pointAgeSeconds": _NUMBER, "restoreId": _TEXT,
            "jobId": _TEXT, "restoreStatus": _TEXT, "restoreDurationSeconds": _NUMBER,
            "files": nullable({"type": "array"}), "databases": nullable({"type": "object"}),
            "problems": nullable({"type": "array"}), "totalBytes": COUNT, "startedAt": nullable(DATE_TIME),
            "finishedAt": _TEXT, "checks": nullable({"type": "array"}), "failedCheck": _TEXT,
            "phases": nullable({"type": "object"}), "rto": nullable({"type": "object"}),
            "rpo": nullable({"type": "object"}), "scratch": nullable({"type": "object"}),
            "recordTruncated": {"type": "boolean"},
        }, ("status",), open_=True, description="one backup instance's drill (docs/drills.md, \"Record fields\")"),
        "DrillRun": obj({
            "runId": string(minLength=1),
            "runtimeStatus": nullable(ref("RuntimeStatus")),
            "progress": nullable({"type": "object", "description": "the run orchestration's custom status while "
                                                                   "it runs (phase, total, completed, counts)"}),
            "summary": nullable(ref("DrillRunSummary")),
            "cleanup": nullable({"type": "object"}),
            "count": COUNT,
            "instances": {"type": "array", "items": ref("DrillInstanceRecord")},
        }, ("runId", "runtimeStatus", "progress", "summary", "cleanup", "count", "instances")),
        "EvidenceDocument": obj({
            "schema": string(const=SCHEMA), "runId": string(), "startedAt": _TEXT, "finishedAt": _TEXT,
            "servers": {"type": "array", "items": ref("EvidenceServer")},
            "previous": nullable(obj({"runId": string(), "hash": string()}, ("runId", "hash"))),
            "hash": string("SHA-256 of the canonical JSON of every other key but verification",
                           pattern="^[0-9a-f]{64}$"),
            "verification": obj({"verified": {"type": "boolean"}, "storedHash": _TEXT, "rebuiltHash": string()},
                                ("verified", "storedHash", "rebuiltHash")),
        }, ("schema", "runId", "startedAt", "finishedAt", "servers", "previous", "hash", "verification"),
            description="the run's evidence, rebuilt from its rows and verified against the hash stored when it "
                        "was recorded; check saved ones with `python -m pgflex_restore drill verify-evidence`"),
        "EvidenceServer": obj({
            "server": _TEXT, "backupInstance": _TEXT,
            "recoveryPoint": nullable(obj({"id": _TEXT, "time": _TEXT, "ageSeconds": _NUMBER},
                                          ("id", "time", "ageSeconds"))),
            "phases": obj({p: _NUMBER for p in PHASES}),
            "rto": nullable(obj({"seconds": _NUMBER, "target": _NUMBER, "breached": {"type": "boolean"}})),
            "rpo": nullable(obj({"ageSeconds": _NUMBER, "target": _NUMBER, "breached": {"type": "boolean"}})),
            "checks": {"type": "array", "items": {"type": "object"}},
            "files": {"type": "array", "items": obj({"name": _TEXT, "bytes": _NUMBER, "sha256": _TEXT},
                                                    ("name", "bytes", "sha256"))},
            "verdict": _TEXT, "reason": _TEXT,
        }, ("server", "backupInstance", "recoveryPoint", "phases", "rto", "rpo", "checks", "files", "verdict",
            "reason")),
    }
