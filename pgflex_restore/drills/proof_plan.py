"""The plan keys that make a drill prove the data (issue 16): load into a drill server, checks, RTO/RPO targets.

They may be set at plan level, per instance (an ``instances`` object) or per server (the ``servers`` map, keyed
like ``expectedDatabases``); the most specific wins key by key. Validation reports every problem by JSON path,
as the rest of the plan does. ``resolve`` gives the durable form one instance drill reads (seconds, no ISO text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from pgflex_restore.ids import FlexibleServerId
from pgflex_restore.load_spec import database_name_problem, server_allowed
from pgflex_restore.timeutil import format_iso_duration, parse_duration_or_seconds

PROOF_KEYS = frozenset({"load", "checks", "amcheck", "compareWithSource", "minRowRatio", "maxRowDrop",
                        "rtoTarget", "rpoTarget"})
LOAD_KEYS = frozenset({"server", "jobs"})
CHECK_KEYS = frozenset({"name", "database", "sql", "min", "max", "equals"})
DEFAULT_LOAD_JOBS = 1
MAX_LOAD_JOBS = 50
DEFAULT_MIN_ROW_RATIO = 0.5
DEFAULT_MAX_ROW_DROP = 0.5
MAX_CHECKS = 50

Fail = Callable[[str, str], None]


class ProofReader:
    """Validates the proof keys of one plan level (``base`` is its JSON path prefix: ``""``,
    ``instances[2].`` or ``servers.pg-sales.``); ``load_allowlist`` None skips the allowlist (trusted input)."""

    def __init__(self, fail: Fail, load_allowlist: Iterable[str] | None) -> None:
        self.fail = fail
        self.allowlist = None if load_allowlist is None else frozenset(load_allowlist)

    def read(self, data: Mapping[str, Any], base: str) -> dict[str, Any]:
        """The keys given at this level, in normal form (valid input again); absent keys stay absent."""
        out: dict[str, Any] = {}
        if "load" in data:
            load = self.load(data["load"], f"{base}load")
            if load is not None:
                out["load"] = load
        if "checks" in data:
            out["checks"] = self.checks(data["checks"], f"{base}checks")
        out.update(self.flags(data, base))
        for key in ("rtoTarget", "rpoTarget"):
            if key in data:
                target = self.duration(data[key], f"{base}{key}")
                if target is not None:
                    out[key] = format_iso_duration(target)
        return out

    def flags(self, data: Mapping[str, Any], base: str) -> dict[str, Any]:
        """amcheck and compareWithSource (booleans), minRowRatio and maxRowDrop (fractions)."""
        out: dict[str, Any] = {}
        for key in ("amcheck", "compareWithSource"):
            if key in data and isinstance(data[key], bool):
                out[key] = data[key]
            elif key in data:
                self.fail(f"{base}{key}", "must be true or false")
        for key in ("minRowRatio", "maxRowDrop"):
            value = data.get(key)
            if key not in data:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                self.fail(f"{base}{key}", "must be a number from 0 to 1 (a fraction of the rows)")
            else:
                out[key] = float(value)
        return out

    def load(self, value: object, path: str) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, 'must be an object: {"server": "<drill flexible server ARM id>", "jobs": N}')
            return None
        for key in sorted(set(value) - LOAD_KEYS):
            self.fail(f"{path}.{key}", f"unknown key; allowed: {', '.join(sorted(LOAD_KEYS))}")
        raw, server = value.get("server"), None
        try:
            server = FlexibleServerId.parse(raw) if isinstance(raw, str) else None
            if server is None:
                self.fail(f"{path}.server", "required: the ARM id of the drill's PostgreSQL flexible server")
        except ValueError as exc:
            self.fail(f"{path}.server", str(exc))
        if server is not None and self.allowlist is not None and not server_allowed(server, self.allowlist):
            self.fail(f"{path}.server", f"{server} is not on LOAD_TARGET_ALLOWLIST; drills load only into "
                                        "allowed servers")
        jobs = value.get("jobs", DEFAULT_LOAD_JOBS)
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_LOAD_JOBS:
            self.fail(f"{path}.jobs", f"must be a whole number from 1 to {MAX_LOAD_JOBS} (loads at once on the "
                                      "drill server)")
            return None
        return {"server": str(server), "jobs": jobs} if server is not None else None

    def checks(self, value: object, path: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or len(value) > MAX_CHECKS:
            self.fail(path, f'must be a list (at most {MAX_CHECKS}) of {{"name", "database", "sql", "min"?, '
                            '"max"?, "equals"?}')
            return []
        out: list[dict[str, Any]] = []
        names: set[str] = set()
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                self.fail(where, 'must be an object {"name", "database", "sql", "min"?, "max"?, "equals"?}')
                continue
            for key in sorted(set(item) - CHECK_KEYS):
                self.fail(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(CHECK_KEYS))}")
            good = True
            for key in ("name", "sql"):
                if not isinstance(item.get(key), str) or not item[key].strip():
                    self.fail(f"{where}.{key}", "required: a non-empty string")
                    good = False
            problem = database_name_problem(item.get("database"))
            if problem:
                self.fail(f"{where}.database", f"the source database the check runs in: {problem}")
                good = False
            for key in ("min", "max"):
                if key in item and (isinstance(item[key], bool) or not isinstance(item[key], int | float)):
                    self.fail(f"{where}.{key}", "must be a number")
                    good = False
            if "equals" in item and (isinstance(item["equals"], list | dict) or item["equals"] is None):
                self.fail(f"{where}.equals", "must be a number, a string or a boolean")
                good = False
            if good and item["name"] in names:
                self.fail(f"{where}.name", f"{item['name']!r} is the name of another check")
                good = False
            if good:
                names.add(item["name"])
                out.append({k: item[k] for k in ("name", "database", "sql", "min", "max", "equals") if k in item})
        return out

    def duration(self, value: object, path: str) -> timedelta | None:
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError("must be an ISO 8601 duration such as PT4H, or seconds")
            parsed = parse_duration_or_seconds(str(value))
        except ValueError as exc:
            self.fail(path, str(exc))
            return None
        if parsed <= timedelta(0):
            self.fail(path, "must be longer than zero")
            return None
        return parsed


def merged(*levels: Mapping[str, Any] | None) -> dict[str, Any]:
    """The proof keys in force: later levels (more specific) override earlier ones key by key."""
    out: dict[str, Any] = {}
    for level in levels:
        out.update(level or {})
    return out


def resolve(options: Mapping[str, Any]) -> dict[str, Any] | None:
    """What one instance drill needs (seconds, defaults written out), or None when nothing is asked beyond
    today's file verification (no load and no targets)."""
    if not options:
        return None
    out: dict[str, Any] = {
        "load": dict(options["load"]) if options.get("load") else None,
        "checks": [dict(c) for c in options.get("checks") or []],
        "amcheck": bool(options.get("amcheck", False)),
        "compareWithSource": bool(options.get("compareWithSource", False)),
        "minRowRatio": float(options.get("minRowRatio", DEFAULT_MIN_ROW_RATIO)),
        "maxRowDrop": float(options.get("maxRowDrop", DEFAULT_MAX_ROW_DROP)),
        "rtoTargetSeconds": None, "rpoTargetSeconds": None,
    }
    for key in ("rtoTarget", "rpoTarget"):
        if options.get(key):
            out[f"{key}Seconds"] = parse_duration_or_seconds(str(options[key])).total_seconds()
    return out


def needs_load(options: Mapping[str, Any]) -> bool:
    """Any level asks for a load (so LOAD_JOB must be set)."""
    return bool(options.get("load"))
