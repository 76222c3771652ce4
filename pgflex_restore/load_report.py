"""What a load ends in: the loader's report made fit for the result record, the restore's status and error, and
the ledger of databases the app created (docs/loading.md).

The report is bounded by the number of databases and tables, but a database with thousands of tables (or a
roles file with thousands of skipped statements) would make the orchestration's output huge: lists are capped
here, with the number left out beside each capped list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

LEDGER_TABLE = "pgflexloads"
REPORT_SUFFIX = "_load-report.json"
MAX_TABLES = 200
MAX_ITEMS = 50
# Loader steps (the report's failedStep) and the app's own (before and around the loader job).
LOADER_STEPS = ("find", "download", "version", "create", "extensions", "roles", "restore", "analyze", "checks")
APP_STEPS = ("server", "extensions", "ledger", "job", "report")
_KEY_UNSAFE = re.compile(r"[/\\#?%\x00-\x1f\x7f]")
_SEPARATORS = ("_", "-", ".", "/")
_DUMP_EXTENSIONS = (".sql", ".dump", ".backup", ".pgdump")


def report_blob_name(prefix: str) -> str:
    """Where the loader writes its report: beside the restored files."""
    return f"{prefix}{REPORT_SUFFIX}"


def restored_database(name: str, prefix: str) -> str | None:
    """Which database a restored file is, by its name as the loader reads it (``<prefix>_<database>.sql``;
    the archive's own header may name another database); None when it is not under the prefix."""
    if not name.startswith(prefix) or name.endswith(REPORT_SUFFIX):
        return None
    rest = name[len(prefix):]
    if prefix and rest[:1] not in _SEPARATORS:
        return None  # "restore-420_x" is not under "restore-42"
    rest = rest[1:] if prefix else rest
    for extension in _DUMP_EXTENSIONS:
        if rest.lower().endswith(extension):
            rest = rest[: -len(extension)]
            break
    return rest or None


def _capped(items: object, limit: int) -> tuple[list[Any], int]:
    values = list(items) if isinstance(items, list) else []
    return values[:limit], max(0, len(values) - limit)


def _cap(container: Mapping[str, Any], key: str, limit: int) -> dict[str, Any]:
    out = dict(container)
    if isinstance(out.get(key), list):
        out[key], left = _capped(out[key], limit)
        if left:
            out[f"{key}Omitted"] = left
    return out


def summarize_report(report: Mapping[str, Any], *, max_tables: int = MAX_TABLES,
                     max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """The report as the result record carries it: every list capped (``<list>Omitted`` counts the rest)."""
    out = _cap(report, "created", max_items * 4)
    if isinstance(out.get("roles"), Mapping):
        roles = _cap(out["roles"], "skipped", max_items)
        out["roles"] = _cap(roles, "errors", max_items)
    databases = []
    for database in out.get("databases") or []:
        if not isinstance(database, Mapping):
            continue
        entry = _cap(_cap(database, "tables", max_tables), "messages", max_items)
        if isinstance(entry.get("objects"), Mapping):
            entry["objects"] = _cap(entry["objects"], "missing", max_items)
        databases.append(entry)
    if "databases" in out:
        out["databases"] = databases
    return out


def step_error_code(step: str | None) -> str:
    """``Load<Step>Failed`` (``LoadRestoreFailed``, ``LoadChecksFailed``, ...); ``LoadJobFailed`` without a step."""
    name = (step or "job").strip() or "job"
    return f"Load{name[:1].upper()}{name[1:]}Failed"


def report_error(report: Mapping[str, Any]) -> dict[str, Any]:
    """The restore's error for a report that says ``failed``: the step in the code, the loader's words kept."""
    step = report.get("failedStep")
    raw = report.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    message = str(error.get("message") or f"the load failed at step {step or 'unknown'}")
    return {
        "code": step_error_code(step if isinstance(step, str) else None),
        "message": message,
        "advice": str(error.get("advice") or "read the load report (result.load) and the loader job's logs"),
        "loaderCode": error.get("code"),
        "failedStep": step,
        "retryable": False,
    }


def load_outcome(report: Mapping[str, Any] | None, execution_state: str) -> tuple[str, dict[str, Any] | None]:
    """``(status, error)`` of a finished load: ``loaded`` only when the report says so and the execution
    succeeded; a failed execution without a report is ``LoadJobFailed``, a succeeded one ``LoadReportFailed``."""
    if report is not None:
        if report.get("status") == "running":  # the report so far: the loader died after creating databases
            made = ", ".join(str(c.get("database")) for c in report.get("created") or [] if isinstance(c, Mapping))
            return "load_failed", {
                "code": step_error_code("job"), "retryable": False, "failedStep": "job",
                "message": f"the loader job execution ended {execution_state} before the load finished; it had "
                           f"created: {made or 'nothing'}",
                "advice": "read the loader job execution's logs; the databases it created are in result.load.created "
                          "(drop them, or restore again with onExists: replace)"}
        if report.get("status") == "loaded" and execution_state == "succeeded":
            return "loaded", None
        if report.get("status") == "loaded":
            return "load_failed", {
                "code": step_error_code("job"), "retryable": False, "failedStep": "job",
                "message": f"the loader reported success but its execution ended {execution_state}",
                "advice": "read the loader job execution's logs; the databases may be loaded: check them"}
        return "load_failed", report_error(report)
    if execution_state == "succeeded":
        return "load_failed", {
            "code": step_error_code("report"), "retryable": False, "failedStep": "report",
            "message": "the loader job succeeded but wrote no report",
            "advice": "read the loader job execution's logs (Container Apps job > Execution history)"}
    return "load_failed", {
        "code": step_error_code("job"), "retryable": False, "failedStep": "job",
        "message": f"the loader job execution ended {execution_state} without a report",
        "advice": "read the loader job execution's logs (Container Apps job > Execution history); check its "
                  "image, identity and network access to the server and the storage account"}


def ledger_row_key(database: str) -> str:
    """A database name as a table RowKey: the characters Table storage refuses in keys (and ``%``) escaped."""
    return _KEY_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", database)


def ledger_partition(host: str) -> str:
    """The server's host as the PartitionKey: hosts compare case-insensitively."""
    return ledger_row_key(host.lower().rstrip("."))


def ledger_entities(host: str, created: Iterable[Mapping[str, Any]], *, restore_id: str,
                    created_at: str) -> list[dict[str, Any]]:
    """One row per database the loader created (name and oid), keyed by server host and database name; the oid
    is kept as text, as an unsigned 32-bit number does not fit Table storage's Int32."""
    rows = []
    for item in created:
        database, oid = item.get("database"), item.get("oid")
        if not isinstance(database, str) or not database or isinstance(oid, bool) or not isinstance(oid, int):
            continue
        rows.append({"PartitionKey": ledger_partition(host), "RowKey": ledger_row_key(database),
                     "database": database, "oid": str(oid), "restoreId": restore_id, "createdAt": created_at})
    return rows


def replaceable_from(entities: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The loader's ``replaceable`` list from ledger rows (sorted by name, so every read gives the same input)."""
    out = []
    for row in entities:
        database, oid = row.get("database"), str(row.get("oid") or "")
        if isinstance(database, str) and oid.isdigit():
            out.append({"database": database, "oid": int(oid)})
    return sorted(out, key=lambda r: r["database"])


_STEP_ADVICE = {
    "server": {
        403: "grant the Function App's identity read access to the flexible server (Reader, or Contributor to also "
             "set its azure.extensions)",
        404: "check load.server: the flexible server's ARM id (subscription, resource group, name)",
    },
    "extensions": {
        403: "grant the Function App's identity a role that may write the server's configurations (Contributor "
             "on the flexible server), or allow the extensions on the server yourself",
        400: "the server refused the azure.extensions value: allow the extensions yourself if your server version "
             "supports them, or restore without the databases that need them",
    },
    "job": {
        403: "grant the Function App's identity the Container Apps Jobs Operator role on the loader job (LOAD_JOB)",
        404: "check LOAD_JOB: the loader's Container Apps job ARM id (azd deploys it as the loader job)",
    },
}


def step_error(step: str, error: Mapping[str, Any]) -> dict[str, Any]:
    """An app-side step's failure as the restore's error: ``Load<Step>Failed``, the ARM code and ids kept, and
    advice about that step (the generic ARM advice speaks of Backup vaults)."""
    status = error.get("status")
    known = _STEP_ADVICE.get(step, {})
    advice = known.get(403 if status == 401 else status) if isinstance(status, int) else None
    advice = advice or str(error.get("advice") or "")
    code = error.get("code")
    message = str(error.get("message") or code or "failed")
    out = {"code": step_error_code(step), "message": f"{code}: {message}" if code else message,
           "advice": advice, "failedStep": step, "retryable": False}
    for key in ("status", "requestId", "correlationId"):
        if error.get(key) is not None:
            out[key] = error[key]
    if code:
        out["armCode"] = code
    return out
