"""The loader's input, ``LOAD_REQUEST`` (docs/loading.md): parsed, with every problem reported at once. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .proofs import Invariant, SourceComparison

ACTIONS = ("load", "drop")
ON_EXISTS = ("fail", "replace")
ROLES = ("apply", "skip")
MAX_JOBS = 32


class RequestError(ValueError):
    """The request is invalid (exit code 2); ``problems`` maps each JSON path to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("invalid load request: " + "; ".join(f"{k or '(request)'}: {v}" for k, v in problems.items()))


@dataclass(frozen=True)
class LoadRequest:
    run_id: str
    prefix: str
    container_url: str | None = None
    folder: str | None = None
    host: str | None = None
    databases: dict[str, str] | None = None  # source -> target; None: every dump, same name
    on_exists: str = "fail"
    roles: str = "apply"
    jobs: int = 4
    replaceable: list[dict[str, Any]] = field(default_factory=list)
    action: str = "load"
    recovery_point_time: datetime | None = None
    checks: list[Invariant] = field(default_factory=list)
    amcheck: bool = False
    compare_with_source: SourceComparison | None = None
    drop: list[dict[str, Any]] = field(default_factory=list)  # action drop: [{"database", "oid"}]


def _text(raw: dict[str, Any], key: str, problems: dict[str, str], path: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            problems[path] = "required"
        return None
    if not isinstance(value, str) or not value.strip():
        problems[path] = "must be a non-empty string"
        return None
    return value


def _choice(raw: dict[str, Any], key: str, allowed: tuple[str, ...], problems: dict[str, str]) -> str:
    value = raw.get(key, allowed[0])
    if value not in allowed:
        problems[key] = f"must be one of {', '.join(allowed)}"
        return allowed[0]
    return str(value)


def _databases(raw: Any, problems: dict[str, str]) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        problems["databases"] = "must be an object mapping source database names to target names"
        return None
    bad = [k for k, v in raw.items() if not isinstance(v, str) or not v or not k]
    if bad:
        problems["databases"] = f"target names must be non-empty strings ({', '.join(map(str, bad))})"
    targets = [v for v in raw.values() if isinstance(v, str)]
    if len(set(targets)) != len(targets):
        problems["databases"] = "two source databases have the same target"
    return {str(k): str(v) for k, v in raw.items()}


def _jobs(raw: Any, problems: dict[str, str]) -> int:
    if raw is None:
        return 4
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_JOBS:
        problems["jobs"] = f"must be an integer from 1 to {MAX_JOBS}"
        return 4
    return raw


def _named_oids(raw: Any, problems: dict[str, str], key: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    ok = isinstance(raw, list) and all(
        isinstance(i, dict) and isinstance(i.get("database"), str) and i.get("database")
        and isinstance(i.get("oid"), int) and not isinstance(i.get("oid"), bool) for i in raw)
    if not ok:
        problems[key] = 'must be a list of {"database": name, "oid": integer}'
        return []
    return [{"database": i["database"], "oid": i["oid"]} for i in raw]


def _replaceable(raw: Any, problems: dict[str, str]) -> list[dict[str, Any]]:
    return _named_oids(raw, problems, "replaceable")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(raw: Any, problems: dict[str, str]) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        problems["recoveryPointTime"] = "must be an ISO 8601 time with a zone, e.g. 2026-12-04T06:00:00Z"
        return None
    return value


def _checks(raw: Any, problems: dict[str, str]) -> list[Invariant]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems["checks"] = 'must be a list of {"name", "database", "sql", "min"?, "max"?, "equals"?}'
        return []
    checks: list[Invariant] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(raw):
        path = f"checks[{index}]"
        if not isinstance(item, dict):
            problems[path] = 'must be {"name", "database", "sql", "min"?, "max"?, "equals"?}'
            continue
        texts = {key: _text(item, key, problems, f"{path}.{key}", required=True) for key in ("name", "database", "sql")}
        unknown = sorted(set(item) - {"name", "database", "sql", "min", "max", "equals"})
        if unknown:
            problems[f"{path}"] = f"unknown key(s) {', '.join(unknown)}"
        for key in ("min", "max"):
            if key in item and not _number(item[key]):
                problems[f"{path}.{key}"] = "must be a number"
        if "equals" in item and not (item["equals"] is None or isinstance(item["equals"], str | int | float | bool)):
            problems[f"{path}.equals"] = "must be a number, a string, true/false or null"
        name, database, text = texts["name"], texts["database"], texts["sql"]
        if name and database:
            if (database, name) in seen:
                problems[f"{path}.name"] = f"another check of database {database!r} has this name"
            seen.add((database, name))
        if name and database and text:
            expected = {key: item[key] for key in ("min", "max", "equals") if key in item}
            checks.append(Invariant(name, database, text, expected))
    return checks


def _comparison(raw: Any, problems: dict[str, str]) -> SourceComparison | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems["compareWithSource"] = 'must be {"host": ..., "port"?: 5432, "minRowRatio"?: 0.5}'
        return None
    host = _text(raw, "host", problems, "compareWithSource.host", required=True)
    port, ratio = raw.get("port"), raw.get("minRowRatio", 0.5)
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        problems["compareWithSource.port"] = "must be a TCP port number"
    if not _number(ratio) or not 0 <= ratio <= 1:
        problems["compareWithSource.minRowRatio"] = "must be a number from 0 to 1"
    if not host or "compareWithSource.port" in problems or "compareWithSource.minRowRatio" in problems:
        return None
    return SourceComparison(host, None if port is None else int(port), float(ratio))


def parse_request(raw: dict[str, Any]) -> LoadRequest:
    """A request from its JSON object (the job's ``LOAD_REQUEST``)."""
    if not isinstance(raw, dict):
        raise RequestError({"": "must be a JSON object"})
    problems: dict[str, str] = {}
    source = raw.get("source")
    if not isinstance(source, dict):
        problems["source"] = 'required: {"containerUrl": ..., "prefix": ...}'
        source = {}
    container_url = _text(source, "containerUrl", problems, "source.containerUrl", required="folder" not in source)
    folder = _text(source, "folder", problems, "source.folder", required=False)
    prefix = _text(source, "prefix", problems, "source.prefix", required=True)
    server = raw.get("server")
    host = _text(server, "host", problems, "server.host", required=True) if isinstance(server, dict) else None
    if not isinstance(server, dict):
        problems["server"] = 'required: {"host": ...}'
    action = _choice(raw, "action", ACTIONS, problems)
    amcheck = raw.get("amcheck", False)
    if not isinstance(amcheck, bool):
        problems["amcheck"] = "must be true or false"
    drop = _named_oids(raw.get("databases"), problems, "databases") if action == "drop" else []
    if action == "drop" and not raw.get("databases"):
        problems["databases"] = 'required for drop: [{"database": name, "oid": integer}]'
    request = LoadRequest(
        run_id=str(raw.get("runId") or action),
        prefix=prefix or "",
        container_url=container_url,
        folder=folder,
        host=host,
        databases=None if action == "drop" else _databases(raw.get("databases"), problems),
        on_exists=_choice(raw, "onExists", ON_EXISTS, problems),
        roles=_choice(raw, "roles", ROLES, problems),
        jobs=_jobs(raw.get("jobs"), problems),
        replaceable=_replaceable(raw.get("replaceable"), problems),
        action=action,
        recovery_point_time=_timestamp(raw.get("recoveryPointTime"), problems),
        checks=_checks(raw.get("checks"), problems),
        amcheck=amcheck is True,
        compare_with_source=_comparison(raw.get("compareWithSource"), problems),
        drop=drop,
    )
    if problems:
        raise RequestError(problems)
    return request


def parse_request_text(text: str | None) -> LoadRequest:
    """``LOAD_REQUEST``'s text."""
    if not text:
        raise RequestError({"": "LOAD_REQUEST is not set"})
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise RequestError({"": f"not JSON: {exc}"}) from exc
    return parse_request(raw)
