"""The ARM calls of a load: the target flexible server and its extension allowlist, the loader job's executions.

The same transport as the DataProtection calls (it extends DataProtectionClient): the app's credential, the
loopback-only http rule, one fresh-token retry, the ARM_BUDGET pacer, and typed errors carrying ARM's code,
message and correlation id. Each method sends one request and never waits; the orchestrator owns every wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client import DataProtectionClient
from .cloud_error import header
from .ids import ContainerAppJobId, FlexibleServerId
from .load_arm import (
    CONTAINER_APPS_API_VERSION,
    EXTENSIONS_CONFIGURATION,
    POSTGRES_API_VERSION,
    ExecutionRef,
    ExtensionsConfiguration,
    FlexibleServer,
    JobExecution,
    configuration_body,
    job_template,
    parse_configuration,
    parse_execution,
    parse_server,
    parse_started,
)
from .lro import AsyncOperation


@dataclass(frozen=True)
class StartAnswer:
    """POST start's answer: the execution (200), or the Location to GET until it names one (202)."""

    execution: ExecutionRef | None
    result_url: str | None = None
    retry_after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"execution": self.execution.to_dict() if self.execution else None, "resultUrl": self.result_url,
                "retryAfter": self.retry_after}


class LoadClient(DataProtectionClient):
    """ARM calls to Microsoft.DBforPostgreSQL and Microsoft.App, each with its own api-version."""

    def _pg(self, server: FlexibleServerId, tail: str = "") -> str:
        return self._url(f"{server.path}{tail}", {"api-version": POSTGRES_API_VERSION})

    def _app(self, job: ContainerAppJobId, tail: str = "") -> str:
        return self._url(f"{job.path}{tail}", {"api-version": CONTAINER_APPS_API_VERSION})

    def get_server(self, server: FlexibleServerId) -> FlexibleServer:
        """Servers_Get: host, major version, state. :raises ApiError, TransportError:"""
        response = self._send("GET", self._pg(server))
        self._check(response)
        return parse_server(self._json(response))

    def get_extensions(self, server: FlexibleServerId) -> ExtensionsConfiguration:
        """Configurations_Get of ``azure.extensions``. :raises ApiError, TransportError:"""
        response = self._send("GET", self._pg(server, f"/configurations/{EXTENSIONS_CONFIGURATION}"))
        self._check(response)
        return parse_configuration(self._json(response))

    def put_extensions(self, server: FlexibleServerId, value: str) -> AsyncOperation:
        """Configurations_Put of ``azure.extensions`` -> 202 with Azure-AsyncOperation and Location, polled
        exactly as received (their api-version may differ). :raises ApiError, TransportError:"""
        url = self._pg(server, f"/configurations/{EXTENSIONS_CONFIGURATION}")
        response = self._send("PUT", url, configuration_body(value))
        self._check(response, (200, 201, 202))
        headers = response.headers
        return AsyncOperation(
            status_url=header(headers, "Azure-AsyncOperation"), result_url=header(headers, "Location"),
            retry_after=header(headers, "Retry-After"), job_id=None, done=response.status_code != 202,
            request_id=header(headers, "x-ms-request-id"),
            correlation_id=header(headers, "x-ms-correlation-request-id"),
        )

    def get_loader_job(self, job: ContainerAppJobId) -> dict[str, Any]:
        """Jobs_Get: the job's template, which every start restates. :raises ApiError, TransportError:"""
        response = self._send("GET", self._app(job))
        self._check(response)
        return job_template(self._json(response))

    def start_execution(self, job: ContainerAppJobId, body: dict[str, Any]) -> StartAnswer:
        """Jobs_Start with a JobExecutionTemplate. Not retried here: a TransportError with ``request_sent`` may
        have started an execution, so look for it (``list_executions``) before posting again.

        :raises ApiError, TransportError:
        """
        response = self._send("POST", self._app(job, "/start"), body)
        self._check(response, (200, 202))
        return self._start_answer(response.status_code, response)

    def get_start_result(self, url: str) -> StartAnswer:
        """GET the start's Location exactly as received: 202 while the execution is being made, then 200
        ``{name, id}``. :raises ApiError, TransportError:"""
        response = self._send("GET", url)
        self._check(response, (200, 202))
        return self._start_answer(response.status_code, response, default_url=url)

    def _start_answer(self, status: int, response: Any, default_url: str | None = None) -> StartAnswer:
        retry_after = header(response.headers, "Retry-After")
        if status == 202:
            return StartAnswer(None, header(response.headers, "Location") or default_url, retry_after)
        return StartAnswer(parse_started(self._json(response)), None, retry_after)

    def get_execution(self, job: ContainerAppJobId, name: str) -> JobExecution:
        """JobExecution (get). :raises ApiError, TransportError:"""
        response = self._send("GET", self._app(job, f"/executions/{name}"))
        self._check(response)
        return parse_execution(self._json(response))

    def list_executions(self, job: ContainerAppJobId) -> list[JobExecution]:
        """JobsExecutions_List, every page (the service keeps the latest 100). :raises ApiError, TransportError:"""
        return [parse_execution(item) for item in self._pages(self._app(job, "/executions"))]

    def stop_execution(self, job: ContainerAppJobId, name: str) -> None:
        """Jobs_StopExecution -> 200, or 202 while it stops (its outcome shows in the execution's status).

        :raises ApiError, TransportError:
        """
        response = self._send("POST", self._app(job, f"/executions/{name}/stop"))
        self._check(response, (200, 202, 204))

    def pace_start(self, job: ContainerAppJobId) -> None:
        """Take the token for the start POST now (PacedError when there is none), before the attempt is recorded;
        ``start_execution`` then sends without asking the pacer again."""
        url = self._app(job, "/start")
        self._pace("POST", url)
        self._prepaid.add(("POST", url))
