"""The loader's input, ``LOAD_REQUEST`` (docs/loading.md): parsed, with every problem reported at once. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

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


def _replaceable(raw: Any, problems: dict[str, str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    ok = isinstance(raw, list) and all(
        isinstance(i, dict) and isinstance(i.get("database"), str) and isinstance(i.get("oid"), int)
        and not isinstance(i.get("oid"), bool) for i in raw)
    if not ok:
        problems["replaceable"] = 'must be a list of {"database": name, "oid": integer}'
        return []
    return [dict(i) for i in raw]


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
    request = LoadRequest(
        run_id=str(raw.get("runId") or "load"),
        prefix=prefix or "",
        container_url=container_url,
        folder=folder,
        host=host,
        databases=_databases(raw.get("databases"), problems),
        on_exists=_choice(raw, "onExists", ON_EXISTS, problems),
        roles=_choice(raw, "roles", ROLES, problems),
        jobs=_jobs(raw.get("jobs"), problems),
        replaceable=_replaceable(raw.get("replaceable"), problems),
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
