"""Microsoft.DBforPostgreSQL flexible servers: the server itself and its parameters (``azure.extensions``), as the
load step reads and changes them, validated against the derived description in emulator/api/.

A parameter change answers 202 only, with an absolute Azure-AsyncOperation and Location; when its operation
succeeds, ``azure.extensions`` is applied to the mapped local PostgreSQL (see loadstate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .arm import Handler, Request, Response
from .auth import TENANT_ID
from .clock import arm_time
from .errors import ArmError, check_scope, not_found
from .loadscenario import FlexibleServer
from .loadstate import ConfigOperation
from .spec import checked, provider_validator

if TYPE_CHECKING:
    from .state import EmulatorState

VERSIONS = ("2025-08-01", "2026-10-01")
# The api-version of the operation URLs a parameter change answers with, as the service's example shows them: a
# client must follow them as received, not with its own api-version.
OPERATION_VERSION = "2025-06-01-preview"
_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"
_PG = "microsoft.dbforpostgresql"
_S = (r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.DBforPostgreSQL"
      r"/flexibleServers/(?P<server>[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*)")
_C = _S + r"/configurations/(?P<conf>[-\w\._]{1,256})"
_LOC = r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.DBforPostgreSQL/locations/(?P<loc>[^/]+)"
SOURCES = ("user-override", "system-default")


def routes() -> list[tuple[str, str, tuple[str, ...], Handler]]:
    return [
        ("GET", _S, VERSIONS, get_server),
        ("GET", _C, VERSIONS, get_configuration),
        ("PUT", _C, VERSIONS, put_configuration),
        ("PATCH", _C, VERSIONS, put_configuration),
        ("GET", _LOC + r"/azureAsyncOperation/(?P<op>[^/]+)", (*VERSIONS, OPERATION_VERSION), operation_status),
        ("GET", _LOC + r"/operationResults/(?P<op>[^/]+)", (*VERSIONS, OPERATION_VERSION), operation_result),
    ]


def _server(state: EmulatorState, req: Request, action: str) -> FlexibleServer:
    p = req.params
    scenario = state.scenario
    server = scenario.server(p["sub"], p["rg"], p["server"])
    check_scope(scenario, p, req.caller, action, server)
    if server is None:
        raise not_found(_TYPE, p["server"], p["rg"])
    return server


def server_resource(state: EmulatorState, server: FlexibleServer) -> dict[str, Any]:
    """The Server: the host, the major version (the mapped PostgreSQL's, unless the scenario names one), state."""
    major, minor = state.load.server_versions.get(server.id.lower(), (server.version or "16", ""))
    major = server.version or major
    properties: dict[str, Any] = {
        "administratorLogin": server.administrator_login,
        "version": major,
        "minorVersion": minor or f"{major}.0",
        "state": server.state,
        "fullyQualifiedDomainName": server.fqdn,
        "storage": {"storageSizeGB": 128, "autoGrow": "Disabled", "tier": "P10", "type": "Premium_LRS"},
        "authConfig": {"activeDirectoryAuth": server.active_directory_auth, "passwordAuth": server.password_auth,
                       "tenantId": TENANT_ID if server.active_directory_auth == "Enabled" else ""},
        "dataEncryption": {"type": "SystemManaged"},
        "backup": {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"},
        "network": {"publicNetworkAccess": server.public_network_access},
        "highAvailability": {"mode": "Disabled", "state": "NotEnabled"},
        "maintenanceWindow": {"customWindow": "Disabled", "dayOfWeek": 0, "startHour": 0, "startMinute": 0},
        "availabilityZone": "1",
        "replicationRole": "Primary",
        "replicaCapacity": 5,
    }
    return {"id": server.id, "name": server.name, "type": _TYPE, "location": server.location, "tags": server.tags,
            "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"}, "properties": properties}


def configuration_resource(state: EmulatorState, server: FlexibleServer, name: str) -> dict[str, Any]:
    conf = server.configuration(name)
    assert conf is not None
    value, source = state.load.config_value(server, name)
    pending = not conf.is_dynamic and value != conf.value
    properties: dict[str, Any] = {
        "value": value, "description": conf.description, "defaultValue": conf.default_value,
        "dataType": conf.data_type, "allowedValues": conf.allowed_values, "source": source,
        "isDynamicConfig": conf.is_dynamic, "isReadOnly": False, "isConfigPendingRestart": pending,
        "documentationLink": "https://go.microsoft.com/fwlink/?linkid=2274269",
    }
    canonical = next(n for n in server.configurations if n.lower() == name.lower())
    return {"id": f"{server.id}/configurations/{canonical}", "name": canonical,
            "type": f"{_TYPE}/configurations", "properties": properties}


def get_server(state: EmulatorState, req: Request) -> Response:
    server = _server(state, req, f"{_TYPE}/read")
    return Response(200, checked(_PG, "Server", server_resource(state, server)))


def _configuration_name(server: FlexibleServer, req: Request) -> str:
    name = req.params["conf"]
    if server.configuration(name) is None:
        raise not_found(f"{_TYPE}/{server.name}/configurations", name, server.resource_group)
    return name


def get_configuration(state: EmulatorState, req: Request) -> Response:
    server = _server(state, req, f"{_TYPE}/configurations/read")
    return Response(200, checked(_PG, "Configuration",
                                 configuration_resource(state, server, _configuration_name(server, req))))


def put_configuration(state: EmulatorState, req: Request) -> Response:
    """PUT and PATCH: 202 only; the value must be among allowedValues (each item, for a Set)."""
    server = _server(state, req, f"{_TYPE}/configurations/write")
    name = _configuration_name(server, req)
    body = req.json()
    provider_validator(_PG).validate("ConfigurationForUpdate", body)
    properties = body.get("properties") if isinstance(body, dict) else None
    for key in ("value", "source"):
        if not isinstance(properties, dict) or not isinstance(properties.get(key), str):
            raise ArmError(400, "InvalidParameterValue", f"The property 'properties.{key}' is required to update "
                           f"server parameter '{name}'.", target=f"properties.{key}")
    assert isinstance(properties, dict)
    value, source = str(properties["value"]), str(properties["source"])
    if source not in SOURCES:
        raise ArmError(400, "InvalidParameterValue", f"Invalid source '{source}'; use one of {', '.join(SOURCES)}.",
                       target="properties.source")
    _check_allowed(server, name, value)
    op = state.load.change_config(server, name, value, source)
    return Response(202, None, _async_headers(req, server, op))


def _check_allowed(server: FlexibleServer, name: str, value: str) -> None:
    conf = server.configuration(name)
    assert conf is not None
    allowed = {v.strip().lower() for v in conf.allowed_values.split(",") if v.strip()}
    items = [v.strip() for v in value.split(",") if v.strip()] if conf.data_type == "Set" else [value]
    bad = [v for v in items if allowed and v.lower() not in allowed]
    if bad:
        raise ArmError(400, "InvalidParameterValue",
                       f"Invalid value given for parameter '{name}': '{', '.join(bad)}' is not among its allowed "
                       "values. Specify a valid parameter value.", target="properties.value")


def _async_headers(req: Request, server: FlexibleServer, op: ConfigOperation) -> dict[str, str]:
    scope = (f"{req.base}/subscriptions/{server.subscription}/providers/Microsoft.DBforPostgreSQL/locations/"
             f"{server.location.replace(' ', '').lower()}")
    query = f"?api-version={OPERATION_VERSION}"
    return {"Azure-AsyncOperation": f"{scope}/azureAsyncOperation/{op.id}{query}",
            "Location": f"{scope}/operationResults/{op.id}{query}", "Retry-After": str(op.retry_after)}


def _operation(state: EmulatorState, req: Request) -> ConfigOperation:
    op = state.load.config_operations.get(req.params["op"])
    location = req.params["loc"].replace(" ", "").lower()
    if (op is None or op.server.subscription.lower() != req.params["sub"].lower()
            or op.server.location.replace(" ", "").lower() != location):
        raise ArmError(404, "ResourceNotFound", f"The operation '{req.params['op']}' was not found.")
    return op


def operation_status(state: EmulatorState, req: Request) -> Response:
    """The async operation resource; terminal at Succeeded or Failed, Retry-After while in progress."""
    op = _operation(state, req)
    now = state.now()
    status = op.status(now)
    body: dict[str, Any] = {"id": req.path.rstrip("/"), "name": op.id, "status": status,
                            "startTime": arm_time(op.start)}
    if status == "InProgress":
        return Response(200, checked(_PG, "OperationStatus", body), {"Retry-After": str(op.retry_after)})
    body["endTime"] = arm_time(op.end)
    if op.error is not None:
        body["error"] = {"code": str(op.error.get("code")), "message": str(op.error.get("message", ""))}
    return Response(200, checked(_PG, "OperationStatus", body))


def operation_result(state: EmulatorState, req: Request) -> Response:
    """The Location: 202 while running, then the Configuration (or the failure as an error)."""
    op = _operation(state, req)
    if op.status(state.now()) == "InProgress":
        return Response(202, None, _async_headers(req, op.server, op))
    if op.error is not None:
        code = str(op.error.get("code", "InternalServerError"))
        raise ArmError(500 if code == "InternalServerError" else 400, code, str(op.error.get("message", "")))
    return Response(200, checked(_PG, "Configuration", configuration_resource(state, op.server, op.name)))
