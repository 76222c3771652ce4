"""What a loading drill proves, as pure functions: scratch database names, phase times, RTO/RPO verdicts, the
row-count comparison with the previous passing drill, and the record's check list (docs/drills.md).

The instance orchestration gathers facts (timestamps on its own clock, the loader's report, the previous drill's
row counts) and these functions turn them into the record's ``phases``, ``rto``, ``rpo``, ``checks`` and
``tables``, so every verdict is unit-tested without a server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_NAME_BYTES = 63
TOP_TABLES = 10
MAX_ROW_COUNTS = 300  # tables kept in the record for the next drill's comparison (largest first)
_UNSAFE = re.compile(r"[^a-z0-9_]")

# What the user should do, per failing check (the alert's and the record's message end with it).
ADVICE = {
    "files": "look at the restored files in the drill container and the Backup vault's job",
    "structure": "objects of the dump did not load: read the drill's load report (databases[].objects.missing)",
    "rowCounts": "tables lost rows since the previous passing drill: check the source server for deleted data "
                 "and whether the backup policy still covers it",
    "sourceComparison": "restored tables hold far fewer rows than the live server: check that backups are "
                        "recent and complete (a stale or partial backup)",
    "amcheck": "an index or heap of the restored copy is corrupt: run amcheck on the source server and restore "
               "from an earlier point if it is corrupt too",
    "rto": "the restore took longer than rtoTarget: size the drill server like production, raise load.jobs, or "
           "revisit the target",
    "rpo": "the recovery point is older than rpoTarget: check the backup policy's schedule and the vault's jobs",
}
INVARIANT_ADVICE = "a user invariant failed on the restored data: check the data in the source server"
REASONS = {"rto": "rto-breached", "rpo": "rpo-breached"}


def scratch_name(drill_id: str, database: str) -> str:
    """``drill_<run>_<db>``: ``drill_id`` is the instance drill's id (``drill-<stamp>:<index>``), so two servers'
    databases of one name never meet on one drill server; lower-case ``[a-z0-9_]``, at most 63 bytes (a longer
    name is cut and ends with 8 hex characters of the full name's SHA-256, so cut names stay distinct)."""
    run = drill_id[len("drill-"):] if drill_id.startswith("drill-") else drill_id
    full = _UNSAFE.sub("_", f"drill_{run}_{database}".lower())
    if len(full) <= MAX_NAME_BYTES:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:8]
    return f"{full[:MAX_NAME_BYTES - 9]}_{digest}"


def scratch_map(drill_id: str, databases: Iterable[str]) -> dict[str, str]:
    """Restored database -> its scratch database."""
    return {db: scratch_name(drill_id, db) for db in sorted(databases)}


def _drill_server(target: Mapping[str, Any]) -> str | None:
    load = (target.get("proof") or {}).get("load") or None
    return str(load["server"]).lower() if load and not target.get("skip") and not target.get("fail") else None


def batch_bounds(targets: Sequence[Mapping[str, Any]], concurrency: int, start: int = 0) -> list[tuple[int, int]]:
    """Contiguous batches from ``start``: at most ``concurrency`` drills, and at most ``load.jobs`` of those
    loading into any one drill server (a batch ends before the next starts, so that bounds the loads at once)."""
    bounds: list[tuple[int, int]] = []
    begin = start
    while begin < len(targets):
        end, per_server = begin, dict[str, int]()
        while end < len(targets) and end - begin < max(1, concurrency):
            server = _drill_server(targets[end])
            if server is not None:
                limit = int(targets[end]["proof"]["load"].get("jobs") or 1)
                if per_server.get(server, 0) >= limit:
                    break
                per_server[server] = per_server.get(server, 0) + 1
            end += 1
        bounds.append((begin, end))
        begin = end
    return bounds


def seconds_between(start: str | None, end: str | None) -> float | None:
    from pgflex_restore.timeutil import parse_datetime

    if not start or not end:
        return None
    return max(0.0, round((parse_datetime(end) - parse_datetime(start)).total_seconds(), 3))


def phases(*, started: str, selected: str | None, restore: Mapping[str, Any] | None, load_started: str | None,
           load_finished: str | None, checks_seconds: float | None, finished: str) -> dict[str, float]:
    """``phases`` in seconds; absent phases are left out. ``validate`` runs from the restore's start to its
    job's start (validation and trigger), ``restoreJob`` is the Azure job, ``load`` the load minus the loader's
    checks, ``checks`` the loader's checks step."""
    restore = restore or {}
    job = restore.get("job") or {}
    out: dict[str, float | None] = {
        "select": seconds_between(started, selected),
        "validate": seconds_between(restore.get("startedAt"), job.get("startTime")),
        "restoreJob": float(job["durationSeconds"]) if job.get("durationSeconds") is not None
        else seconds_between(job.get("startTime"), job.get("endTime")),
    }
    load = seconds_between(load_started, load_finished)
    if load is not None:
        out["load"] = max(0.0, round(load - (checks_seconds or 0.0), 3))
    if checks_seconds is not None:
        out["checks"] = round(checks_seconds, 3)
    out["total"] = seconds_between(started, finished)
    return {k: v for k, v in out.items() if v is not None}


def checks_seconds(report: Mapping[str, Any] | None) -> float | None:
    """The loader's checks step: its top-level and per-database ``durations.checks`` added up (None: no load)."""
    if not report or not report.get("databases"):
        return None
    parts = [(report.get("durations") or {}).get("checks")]
    parts += [(d.get("durations") or {}).get("checks") for d in report.get("databases") or []]
    return round(sum(float(p) for p in parts if isinstance(p, int | float)), 3)


def rto(seconds: float | None, target: float | None) -> dict[str, Any]:
    """Time to be back with the data (drill start to loaded and checked) against ``rtoTarget``."""
    return {"seconds": seconds, "target": target,
            "breached": bool(target is not None and seconds is not None and seconds > target)}


def rpo(age_seconds: float | None, target: float | None) -> dict[str, Any]:
    """The recovery point's age at the drill against ``rpoTarget``."""
    return {"ageSeconds": age_seconds, "target": target,
            "breached": bool(target is not None and age_seconds is not None and age_seconds > target)}


def target_check(name: str, verdict: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rto``/``rpo`` check item."""
    value = verdict.get("seconds") if name == "rto" else verdict.get("ageSeconds")
    target = verdict.get("target")
    if target is None:
        return {"name": name, "outcome": "skipped", "message": f"no {name}Target in the plan", "value": value}
    label = "the drill took" if name == "rto" else "the recovery point was"
    verb = "over" if verdict.get("breached") else "within"
    return {"name": name, "outcome": "failed" if verdict.get("breached") else "passed", "value": value,
            "target": target, "message": f"{label} {_fmt(value)}{' old' if name == 'rpo' else ''}, {verb} the "
                                         f"target of {_fmt(target)}"}


def _fmt(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "an unknown time"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def row_counts(report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every counted table of the load report as ``{database (source), schema, name, rows}``, largest first."""
    out = []
    for database in (report or {}).get("databases") or []:
        for table in database.get("tables") or []:
            if isinstance(table.get("rows"), int):
                out.append({"database": database.get("source"), "schema": table.get("schema"),
                            "name": table.get("name"), "rows": table["rows"]})
    return sorted(out, key=lambda t: (-t["rows"], str(t["database"]), str(t["schema"]), str(t["name"])))


def _key(table: Mapping[str, Any]) -> tuple[str, str, str]:
    return str(table.get("database")), str(table.get("schema")), str(table.get("name"))


def compare_rows(current: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]] | None, *,
                 max_drop: float, previous_run: str | None = None) -> dict[str, Any]:
    """The ``rowCounts`` check: a table that lost more than ``max_drop`` of its rows, or went empty (or away),
    since the previous passing drill fails; new tables are noted."""
    if previous is None:
        return {"name": "rowCounts", "outcome": "skipped", "tables": len(current),
                "message": "no previous passing drill of this server to compare with: these counts are the baseline"}
    now = {_key(t): int(t.get("rows") or 0) for t in current}
    before = {_key(t): int(t.get("rows") or 0) for t in previous}
    dropped = []
    for key, rows_before in sorted(before.items()):
        rows_now = now.get(key)
        if rows_before <= 0:
            continue
        if rows_now is None or rows_now == 0 or rows_now < rows_before * (1 - max_drop):
            dropped.append({"database": key[0], "schema": key[1], "name": key[2], "rows": rows_now,
                            "previousRows": rows_before})
    new = [{"database": k[0], "schema": k[1], "name": k[2]} for k in sorted(set(now) - set(before))]
    outcome = "failed" if dropped else "passed"
    if dropped:
        first = dropped[0]
        message = (f"{len(dropped)} table(s) lost more than {max_drop:.0%} of their rows since {previous_run}: "
                   f"{first['database']}.{first['schema']}.{first['name']} {first['previousRows']} -> "
                   f"{first['rows'] if first['rows'] is not None else 'missing'}")
    else:
        message = f"{len(now)} table(s) within {max_drop:.0%} of {previous_run}"
    if new:
        message += f"; {len(new)} new table(s)"
    return {"name": "rowCounts", "outcome": outcome, "previousRunId": previous_run, "maxRowDrop": max_drop,
            "dropped": dropped[:50], "new": new[:50], "message": message}


def structure_check(report: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every object of each dump's TOC exists after the load, and no table whose dump holds rows is empty."""
    missing: list[dict[str, Any]] = []
    empty: list[dict[str, Any]] = []
    expected = 0
    for database in (report or {}).get("databases") or []:
        objects = database.get("objects") or {}
        expected += int(objects.get("expected") or 0)
        missing += [{"database": database.get("source"), **m} for m in objects.get("missing") or []]
        empty += [{"database": database.get("source"), "schema": t.get("schema"), "name": t.get("name")}
                  for t in database.get("tables") or [] if t.get("hasData") and not t.get("rows")]
    if not (report or {}).get("databases"):
        return {"name": "structure", "outcome": "skipped", "message": "no database was loaded"}
    if missing or empty:
        parts = []
        if missing:
            m = missing[0]
            parts.append(f"{len(missing)} object(s) of the dump missing (first: {m.get('type')} "
                         f"{m['database']}.{m.get('schema')}.{m.get('name')})")
        if empty:
            e = empty[0]
            parts.append(f"{len(empty)} table(s) empty though their dump holds rows (first: "
                         f"{e['database']}.{e['schema']}.{e['name']})")
        return {"name": "structure", "outcome": "failed", "expected": expected, "missing": missing[:50],
                "emptyTables": empty[:50], "message": "; ".join(parts)}
    return {"name": "structure", "outcome": "passed", "expected": expected,
            "message": f"all {expected} object(s) of the dumps exist after the load"}


def loader_checks(report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The loader's per-database checks (invariants, amcheck, sourceComparison), one item per name: a failure
    or error in any database fails the item (``error`` counts as failed: the check could not prove anything)."""
    merged: dict[str, dict[str, Any]] = {}
    for database in (report or {}).get("databases") or []:
        for item in database.get("checks") or []:
            name = str(item.get("name"))
            outcome = {"error": "failed"}.get(str(item.get("outcome")), str(item.get("outcome")))
            entry = {**item, "outcome": outcome, "database": database.get("source")}
            if item.get("outcome") == "error":
                entry["error"] = True  # it could not run: its advice is about access or SQL, not the data
            held = merged.get(name)
            if held is None or (outcome == "failed" and held["outcome"] != "failed") \
                    or (held["outcome"] == "skipped" and outcome == "passed"):
                merged[name] = entry
    return [merged[k] for k in sorted(merged)]


def files_with_hashes(files: Sequence[Mapping[str, Any]], report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Today's file list, each item with the loader's ``sha256`` (matched by name, else by base name)."""
    hashes: dict[str, str] = {}
    for item in (report or {}).get("files") or []:
        if item.get("name") and item.get("sha256"):
            hashes[str(item["name"])] = str(item["sha256"])
            hashes.setdefault(str(item["name"]).rsplit("/", 1)[-1], str(item["sha256"]))
    out = []
    for item in files:
        name = str(item.get("name"))
        digest = hashes.get(name) or hashes.get(name.rsplit("/", 1)[-1])
        out.append({**item, "sha256": digest} if digest else dict(item))
    return out


def first_failure(checks: Sequence[Mapping[str, Any]], server: str | None) -> tuple[str, str] | None:
    """``(reason, message)`` of the first failed check (RTO/RPO breaches last: a wrong result matters more), the
    message naming the server, the check and what to do."""
    failed = [c for c in checks if c.get("outcome") == "failed"]
    if not failed:
        return None
    failed.sort(key=lambda c: c.get("name") in REASONS)
    check = failed[0]
    name = str(check.get("name"))
    reason = REASONS.get(name, "check-failed")
    advice = INVARIANT_ADVICE if name.startswith("invariant:") else ADVICE.get(name, "read the drill's record")
    if check.get("error"):
        advice = ("the check could not run: fix what its message names (the loader's access to the server, the "
                  "check's SQL) and drill again")
    others = f" (and {len(failed) - 1} more failed check(s))" if len(failed) > 1 else ""
    return reason, f"{server or 'the server'}: check {name} failed: {check.get('message')}{others}. {advice}"


def previous_passing(records: Iterable[Mapping[str, Any]], run_id: str) -> dict[str, Any] | None:
    """The newest passing drill before ``run_id`` whose record holds row counts (run ids sort by time):
    ``{"runId", "rowCounts"}``, or None."""
    best: Mapping[str, Any] | None = None
    for record in records:
        rid = str(record.get("runId") or "")
        if record.get("status") != "passed" or not rid or rid >= run_id or record.get("rowCounts") is None:
            continue
        if best is None or rid > str(best.get("runId")):
            best = record
    return {"runId": best.get("runId"), "rowCounts": list(best.get("rowCounts") or [])} if best else None


def restored_databases(files: Iterable[Mapping[str, Any]], leaf: str) -> list[str]:
    """The databases a load of these verified files creates, named as the loader names them (by file name)."""
    from pgflex_restore.load_report import restored_database

    names = {restored_database(str(f.get("name")), leaf) for f in files if f.get("kind") == "database"}
    return sorted(n for n in names if n)
