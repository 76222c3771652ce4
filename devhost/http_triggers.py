"""Route HTTP requests to `@app.route` functions like the host: route templates, methods, function keys."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import azure.functions as func

from devhost.bindings import Bindings
from devhost.indexer import FunctionInfo
from devhost.server import Request, Response

log = logging.getLogger("devhost")
_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}?=]+)?(\?)?(?:=[^}]*)?\}")


@dataclass
class Route:
    info: FunctionInfo
    template: str
    pattern: re.Pattern[str]
    methods: set[str] | None
    auth_level: str


def compile_route(template: str) -> re.Pattern[str]:
    """A regex for an ASP.NET-style route template: {name}, {name?}, {name:constraint}, {*rest}."""
    regex = ""
    for segment in [s for s in template.strip("/").split("/") if s]:
        optional = bool(re.fullmatch(r"\{[^}]*\?\}", segment))
        part, last = "", 0
        for match in _PARAM.finditer(segment):
            part += re.escape(segment[last:match.start()])
            catch_all, name = match.group(1), match.group(2)
            part += f"(?P<{name}>.*)" if catch_all else f"(?P<{name}>[^/]+)"
            last = match.end()
        part += re.escape(segment[last:])
        regex += f"(?:/{part})?" if optional else f"/{part}"
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


def route_value(raw: str) -> str:
    """A route parameter as the host hands it to the function: percent-decoded (UTF-8), except an encoded '/'
    which ASP.NET Core routing leaves as %2F, so a value can never add a path segment."""
    return "%2F".join(unquote(piece) for piece in re.split("%2[fF]", raw))


def build_routes(functions: dict[str, FunctionInfo]) -> list[Route]:
    routes = []
    for info in functions.values():
        if info.trigger_type != "httpTrigger":
            continue
        template = str(info.trigger.get("route") or info.name)
        methods = {str(m).upper() for m in info.trigger.get("methods") or []} or None
        auth = str(info.trigger.get("authLevel") or "FUNCTION").upper()
        routes.append(Route(info, template, compile_route(template), methods, auth))
    # literal routes win over parameterised ones, as in ASP.NET routing
    routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))
    return routes


class HttpTriggers:
    """Dispatches /<routePrefix>/... requests to HTTP-triggered functions."""

    def __init__(self, functions: dict[str, FunctionInfo], function_key: str, master_key: str,
                 bindings: Bindings) -> None:
        self.routes = build_routes(functions)
        self.function_key = function_key
        self.master_key = master_key
        self.bindings = bindings

    def handle(self, request: Request, path: str) -> Response:
        """`path` is the request path after the route prefix, starting with '/'."""
        method, query, headers = request.method, request.query, request.headers
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None or (route.methods is not None and method not in route.methods):
                continue
            if not self._authorized(route.auth_level, query, headers):
                return 401, {}, b""
            params = {k: route_value(v) for k, v in match.groupdict().items() if v is not None}
            req = func.HttpRequest(method, request.url, headers=headers, params=query, route_params=params,
                                   body=request.body)
            try:
                returned = self.bindings.invoke(route.info, req)
            except Exception:
                log.exception("HTTP function %s failed", route.info.name)
                return 500, {}, b""
            return to_response(returned)
        return 404, {}, b""

    def _authorized(self, level: str, query: dict[str, str], headers: dict[str, str]) -> bool:
        if level == "ANONYMOUS":
            return True
        lowered = {k.lower(): v for k, v in headers.items()}
        key = query.get("code") or lowered.get("x-functions-key")
        allowed = {self.master_key} if level == "ADMIN" else {self.function_key, self.master_key}
        return key in allowed


def to_response(returned: Any) -> Response:
    """The function's $return as an HTTP response (HttpResponse, str/bytes, or nothing)."""
    if isinstance(returned, func.HttpResponse):
        headers = dict(returned.headers.items())
        if not any(k.lower() == "content-type" for k in headers) and returned.mimetype:
            headers["Content-Type"] = f"{returned.mimetype}; charset={returned.charset}"
        return returned.status_code, headers, returned.get_body() or b""
    if returned is None:
        return 204, {}, b""
    if isinstance(returned, bytes):
        return 200, {"Content-Type": "application/octet-stream"}, returned
    return 200, {"Content-Type": "text/plain; charset=utf-8"}, str(returned).encode()
