"""HTTP route: the pre-flight of a restore, without the restore.

  GET /api/preflight?backupInstance=...&containerUrl=...[&recoveryPoint=latest|<id>][&loadServer=<ARM id>]

The same checks a restore runs before validating (pgflex_restore/preflight.py), made here and now with the same
activities, one after another (no durable retries: a read that fails is a warning, as in a restore). The
parameters are held to the restore request's rules (allowlists included: 403 for a container or server off
them), and every 4xx names its parameter in ``error.target``. 200 with the findings whatever they say: ``ok``
is false when one blocks.
"""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities.preflight import check_now
from pgflex_restore.errors import ConfigurationError, FieldError, RequestValidationError
from pgflex_restore.models import RestoreRequest
from pgflex_restore.preflight import PreflightTarget, record
from pgflex_restore.settings import Settings, get_settings

bp = df.Blueprint()

PARAMETERS = ("backupInstance", "containerUrl", "recoveryPoint", "loadServer")
# A restore request's field paths, as this route's query parameters.
_PARAMETER_OF = {"target": "containerUrl", "target.containerUrl": "containerUrl", "load": "loadServer",
                 "load.server": "loadServer", "request": "backupInstance"}


def _json(status: int, body: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def request_of(params: dict[str, str], settings: Settings) -> RestoreRequest:
    """The restore request the parameters describe, held to the same rules (RequestValidationError names the
    query parameters, not the request's fields)."""
    wire: dict[str, Any] = {"backupInstance": params.get("backupInstance") or None,
                            "recoveryPoint": params.get("recoveryPoint") or "latest",
                            "target": {"containerUrl": params.get("containerUrl") or None}}
    if params.get("loadServer"):
        wire["load"] = {"server": params["loadServer"]}
    try:
        return RestoreRequest.from_dict(wire, allowlist=settings.restore_target_allowlist,
                                        load_allowlist=settings.load_target_allowlist)
    except RequestValidationError as exc:
        raise RequestValidationError([FieldError(_PARAMETER_OF.get(e.path, e.path.split(".")[0]), e.message, e.code)
                                      for e in exc.errors]) from None


def target_of(request: RestoreRequest) -> PreflightTarget:
    """What the route checks: the request's point is read first, as the restore would choose it."""
    wire = request.to_dict()
    return PreflightTarget(str(request.backup_instance), request.target_container_url, point_request=wire,
                           load_server=str(request.load.server) if request.load is not None else None)


@bp.route(route="preflight", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def preflight_http(req: func.HttpRequest) -> func.HttpResponse:
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        return _json(500, {"error": {"code": "ConfigurationError", "message": str(exc)}})
    try:
        request = request_of({name: req.params.get(name) or "" for name in PARAMETERS}, settings)
    except RequestValidationError as exc:
        return _json(403 if exc.target_not_allowed else 400, exc.to_dict())
    findings, sent = check_now(target_of(request))
    summary = record(findings)
    return _json(200, {"backupInstance": str(request.backup_instance), "containerUrl": request.target_container_url,
                       "recoveryPoint": req.params.get("recoveryPoint") or "latest",
                       "loadServer": str(request.load.server) if request.load is not None else None,
                       "ok": summary["blocking"] == 0, **summary, "armCalls": sent})
