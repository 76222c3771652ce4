"""The Microsoft.DataProtection routes this app uses, as the swagger defines them per api-version."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import resources
from .errors import ArmError, not_found
from .paging import page, parse_filter, time_window
from .scenario import BackupInstance, Vault
from .spec import API_VERSIONS, validator
from .state import EmulatorState, Operation

V2021, V2026 = API_VERSIONS
_PROVIDER = r"/providers/Microsoft\.DataProtection"
_BV = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)" + _PROVIDER + r"/backupVaults/(?P<vault>[^/]+)"
_BI = _BV + r"/backupInstances/(?P<bi>[^/]+)"
_LOC = r"/subscriptions/(?P<sub>[^/]+)" + _PROVIDER + r"/locations/(?P<loc>[^/]+)"


@dataclass
class Request:
    """What a route handler needs from one HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    raw_body: bytes
    api_version: str
    base: str  # scheme://host:port the client used
    params: dict[str, str]
    caller: str | None = None  # the client id of the bearer token (what 403 messages name)

    def json(self) -> Any:
        if not self.raw_body.strip():
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized: the request body is empty.")
        try:
            return json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           f"deserialized: '{exc}'.") from None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None


Handler = Callable[[EmulatorState, Request], Response]


class ArmRoutes:
    """Route table: (method, compiled path, api-versions, handler)."""

    def __init__(self) -> None:
        both = (V2021, V2026)
        self.table: list[tuple[str, re.Pattern[str], tuple[str, ...], Handler]] = [
            ("GET", _route(_BV), both, get_vault),
            ("GET", _route(_BV + "/backupInstances"), both, list_instances),
            ("GET", _route(_BI), both, get_instance),
            ("GET", _route(_BI + "/recoveryPoints"), both, list_recovery_points),
            ("GET", _route(_BI + "/recoveryPoints/(?P<rp>[^/]+)"), both, get_recovery_point),
            ("POST", _route(_BI + "/validateRestore"), both, validate_restore),
            ("POST", _route(_BI + "/restore"), both, trigger_restore),
            ("GET", _route(_BV + "/backupJobs"), both, list_jobs),
            ("GET", _route(_BV + "/backupJobs/(?P<job>[^/]+)"), both, get_job),
            ("GET", _route(_LOC + "/operationStatus/(?P<op>[^/]+)"), both, operation_status),
            ("GET", _route(_LOC + "/operationResults/(?P<op>[^/]+)"), both, operation_result),
            ("GET", _route(_BV + "/operationStatus/(?P<op>[^/]+)"), (V2026,), operation_status),
            ("GET", _route(_BI + "/operationResults/(?P<op>[^/]+)"), (V2026,), instance_operation_result),
            ("GET", _route(r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)" + _PROVIDER
                           + "/operationStatus/(?P<op>[^/]+)"), (V2026,), operation_status),
        ]
        # The load step's and the pre-flight's providers build on Request and Response (above), so they are
        # imported here.
        from . import containerapps, flexservers, storagearm

        for method, pattern, versions, handler in (*containerapps.routes(), *flexservers.routes(),
                                                   *storagearm.routes()):
            self.table.append((method, _route(pattern), versions, handler))

    def match(self, method: str, path: str, api_version: str) -> tuple[Handler, dict[str, str]]:
        """The handler for a request, or ARM's 404 / 405."""
        wrong_method = False
        for route_method, pattern, versions, handler in self.table:
            found = pattern.fullmatch(path)
            if not found:
                continue
            if route_method != method:
                wrong_method = True
                continue
            if api_version not in versions:
                break
            return handler, found.groupdict()
        if wrong_method:
            raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
        raise ArmError(404, "NotFound", f"No HTTP resource was found that matches the request URI '{path}' "
                       f"for api-version '{api_version}'.")


def _route(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern + "/?", re.IGNORECASE)


def _vault(state: EmulatorState, p: dict[str, str]) -> Vault:
    scenario = state.scenario
    if not scenario.has_subscription(p["sub"]):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{p['sub']}' could not be found.")
    if not scenario.has_resource_group(p["sub"], p["rg"]):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{p['rg']}' could not be found.")
    vault = scenario.vault(p["sub"], p["rg"], p["vault"])
    if vault is None:
        raise not_found("Microsoft.DataProtection/backupVaults", p["vault"], p["rg"])
    return vault


def _instance(state: EmulatorState, p: dict[str, str]) -> tuple[Vault, BackupInstance]:
    vault = _vault(state, p)
    instance = next((bi for name, bi in vault.backup_instances.items() if name.lower() == p["bi"].lower()), None)
    if instance is None:
        raise not_found(f"Microsoft.DataProtection/backupVaults/{vault.name}/backupInstances", p["bi"], p["rg"])
    return vault, instance


def get_vault(state: EmulatorState, req: Request) -> Response:
    return Response(200, resources.backup_vault(_vault(state, req.params), req.api_version))


def list_instances(state: EmulatorState, req: Request) -> Response:
    vault = _vault(state, req.params)
    items = [resources.backup_instance(vault, bi, req.api_version) for bi in vault.backup_instances.values()]
    return Response(200, page(items, req.query, req.base, req.path, state.scenario.page_size))


def get_instance(state: EmulatorState, req: Request) -> Response:
    vault, instance = _instance(state, req.params)
    return Response(200, resources.backup_instance(vault, instance, req.api_version))


def list_recovery_points(state: EmulatorState, req: Request) -> Response:
    vault, instance = _instance(state, req.params)
    start, end = time_window(parse_filter(req.query.get("$filter")))
    points = instance.recovery_points  # newest first: the time window is a slice found by bisection
    newest_first = lambda rp: -rp.time.timestamp()  # noqa: E731
    low = 0 if end is None else bisect.bisect_left(points, -end.timestamp(), key=newest_first)
    high = len(points) if start is None else bisect.bisect_right(points, -start.timestamp(), key=newest_first)
    return Response(200, page(points[low:high], req.query, req.base, req.path, state.scenario.page_size,
                              render=lambda rp: resources.recovery_point(vault, instance, rp, req.api_version)))


def get_recovery_point(state: EmulatorState, req: Request) -> Response:
    vault, instance = _instance(state, req.params)
    point = instance.recovery_point(req.params["rp"])
    if point is None:
        raise not_found(f"Microsoft.DataProtection/backupVaults/{vault.name}/backupInstances/{instance.name}"
                        "/recoveryPoints", req.params["rp"], vault.resource_group)
    return Response(200, resources.recovery_point(vault, instance, point, req.api_version))


def _async_headers(req: Request, op: Operation) -> dict[str, str]:
    """Azure-AsyncOperation (location-scoped in 2021-07-01, vault-scoped in 2026-06-01), Location, Retry-After."""
    vault = op.vault
    location_scope = f"{req.base}/subscriptions/{vault.subscription}/providers/Microsoft.DataProtection" \
                     f"/locations/{vault.location}"
    if req.api_version == V2021:
        status_url = f"{location_scope}/operationStatus/{op.id}"
    else:
        status_url = f"{req.base}{vault.id}/operationStatus/{op.id}"
    query = f"?api-version={req.api_version}"
    # 2026-06-01 answers with the instance-scoped operation result (BackupInstances_GetBackupInstanceOperationResult),
    # as its TriggerRestore examples do; 2021-07-01 with the location-scoped one.
    result_url = f"{location_scope}/operationResults/{op.id}" if req.api_version == V2021 else \
        f"{req.base}{vault.id}/backupInstances/{op.instance.name}/operationResults/{op.id}"
    return {
        "Azure-AsyncOperation": status_url + query,
        "Location": result_url + query,
        "Retry-After": str(op.retry_after),
    }


def validate_restore(state: EmulatorState, req: Request) -> Response:
    vault, instance = _instance(state, req.params)
    body = req.json()
    validator(req.api_version).validate("ValidateRestoreRequestObject", body)
    op = state.validate(vault, instance, body["restoreRequestObject"], req.api_version)
    return Response(202, None, _async_headers(req, op))


def trigger_restore(state: EmulatorState, req: Request) -> Response:
    vault, instance = _instance(state, req.params)
    body = req.json()
    validator(req.api_version).validate("AzureBackupRestoreRequest", body)
    op = state.restore(vault, instance, body, req.api_version)
    return Response(202, None, _async_headers(req, op))


def _operation(state: EmulatorState, p: dict[str, str]) -> Operation:
    op = state.operations.get(p["op"])
    missing = ArmError(404, "ResourceNotFound", f"The operation '{p['op']}' was not found.")
    if op is None or op.vault.subscription.lower() != p["sub"].lower():
        raise missing
    if "loc" in p and p["loc"].replace(" ", "").lower() != op.vault.location.replace(" ", "").lower():
        raise missing
    if "rg" in p and p["rg"].lower() != op.vault.resource_group.lower():
        raise missing
    if "vault" in p and p["vault"].lower() != op.vault.name.lower():
        raise missing
    return op


def operation_status(state: EmulatorState, req: Request) -> Response:
    """The OperationResource; while it runs, with the Retry-After the scenario gives status answers."""
    op = _operation(state, req.params)
    status_id = req.path.rstrip("/")
    now = state.now()
    body = resources.operation_status(op, status_id, now, state.scenario.status_spelling)
    if op.done(now):
        return Response(200, body)
    setting = op.instance.timings.status_retry_after
    retry_after = None if setting == "absent" else str(op.retry_after if setting == "same" else int(setting))
    return Response(200, body, {"Retry-After": retry_after} if retry_after is not None else {})


def operation_result(state: EmulatorState, req: Request) -> Response:
    op = _operation(state, req.params)
    if not op.done(state.now()):
        return Response(202, None, _async_headers(req, op))
    _raise_failure(op)
    return Response(200, resources.operation_result(op))


def _raise_failure(op: Operation) -> None:
    """A finished operation that failed answers its result URL with the failure as a CloudError."""
    if op.error is not None:
        code = str(op.error.get("code", ""))
        status = 409 if code.endswith(("AlreadyExists", "InProgress")) else 400
        raise ArmError(status, code, str(op.error.get("message", "")), target=op.error.get("target"))


def instance_operation_result(state: EmulatorState, req: Request) -> Response:
    """2026-06-01's instance-scoped result route (the Location of validateRestore and restore): 202 while the
    operation runs, then its OperationJobExtendedInfo, the final-state-schema both operations declare."""
    _, instance = _instance(state, req.params)
    op = _operation(state, req.params)
    if op.instance is not instance:
        raise ArmError(404, "ResourceNotFound", f"The operation '{req.params['op']}' was not found.")
    return operation_result(state, req)


def list_jobs(state: EmulatorState, req: Request) -> Response:
    vault = _vault(state, req.params)
    now = state.now()
    jobs = sorted(state.vault_jobs(vault), key=lambda j: j.start, reverse=True)
    items = [resources.job(j, now, req.api_version) for j in jobs]
    return Response(200, page(items, req.query, req.base, req.path, state.scenario.page_size))


def get_job(state: EmulatorState, req: Request) -> Response:
    vault = _vault(state, req.params)
    job = state.find_job(vault, req.params["job"])
    if job is None:
        raise not_found(f"Microsoft.DataProtection/backupVaults/{vault.name}/backupJobs", req.params["job"],
                        vault.resource_group)
    return Response(200, resources.job(job, state.now(), req.api_version))
