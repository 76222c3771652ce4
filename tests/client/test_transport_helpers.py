"""The client's classification of transport failures and CAE challenges (pure helpers, no sockets)."""

from __future__ import annotations

import base64

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from pgflex_restore.client import _challenge_claims, _never_sent


def _response(challenge: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 401
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    return response


def test_never_sent_classification() -> None:
    """Connect refusal/timeout and TLS failures were never sent; read timeouts and drops may have been."""
    refused = requests.exceptions.ConnectionError(
        MaxRetryError(None, "/x", NewConnectionError(None, "Connection refused")))  # type: ignore[arg-type]
    dropped = requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))
    assert _never_sent(requests.exceptions.ConnectTimeout())
    assert _never_sent(requests.exceptions.SSLError())
    assert _never_sent(refused)
    assert not _never_sent(requests.exceptions.ReadTimeout())
    assert not _never_sent(dropped)
    looped = requests.exceptions.ConnectionError("x")
    looped.__context__ = looped
    assert not _never_sent(looped)


def test_challenge_claims() -> None:
    """Claims are base64url-decoded; undecodable claims pass through raw; no challenge gives None."""
    claims = '{"access_token":{"nbf":{"essential":true}}}'
    encoded = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
    assert _challenge_claims(_response(f'Bearer error="insufficient_claims", claims="{encoded}"')) == claims
    assert _challenge_claims(_response('Bearer claims="%%%"')) == "%%%"
    assert _challenge_claims(_response('Bearer error="invalid_token"')) is None
    assert _challenge_claims(_response(None)) is None
