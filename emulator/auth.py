"""Managed-identity tokens: the App Service token endpoint, and ARM's bearer-token check.

Tokens are opaque random strings remembered with an expiry on the real wall clock (azure-identity computes
``expires_in`` from ``time.time()``), so token refresh can be tested with a short lifetime.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import ArmError

# Audiences ARM accepts for its own tokens (azure-identity strips "/.default" from the scope).
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
IDENTITY_PATH = "/msi/token"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # the tenant the emulated identity belongs to
IDENTITY_API_VERSION = "2019-08-01"
SYSTEM_ASSIGNED_CLIENT_ID = "00000000-0000-0000-0000-0000000e5e1f"


_KEEP_EXPIRED_SECONDS = 3600


@dataclass
class _Token:
    resource: str
    expires_on: float
    revoked_at: int | None = None


class TokenStore:
    """Issues and checks bearer tokens."""

    def __init__(self, lifetime_seconds: int = 3600) -> None:
        self.lifetime_seconds = lifetime_seconds
        self.identity_header = secrets.token_urlsafe(24)
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self.own_audiences: tuple[str, ...] = ()

    def issue(self, resource: str, client_id: str | None = None) -> dict[str, Any]:
        """The App Service protocol's answer (``expires_on`` as epoch seconds, in a string as App Service does)."""
        expires_on = int(time.time()) + self.lifetime_seconds
        token = _jwt(resource, client_id or SYSTEM_ASSIGNED_CLIENT_ID, expires_on)
        with self._lock:
            # Forget tokens an hour past expiry (a long-running emulator must not grow for ever); until then an
            # expired or revoked token still gets its specific 401 rather than "unknown token".
            stale = time.time() - _KEEP_EXPIRED_SECONDS
            for old in [t for t, v in self._tokens.items() if v.expires_on < stale]:
                del self._tokens[old]
            self._tokens[token] = _Token(resource, expires_on)
        return {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id or SYSTEM_ASSIGNED_CLIENT_ID,
        }

    def revoke_all(self) -> int:
        """Make every token issued so far expired; the next ARM call with one of them gets 401."""
        now = time.time() - 1
        with self._lock:
            for token in self._tokens.values():
                token.expires_on = min(token.expires_on, now)
                token.revoked_at = token.revoked_at or int(now)
            return len(self._tokens)

    def check(self, authorization: str | None) -> None:
        """Raise ARM's 401 unless ``authorization`` carries a known, unexpired token for ARM."""
        if not authorization:
            raise _unauthorized(
                "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                "The authentication failed because of missing 'Authorization' header.",
            )
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized(
                "InvalidAuthenticationToken", "The access token is invalid.",
                "The authentication failed because of missing 'Bearer' scheme.",
            )
        with self._lock:
            token = self._tokens.get(value.strip())
        if token is None:
            raise _unauthorized("InvalidAuthenticationToken", "The access token is invalid.",
                                "The access token is invalid.")
        audiences = {a.rstrip("/").lower() for a in (*ARM_AUDIENCES, *self.own_audiences)}
        if token.resource.rstrip("/").lower() not in audiences:
            raise _unauthorized(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{token.resource}'. "
                f"It should exactly match with one of the allowed audiences '{', '.join(ARM_AUDIENCES)}'.",
                "The access token has been obtained for a wrong audience.",
            )
        now = time.time()
        if token.expires_on <= now:
            expired = _dotnet_time(token.expires_on)
            current = _dotnet_time(now)
            message = f"The access token expiry UTC time '{expired}' is earlier than current UTC time '{current}'."
            claims = _revocation_claims(token.revoked_at) if token.revoked_at is not None else None
            raise _unauthorized("ExpiredAuthenticationToken", message, message, claims)

    def identity_response(self, query: dict[str, str], header: str | None) -> tuple[int, dict[str, Any]]:
        """Answer ``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=...`` as App Service does."""
        if header != self.identity_header:
            return 401, {"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER is missing or wrong."}
        if query.get("api-version") != IDENTITY_API_VERSION:
            return 400, {"statusCode": 400, "message": f"api-version must be {IDENTITY_API_VERSION}."}
        resource = query.get("resource", "")
        if not resource:
            return 400, {"statusCode": 400, "message": "The resource parameter is required."}
        # A user-assigned identity is named by client_id, mi_res_id or object_id (msal's App Service mapping).
        return 200, self.issue(resource, query.get("client_id"))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(resource: str, client_id: str, expires_on: int) -> str:
    """A token shaped like Entra's (header.payload.signature, base64url JSON claims: aud, iss, iat, nbf, exp, oid,
    appid, tid, xms_mirid). The signature is random: the emulator checks tokens by lookup, never by verifying it,
    and a client must treat a token as opaque anyway."""
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
    claims = {"aud": resource.rstrip("/"), "iss": f"https://sts.windows.net/{TENANT_ID}/", "iat": now, "nbf": now,
              "exp": expires_on, "oid": str(uuid.uuid5(uuid.NAMESPACE_OID, client_id)), "appid": client_id,
              "tid": TENANT_ID, "idtyp": "app", "uti": secrets.token_urlsafe(16)}
    parts = [json.dumps(part, separators=(",", ":")).encode() for part in (header, claims)]
    return ".".join([*(_b64url(part) for part in parts), _b64url(secrets.token_bytes(64))])


def _unauthorized(code: str, message: str, description: str, claims: str | None = None) -> ArmError:
    challenge = 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
    if claims is None:
        challenge += f'error="invalid_token", error_description="{description}"'
    else:
        # A revoked token gets a Continuous Access Evaluation challenge, as ARM sends: the claims tell the
        # client's credential to skip its cache, so azure-core based clients recover on their own.
        challenge += f'error="insufficient_claims", error_description="{description}", claims="{claims}"'
    return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})


def _revocation_claims(revoked_at: int) -> str:
    claims = {"access_token": {"nbf": {"essential": True, "value": str(revoked_at)}}}
    return base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")


def _dotnet_time(epoch: float) -> str:
    """ARM's message timestamp, e.g. 11/25/2026 3:04:05 AM."""
    dt = datetime.fromtimestamp(epoch, UTC)
    hour = dt.hour % 12 or 12
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d}:{dt.second:02d} {'AM' if dt.hour < 12 else 'PM'}"
