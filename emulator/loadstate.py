"""The emulator's memory for the load step: job executions (real processes), start operations, server parameter
changes and their asynchronous operations, and the link from issued database tokens to PostgreSQL passwords.

Operation timelines are computed from the emulator clock like the DataProtection ones; ``tick()`` finishes the
parameter changes that are due, applying ``azure.extensions`` to the mapped PostgreSQL when one succeeds.
"""

from __future__ import annotations

import os
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import pgserver
from .auth import OSSRDBMS_RESOURCE, TokenStore
from .clock import Clock, arm_time, utc_now
from .errors import ArmError, ScenarioError
from .jobprocess import ContainerSpec, ExecutionProcess
from .loadscenario import ContainerAppJob, FlexibleServer
from .scenario import Scenario

HISTORY_CAP = 100  # Container Apps keeps the latest 100 executions
_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "TZ")


@dataclass
class Execution:
    """One job execution: its template (as started) and the replica running it."""

    name: str
    job: ContainerAppJob
    template: dict[str, Any]
    start: datetime
    process: ExecutionProcess
    interludes: list[str]

    @property
    def id(self) -> str:
        return f"{self.job.id}/executions/{self.name}"

    def status(self, *, consume_interlude: bool = False) -> str:
        phase = self.process.phase
        if phase == "Running" and self.interludes:
            return self.interludes.pop(0) if consume_interlude else "Running"
        return phase


@dataclass
class StartOperation:
    """A job start answered 202: its Location gives the execution once ``ready`` has passed. A stop answered 202
    (``stop``) is done once the replica has ended."""

    id: str
    execution: Execution
    ready: datetime
    stop: bool = False

    def done(self, now: datetime) -> bool:
        return self.execution.process.finished if self.stop else now >= self.ready


@dataclass
class ConfigOperation:
    """A server parameter change: InProgress until ``end``, then Succeeded (value applied) or Failed."""

    id: str
    server: FlexibleServer
    name: str
    value: str
    source: str
    start: datetime
    end: datetime
    retry_after: int
    error: dict[str, Any] | None = None
    finalized: bool = False

    def status(self, now: datetime) -> str:
        if not self.finalized or now < self.end:
            return "InProgress"
        return "Failed" if self.error else "Succeeded"


@dataclass
class LoadState:
    """Everything the Container Apps and flexible server routes remember; guarded by the emulator state's lock."""

    clock: Clock
    tokens: TokenStore | None = None
    identity_endpoint: str = ""
    executions: dict[str, list[Execution]] = field(default_factory=dict)  # job id (lower) -> oldest first
    start_operations: dict[str, StartOperation] = field(default_factory=dict)
    config_operations: dict[str, ConfigOperation] = field(default_factory=dict)
    config_values: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (server, name) -> value
    server_versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # server id (lower) -> (major, minor)
    events: list[dict[str, Any]] = field(default_factory=list)  # what happened outside HTTP (token passwords)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return utc_now(self.clock)

    # scenario ----------------------------------------------------------------------------------------------
    def load(self, scenario: Scenario) -> None:
        """Forget executions and operations, and bring each mapped PostgreSQL to the scenario's state."""
        self.stop_all()
        self.executions.clear()
        self.start_operations.clear()
        self.config_operations.clear()
        self.config_values.clear()
        self.server_versions.clear()
        for server in scenario.servers:
            if server.superuser_dsn is None:
                continue
            try:
                self.server_versions[server.id.lower()] = pgserver.server_version(server.superuser_dsn)
                allowlist = server.configuration("azure.extensions")
                pgserver.apply_allowlist(server.superuser_dsn, allowlist.value if allowlist else "")
            except Exception as exc:
                raise ScenarioError(f"flexible server {server.name}: its PostgreSQL ({server.superuser_dsn}) "
                                    f"cannot be reached as superuser: {exc}") from exc

    def stop_all(self) -> None:
        for history in self.executions.values():
            for execution in history:
                if not execution.process.finished:
                    execution.process.stop(wait_seconds=5)

    # job executions ----------------------------------------------------------------------------------------
    def start_execution(self, job: ContainerAppJob, override: dict[str, Any] | None) -> Execution:
        """Start an execution of ``job``: ``override`` (a JobExecutionTemplate) replaces the job's template."""
        template = override if override is not None else {
            key: job.template[key] for key in ("containers", "initContainers") if job.template.get(key)}
        name = f"{job.name}-{''.join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(7))}"
        assert self.tokens is not None
        header = self.tokens.scope_header(job.client_ids)
        platform = {"IDENTITY_ENDPOINT": self.identity_endpoint, "IDENTITY_HEADER": header,
                    "CONTAINER_APP_JOB_NAME": job.name, "CONTAINER_APP_JOB_EXECUTION_NAME": name,
                    "CONTAINER_APP_REPLICA_NAME": f"{name}-replica"}
        tokens = self.tokens
        try:
            specs = [[self._container(job, raw, platform) for raw in template.get(key) or []]
                     for key in ("containers", "initContainers")]
        except ArmError:
            tokens.drop_header(header)  # nothing started: the header must not outlive the refused start
            raise
        process = ExecutionProcess(specs[0], specs[1], job.workdir, job.replica_timeout, job.processing_seconds,
                                   self.now, on_end=lambda: tokens.drop_header(header))
        execution = Execution(name, job, template, self.now(), process, list(job.interludes))
        history = self.executions.setdefault(job.id.lower(), [])
        history.append(execution)
        del history[:-HISTORY_CAP]
        process.start()
        return execution

    @staticmethod
    def _container(job: ContainerAppJob, raw: dict[str, Any], platform: dict[str, str]) -> ContainerSpec:
        """The container's local program and environment: the node's basics, the container's env, the
        platform's variables (identity endpoint and this execution's identity header) last."""
        env = {k: os.environ[k] for k in _HOST_VARIABLES if k in os.environ}
        env.update(job.host_env)
        for item in raw.get("env") or []:
            name = str(item.get("name", ""))
            if item.get("secretRef") is not None:
                secret = job.secrets.get(str(item["secretRef"]))
                if secret is None:
                    raise ArmError(400, "ContainerAppSecretRefNotFound",
                                   f"Env variable '{name}' refers to secret '{item['secretRef']}', which the job "
                                   "does not define.", target="containers.env")
                env[name] = secret
            else:
                env[name] = str(item.get("value", ""))
        env.update(platform)
        return ContainerSpec(str(raw["name"]), job.argv(raw), env)

    def history(self, job: ContainerAppJob) -> list[Execution]:
        return list(self.executions.get(job.id.lower(), []))

    def execution(self, job: ContainerAppJob, name: str) -> Execution | None:
        return next((e for e in self.history(job) if e.name.lower() == name.lower()), None)

    def new_start_operation(self, execution: Execution, *, stop: bool = False) -> StartOperation:
        op = StartOperation(str(uuid.uuid4()), execution,
                            self.now() + timedelta(seconds=execution.job.start_seconds), stop)
        self.start_operations[op.id] = op
        return op

    # server parameters -------------------------------------------------------------------------------------
    def config_value(self, server: FlexibleServer, name: str) -> tuple[str, str]:
        """(value, source) of a parameter now."""
        found = self.config_values.get((server.id.lower(), name.lower()))
        if found is not None:
            return found
        conf = server.configuration(name)
        assert conf is not None
        return conf.value, conf.source

    def change_config(self, server: FlexibleServer, name: str, value: str, source: str) -> ConfigOperation:
        now = self.now()
        op = ConfigOperation(str(uuid.uuid4()), server, name, value, source, now,
                             now + timedelta(seconds=server.configuration_seconds), server.configuration_retry_after,
                             dict(server.configuration_failure) if server.configuration_failure else None)
        self.config_operations[op.id] = op
        return op

    def tick(self) -> None:
        now = self.now()
        for op in self.config_operations.values():
            if not op.finalized and now >= op.end:
                self._finalize(op)

    def _finalize(self, op: ConfigOperation) -> None:
        op.finalized = True
        if op.error is not None:
            return
        dsn = op.server.superuser_dsn
        if dsn is not None and op.name.lower() == "azure.extensions":
            try:
                pgserver.apply_allowlist(dsn, op.value)
            except Exception as exc:
                op.error = {"code": "InternalServerError",
                            "message": f"The server parameter could not be applied: {type(exc).__name__}."}
                return
        self.config_values[(op.server.id.lower(), op.name.lower())] = (op.value, op.source)

    # database tokens ---------------------------------------------------------------------------------------
    def token_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def token_issued(self, scenario: Scenario, resource: str, client_id: str, token: str, expires_on: int) -> None:
        """A database token becomes the password of the role each mapped server gives that identity."""
        if resource.rstrip("/").lower() != OSSRDBMS_RESOURCE:
            return
        for server in scenario.servers:
            role = server.loader_roles.get(client_id)
            if role is None or server.superuser_dsn is None:
                continue
            event: dict[str, Any] = {"time": arm_time(self.now()), "server": server.name, "role": role,
                                     "clientId": client_id, "validUntil": expires_on}
            try:
                pgserver.set_token_password(server.superuser_dsn, role, token, expires_on)
                event["result"] = "password set"
            except Exception as exc:  # the token is still issued; the login will fail, as on Azure
                event["result"] = f"failed: {type(exc).__name__}: {exc}"
            with self._lock:
                self.events.append(event)
                del self.events[:-500]
