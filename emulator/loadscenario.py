"""Scenario entries for the load step: Container Apps jobs and PostgreSQL flexible servers (and how each behaves).

They sit next to ``vaults`` under ``subscriptions.<sub>.resourceGroups.<rg>``, as ``jobs`` and ``flexibleServers``;
see README "Loading into PostgreSQL". A job's container really runs as a local process; a flexible server may be
mapped to a real local PostgreSQL (a superuser DSN), which then gets the allowlist and the token passwords.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth import SYSTEM_ASSIGNED_CLIENT_ID
from .errors import ArmError, ScenarioError
from .spec import provider_validator

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARGV = (sys.executable, "-m", "loader")  # the loader image's entrypoint, run from the repository root
# A container's `command` names programs inside its image; these are their local stand-ins.
DEFAULT_PROGRAMS = {"python": sys.executable, "python3": sys.executable}
EXECUTION_STATUSES = ("Running", "Processing", "Stopped", "Degraded", "Failed", "Unknown", "Succeeded")
INTERLUDES = ("Degraded", "Unknown", "Processing")
# What azure.extensions allows by default (Azure's own list is longer): the contrib extensions a local PostgreSQL
# offers plus popular ones a dump may name (creating those fails locally, as on a server lacking them).
DEFAULT_ALLOWED_EXTENSIONS = (
    "address_standardizer,amcheck,bloom,btree_gin,btree_gist,citext,cube,dblink,dict_int,dict_xsyn,earthdistance,"
    "fuzzystrmatch,hstore,intagg,intarray,isn,lo,ltree,pageinspect,pg_buffercache,pg_cron,pg_freespacemap,"
    "pg_hint_plan,pg_partman,pg_prewarm,pg_repack,pg_stat_statements,pg_trgm,pg_visibility,pgaudit,pgcrypto,"
    "pgrowlocks,pgstattuple,plpgsql,postgis,postgres_fdw,sslinfo,tablefunc,timescaledb,tsm_system_rows,"
    "tsm_system_time,unaccent,uuid-ossp,vector"
)


@dataclass(frozen=True)
class ContainerAppJob:
    """A manual-trigger Container Apps job whose container is a local program."""

    subscription: str
    resource_group: str
    name: str
    location: str
    template: dict[str, Any]  # properties.template as Azure has it: {"containers": [...], "initContainers": [...]}
    replica_timeout: int
    secrets: dict[str, str]
    client_ids: tuple[str, ...]  # the job's identities (user-assigned client ids; SYSTEM_ASSIGNED_CLIENT_ID)
    images: dict[str, tuple[str, ...]]  # image -> local argv (the image's entrypoint)
    programs: dict[str, str]  # a `command`'s program -> local program
    workdir: str
    host_env: dict[str, str]  # extra variables of the "node" (e.g. PATH), below the container's own env
    start_status: int = 200  # 200 {name, id}, or 202 + Location polled until it gives them
    start_seconds: float = 2.0  # with 202: emulator-clock seconds until the Location answers 200
    start_retry_after: int = 1
    stop_status: int = 200  # 200 once stopped, or 202 + Location answering 202 until the replica has ended
    processing_seconds: float = 0.0  # real seconds an execution is "Processing" before its process starts
    interludes: tuple[str, ...] = ()  # statuses answered instead of "Running" by the first GETs while it runs
    deny_actions: tuple[str, ...] = ()  # RBAC actions the caller lacks (403 AuthorizationFailed)

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.App/jobs/{self.name}")

    def argv(self, container: dict[str, Any]) -> list[str]:
        """The local argv of a container: its `command` (programs mapped) or its image's entrypoint, + `args`."""
        command = [str(a) for a in container.get("command") or []]
        if command:
            command[0] = self.programs.get(command[0], command[0])
        else:
            command = list(self.images.get(str(container["image"]), DEFAULT_ARGV))
        return command + [str(a) for a in container.get("args") or []]


@dataclass(frozen=True)
class ConfigurationDef:
    """One server parameter: its value and what Azure says about it."""

    value: str
    default_value: str
    allowed_values: str
    data_type: str = "Set"
    is_dynamic: bool = True
    source: str = "system-default"
    description: str = ""


@dataclass(frozen=True)
class FlexibleServer:
    """An Azure Database for PostgreSQL flexible server, optionally backed by a real local PostgreSQL."""

    subscription: str
    resource_group: str
    name: str
    location: str
    version: str | None  # None: the mapped PostgreSQL's major (else "16")
    state: str
    fqdn: str
    public_network_access: str
    active_directory_auth: str
    password_auth: str
    administrator_login: str
    superuser_dsn: str | None
    loader_roles: dict[str, str]  # client id -> role the token of that identity is the password of
    configurations: dict[str, ConfigurationDef]
    configuration_seconds: float = 5.0
    configuration_retry_after: int = 5
    configuration_failure: dict[str, Any] | None = None
    deny_actions: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.DBforPostgreSQL/flexibleServers/{self.name}")

    def configuration(self, name: str) -> ConfigurationDef | None:
        return next((c for n, c in self.configurations.items() if n.lower() == name.lower()), None)


_JOB_KEYS = {"location", "replicaTimeout", "identity", "images", "programs", "workdir", "hostEnv", "secrets",
             "template", "start", "stop", "processingSeconds", "interludes", "denyActions"}
_SERVER_KEYS = {"location", "version", "state", "fullyQualifiedDomainName", "publicNetworkAccess", "authConfig",
                "administratorLogin", "postgres", "loaderRoles", "configurations", "timings", "failures",
                "denyActions", "tags"}
_CONFIGURATION_KEYS = {"value", "defaultValue", "allowedValues", "dataType", "isDynamicConfig"}
SERVER_STATES = ("Ready", "Dropping", "Disabled", "Starting", "Stopping", "Stopped", "Updating", "Restarting",
                 "Inaccessible", "Provisioning")


def parse_job(names: tuple[str, str, str], raw: dict[str, Any], where: str) -> ContainerAppJob:
    sub, rg, name = names
    _known(raw, _JOB_KEYS, where)
    _known(_mapping(raw.get("identity"), f"{where}.identity"), {"clientIds", "systemAssigned"}, f"{where}.identity")
    _known(_mapping(raw.get("start"), f"{where}.start"), {"status", "seconds", "retryAfter"}, f"{where}.start")
    template = _mapping(raw.get("template"), f"{where}.template")
    try:
        provider_validator("microsoft.app").validate("JobTemplate", template, "template")
    except ArmError as exc:
        raise ScenarioError(f"{where}: {exc.message}") from None
    containers = template.get("containers")
    if not isinstance(containers, list) or not containers:
        raise ScenarioError(f"{where}.template.containers: at least one container {{name, image, env, resources}}")
    for index, container in enumerate(containers):
        if not isinstance(container, dict) or not container.get("image") or not container.get("name"):
            raise ScenarioError(f"{where}.template.containers[{index}]: needs a name and an image")
    identity = _mapping(raw.get("identity"), f"{where}.identity")
    client_ids = tuple(str(c) for c in identity.get("clientIds", []))
    if identity.get("systemAssigned", not client_ids):
        client_ids += (SYSTEM_ASSIGNED_CLIENT_ID,)
    start = _mapping(raw.get("start"), f"{where}.start")
    status = int(start.get("status", 200))
    if status not in (200, 202):
        raise ScenarioError(f"{where}.start.status: 200 or 202")
    stop = _mapping(raw.get("stop"), f"{where}.stop")
    _known(stop, {"status"}, f"{where}.stop")
    stop_status = int(stop.get("status", 200))
    if stop_status not in (200, 202):
        raise ScenarioError(f"{where}.stop.status: 200 or 202")
    interludes = tuple(str(s) for s in raw.get("interludes", []))
    if any(s not in INTERLUDES for s in interludes):
        raise ScenarioError(f"{where}.interludes: among {', '.join(INTERLUDES)}")
    images = {str(k): tuple(str(a) for a in v) for k, v in _mapping(raw.get("images"), f"{where}.images").items()}
    if any(not argv for argv in images.values()):
        raise ScenarioError(f"{where}.images: every image needs a non-empty argv")
    return ContainerAppJob(
        sub, rg, name, str(raw.get("location", "westeurope")), template, int(raw.get("replicaTimeout", 1800)),
        {str(k): str(v) for k, v in _mapping(raw.get("secrets"), f"{where}.secrets").items()}, client_ids, images,
        {**DEFAULT_PROGRAMS, **{str(k): str(v) for k, v in _mapping(raw.get("programs"), f"{where}.programs").items()}},
        str(raw.get("workdir", REPO_ROOT)),
        {str(k): str(v) for k, v in _mapping(raw.get("hostEnv"), f"{where}.hostEnv").items()},
        status, float(start.get("seconds", 2.0)), int(start.get("retryAfter", 1)), stop_status,
        float(raw.get("processingSeconds", 0.0)), interludes, tuple(str(a) for a in raw.get("denyActions", [])),
    )


def parse_server(names: tuple[str, str, str], raw: dict[str, Any], where: str) -> FlexibleServer:
    sub, rg, name = names
    _known(raw, _SERVER_KEYS, where)
    state = str(raw.get("state", "Ready"))
    if state not in SERVER_STATES:
        raise ScenarioError(f"{where}.state: one of {', '.join(SERVER_STATES)}")
    postgres = _mapping(raw.get("postgres"), f"{where}.postgres")
    _known(postgres, {"superuserDsn"}, f"{where}.postgres")
    configurations = {
        "azure.extensions": ConfigurationDef(
            "", "", DEFAULT_ALLOWED_EXTENSIONS,
            description="Specifies which extensions are allowed to be created in the server."),
    }
    for conf_name, conf_raw in _mapping(raw.get("configurations"), f"{where}.configurations").items():
        conf = _mapping(conf_raw, f"{where}.configurations.{conf_name}")
        _known(conf, _CONFIGURATION_KEYS, f"{where}.configurations.{conf_name}")
        base = configurations.get(conf_name, ConfigurationDef("", "", ""))
        configurations[conf_name] = ConfigurationDef(
            str(conf.get("value", base.value)), str(conf.get("defaultValue", base.default_value)),
            str(conf.get("allowedValues", base.allowed_values)), str(conf.get("dataType", base.data_type)),
            bool(conf.get("isDynamicConfig", base.is_dynamic)),
            "user-override" if "value" in conf else base.source, base.description)
    timings = _mapping(raw.get("timings"), f"{where}.timings")
    _known(timings, {"configurationSeconds", "configurationRetryAfter"}, f"{where}.timings")
    failures = _mapping(raw.get("failures"), f"{where}.failures")
    _known(failures, {"configuration"}, f"{where}.failures")
    failure = failures.get("configuration")
    if failure is not None and not (isinstance(failure, dict) and "code" in failure):
        raise ScenarioError(f"{where}.failures.configuration: needs at least a 'code'")
    auth = _mapping(raw.get("authConfig"), f"{where}.authConfig")
    _known(auth, {"activeDirectoryAuth", "passwordAuth"}, f"{where}.authConfig")
    return FlexibleServer(
        sub, rg, name, str(raw.get("location", "westeurope")),
        str(raw["version"]) if raw.get("version") is not None else None, state,
        str(raw.get("fullyQualifiedDomainName", "127.0.0.1")), str(raw.get("publicNetworkAccess", "Enabled")),
        str(auth.get("activeDirectoryAuth", "Enabled")), str(auth.get("passwordAuth", "Enabled")),
        str(raw.get("administratorLogin", "pgadmin")),
        str(postgres["superuserDsn"]) if postgres.get("superuserDsn") else None,
        {str(k): str(v) for k, v in _mapping(raw.get("loaderRoles"), f"{where}.loaderRoles").items()},
        configurations, float(timings.get("configurationSeconds", 5.0)),
        int(timings.get("configurationRetryAfter", 5)), failure, tuple(str(a) for a in raw.get("denyActions", [])),
        {str(k): str(v) for k, v in _mapping(raw.get("tags"), f"{where}.tags").items()},
    )


def _known(raw: dict[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise ScenarioError(f"{where}.{unknown[0]}: unknown key")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a mapping")
    return value
