"""The ARM side of a load, as pure functions: read the server, its extension allowlist, the loader job and its
executions; build the configuration PUT, the job start body and the loader's input (docs/loading.md).

Microsoft.DBforPostgreSQL ``2025-08-01`` and Microsoft.App ``2025-07-01`` (the newest stable versions with a
readable API description). Kept apart from the client so every answer's shape is tested without HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from .timeutil import format_datetime, parse_datetime

POSTGRES_API_VERSION = "2025-08-01"
CONTAINER_APPS_API_VERSION = "2025-07-01"
EXTENSIONS_CONFIGURATION = "azure.extensions"
LOAD_REQUEST_ENV = "LOAD_REQUEST"
# Extensions every PostgreSQL database has without asking (installed in template1): never put on the allowlist.
BUILT_IN_EXTENSIONS = frozenset({"plpgsql"})
# How far an execution's start may precede the first start attempt and still be taken for this restore's own
# (clocks of the orchestration and of Azure differ a little).
START_SKEW = timedelta(minutes=5)

ExecutionState = Literal["running", "succeeded", "failed", "stopped"]
_EXECUTION_STATES: dict[str, ExecutionState] = {"succeeded": "succeeded", "failed": "failed", "stopped": "stopped"}
# The container fields a JobExecutionContainer has: a job's container may have more (probes, volume mounts),
# which the start body must leave out (the override is a JobExecutionTemplate, not the job's Template).
_EXECUTION_CONTAINER_FIELDS = ("image", "name", "command", "args", "env", "resources")


def _props(body: Mapping[str, Any]) -> Mapping[str, Any]:
    props = body.get("properties")
    return props if isinstance(props, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class FlexibleServer:
    """What a load needs of the target server (GET flexibleServers/{name})."""

    id: str | None
    name: str | None
    host: str | None
    version: str | None
    state: str | None
    public_network_access: str | None = None
    active_directory_auth: str | None = None  # authConfig.activeDirectoryAuth: the loader signs in with Entra

    @property
    def ready(self) -> bool:
        return (self.state or "").lower() == "ready"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "host": self.host, "version": self.version, "state": self.state,
                "publicNetworkAccess": self.public_network_access, "activeDirectoryAuth": self.active_directory_auth}


def parse_server(body: Mapping[str, Any]) -> FlexibleServer:
    props = _props(body)
    raw = props.get("network")
    network: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    raw_auth = props.get("authConfig")
    auth: Mapping[str, Any] = raw_auth if isinstance(raw_auth, Mapping) else {}
    return FlexibleServer(
        id=_text(body.get("id")), name=_text(body.get("name")), host=_text(props.get("fullyQualifiedDomainName")),
        version=str(props["version"]) if props.get("version") is not None else None,
        state=_text(props.get("state")), public_network_access=_text(network.get("publicNetworkAccess")),
        active_directory_auth=_text(auth.get("activeDirectoryAuth")),
    )


def split_list(value: object) -> list[str]:
    """A comma-separated configuration value as a list (blanks dropped, order kept, duplicates once)."""
    if not isinstance(value, str):
        return []
    return list(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))


@dataclass(frozen=True)
class ExtensionsConfiguration:
    """The server's ``azure.extensions`` parameter: the extensions its admins may create."""

    value: tuple[str, ...]
    allowed_values: tuple[str, ...] | None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": list(self.value), "allowedValues": None if self.allowed_values is None
                else list(self.allowed_values), "source": self.source}


def parse_configuration(body: Mapping[str, Any]) -> ExtensionsConfiguration:
    props = _props(body)
    allowed = props.get("allowedValues")
    return ExtensionsConfiguration(
        value=tuple(split_list(props.get("value"))),
        allowed_values=tuple(split_list(allowed)) if isinstance(allowed, str) and allowed.strip() else None,
        source=_text(props.get("source")),
    )


@dataclass(frozen=True)
class ExtensionsPlan:
    """What the allowlist lacks for the dumps, what it will be set to, and what the server cannot allow at all."""

    needed: tuple[str, ...]
    missing: tuple[str, ...]
    not_allowed: tuple[str, ...]
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"needed": list(self.needed), "missing": list(self.missing), "notAllowed": list(self.not_allowed),
                "value": self.value}


def plan_extensions(needed: Iterable[str], current: ExtensionsConfiguration) -> ExtensionsPlan:
    """The union of the current allowlist and what the dumps create (compared case-insensitively, as the server
    does); nothing to PUT when ``missing`` is empty."""
    wanted = sorted({n.strip().lower() for n in needed if n.strip()} - BUILT_IN_EXTENSIONS)
    have = {v.lower() for v in current.value}
    missing = tuple(n for n in wanted if n not in have)
    allowed = None if current.allowed_values is None else {v.lower() for v in current.allowed_values}
    not_allowed = tuple(n for n in missing if allowed is not None and n not in allowed)
    return ExtensionsPlan(tuple(wanted), missing, not_allowed, ",".join([*current.value, *missing]))


def configuration_body(value: str) -> dict[str, Any]:
    """The body of PUT configurations/azure.extensions."""
    return {"properties": {"value": value, "source": "user-override"}}


def job_template(body: Mapping[str, Any]) -> dict[str, Any]:
    """The loader job's template (GET jobs/{name}): its containers, as a start must restate them."""
    template = _props(body).get("template")
    if not isinstance(template, Mapping) or not isinstance(template.get("containers"), list) \
            or not template["containers"]:
        raise ValueError("the loader job has no template containers: check LOAD_JOB names the loader's job")
    return {"containers": [dict(c) for c in template["containers"] if isinstance(c, Mapping)],
            "initContainers": [dict(c) for c in template.get("initContainers") or [] if isinstance(c, Mapping)]}


def _execution_container(container: Mapping[str, Any], extra_env: Mapping[str, str]) -> dict[str, Any]:
    out = {k: container[k] for k in _EXECUTION_CONTAINER_FIELDS if container.get(k) is not None}
    if extra_env:
        env = [dict(e) for e in out.get("env") or [] if isinstance(e, Mapping) and e.get("name") not in extra_env]
        out["env"] = env + [{"name": name, "value": value} for name, value in extra_env.items()]
    return out


def start_body(template: Mapping[str, Any], load_request: Mapping[str, Any]) -> dict[str, Any]:
    """POST jobs/{name}/start's JobExecutionTemplate: the whole template restated (an override replaces it, env
    included), with ``LOAD_REQUEST`` set on every main container."""
    env = {LOAD_REQUEST_ENV: json.dumps(load_request, sort_keys=True, separators=(",", ":"))}
    body: dict[str, Any] = {"containers": [_execution_container(c, env) for c in template.get("containers") or []]}
    if template.get("initContainers"):
        body["initContainers"] = [_execution_container(c, {}) for c in template["initContainers"]]
    return body


def load_request(
    *, run_id: str, container_url: str, prefix: str, host: str, load: Mapping[str, Any],
    replaceable: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The loader's input (``LOAD_REQUEST``), from the request's load section (wire form) and the ledger.

    A drill's section may also carry ``recoveryPointTime``, ``checks``, ``amcheck`` and ``compareWithSource``
    (passed on as they are), or be ``{"action": "drop", "databases": [{database, oid}]}``: the scratch databases
    to drop, each only if it still has that oid."""
    out: dict[str, Any] = {
        "runId": run_id,
        "source": {"containerUrl": container_url, "prefix": prefix},
        "server": {"host": host},
    }
    if load.get("action") == "drop":
        out.update(action="drop", databases=[{"database": d["database"], "oid": int(d["oid"])}
                                             for d in load.get("databases") or []])
        return out
    for key in ("recoveryPointTime", "checks", "amcheck", "compareWithSource"):
        if load.get(key) is not None:
            out[key] = load[key]
    if load.get("databases"):
        out["databases"] = dict(load["databases"])
    out.update(onExists=load.get("onExists", "fail"), roles=load.get("roles", "apply"), jobs=load.get("jobs", 4),
               replaceable=[{"database": r["database"], "oid": r["oid"]} for r in replaceable])
    return out


@dataclass(frozen=True)
class ExecutionRef:
    """A started execution: ``name`` is what GET executions/{name} takes."""

    name: str
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id}


def parse_started(body: Mapping[str, Any]) -> ExecutionRef:
    """The answer of POST start (200) or of its Location once done: ``{name, id}``."""
    name = _text(body.get("name"))
    if name is None:
        ident = _text(body.get("id"))
        name = ident.rstrip("/").rsplit("/", 1)[-1] if ident else None
    if not name:
        raise ValueError("the job start answer names no execution (neither name nor id)")
    return ExecutionRef(name, _text(body.get("id")))


@dataclass(frozen=True)
class JobExecution:
    """One execution of the loader job; ``state`` reduces the service's status to four."""

    name: str
    status: str
    state: ExecutionState
    start_time: datetime | None = None
    end_time: datetime | None = None
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "state": self.state,
                "startTime": format_datetime(self.start_time) if self.start_time else None,
                "endTime": format_datetime(self.end_time) if self.end_time else None, "runId": self.run_id}


def execution_state(status: str | None) -> ExecutionState:
    """Succeeded, Failed and Stopped end an execution; Running, Processing, Degraded, Unknown (and anything new)
    keep it polled: the service's examples show ``Running`` with an end time, so times decide nothing."""
    return _EXECUTION_STATES.get((status or "").lower(), "running")


def _time(value: object) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def parse_execution(body: Mapping[str, Any]) -> JobExecution:
    props = _props(body)
    name = _text(body.get("name")) or (_text(body.get("id")) or "").rstrip("/").rsplit("/", 1)[-1]
    status = _text(props.get("status")) or "Unknown"
    return JobExecution(name, status, execution_state(status), _time(props.get("startTime")),
                        _time(props.get("endTime")), execution_run_id(body))


def execution_run_id(body: Mapping[str, Any]) -> str | None:
    """The ``runId`` of the LOAD_REQUEST an execution was started with (its template's env), if any."""
    template = _props(body).get("template")
    containers = template.get("containers") if isinstance(template, Mapping) else None
    for container in containers if isinstance(containers, list) else []:
        for env in (container.get("env") or []) if isinstance(container, Mapping) else []:
            if isinstance(env, Mapping) and env.get("name") == LOAD_REQUEST_ENV:
                try:
                    document = json.loads(env.get("value") or "")
                except (TypeError, ValueError):
                    continue
                if isinstance(document, Mapping) and isinstance(document.get("runId"), str):
                    return str(document["runId"])
    return None


def own_execution(executions: Iterable[JobExecution], run_id: str, since: datetime) -> JobExecution | None:
    """The execution this restore started (its LOAD_REQUEST's runId), not older than the first start attempt."""
    mine = [e for e in executions if e.run_id == run_id
            and (e.start_time is None or e.start_time >= since - START_SKEW)]
    return mine[0] if mine else None
