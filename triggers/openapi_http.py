"""The HTTP contract: ``GET /api/openapi.json``, the OpenAPI 3.1 document of every route (pgflex_restore/openapi.py).

Function-key level like every other route, although the document holds nothing secret. An anonymous route would
let API Management or a client generator fetch it without a key, but it would also be the one thing on the app a
stranger can read: it names the app, its routes and its settings, which helps someone probing for this app and
helps nobody else, since every operation it describes needs the key anyway. Whoever may call the API can fetch
the contract (``?code=<key>`` works for tools that take only a URL), and the document is the same for every app
but its ``servers``, so it can also be saved once and imported from the file.
"""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func

from pgflex_restore.openapi import ROUTE_PREFIX, openapi_document

bp = df.Blueprint()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def openapi_http(req: func.HttpRequest) -> func.HttpResponse:
    """The document, with the scheme and host this request came to as its server."""
    url: str = req.url
    server = url.split(f"{ROUTE_PREFIX}/", 1)[0]
    return func.HttpResponse(json.dumps(openapi_document(server)), status_code=200, mimetype="application/json",
                             headers={"Cache-Control": "no-cache"})
