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
from collections.abc import Callable
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
# Entra tokens used as PostgreSQL passwords (flexible server's Microsoft Entra authentication).
OSSRDBMS_RESOURCE = "https://ossrdbms-aad.database.windows.net"
# Like the platform's token endpoint, a cached token is handed out again while this much of its life is left, so
# the password a database token sets stays the same across a loader's calls.
_REUSE_FRACTION = 0.25
_UNKNOWN_IDENTITY = "Unable to load the proper Managed Identity."

# (resource, client id, token, expires_on epoch seconds): called before a token is answered.
IssueHook = Callable[[str, str, str, int], None]


_KEEP_EXPIRED_SECONDS = 3600


@dataclass
class _Token:
    resource: str
    expires_on: float
    revoked_at: int | None = None
    client_id: str = SYSTEM_ASSIGNED_CLIENT_ID
    issued_on: float = 0.0


class TokenStore:
    """Issues and checks bearer tokens."""

    def __init__(self, lifetime_seconds: int = 3600) -> None:
        self.lifetime_seconds = lifetime_seconds
        self.identity_header = secrets.token_urlsafe(24)
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._issue_lock = threading.RLock()  # a database token and the password it sets are one step
        self.own_audiences: tuple[str, ...] = ()
        self.lifetimes: dict[str, int] = {}  # resource (lower case, no trailing slash) -> lifetime seconds
        self.on_issue: IssueHook | None = None
        # Identity headers of job executions: header -> the client ids of the job's identities (the system
        # identity as SYSTEM_ASSIGNED_CLIENT_ID); a container may only get tokens for its job's identities.
        self._scoped_headers: dict[str, tuple[str, ...]] = {}

    def lifetime_for(self, resource: str) -> int:
        return self.lifetimes.get(resource.rstrip("/").lower(), self.lifetime_seconds)

    def set_lifetime(self, resource: str, seconds: int | None) -> None:
        """Tokens for ``resource`` live ``seconds`` (None: the store's default), e.g. to expire one mid-load."""
        key = resource.rstrip("/").lower()
        if seconds is None:
            self.lifetimes.pop(key, None)
        else:
            self.lifetimes[key] = int(seconds)

    def issue(self, resource: str, client_id: str | None = None) -> dict[str, Any]:
        """The App Service protocol's answer (``expires_on`` as epoch seconds, in a string as App Service does)."""
        client = client_id or SYSTEM_ASSIGNED_CLIENT_ID
        with self._issue_lock:
            token, expires_on = self._reusable(resource, client) or self._new(resource, client)
            if self.on_issue is not None:
                self.on_issue(resource, client, token, expires_on)
        return {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client,
        }

    def _new(self, resource: str, client: str) -> tuple[str, int]:
        now = time.time()
        expires_on = int(now) + self.lifetime_for(resource)
        token = _jwt(resource, client, expires_on)
        with self._lock:
            # Forget tokens an hour past expiry (a long-running emulator must not grow for ever); until then an
            # expired or revoked token still gets its specific 401 rather than "unknown token".
            stale = now - _KEEP_EXPIRED_SECONDS
            for old in [t for t, v in self._tokens.items() if v.expires_on < stale]:
                del self._tokens[old]
            self._tokens[token] = _Token(resource, expires_on, client_id=client, issued_on=now)
        return token, expires_on

    def _reusable(self, resource: str, client: str) -> tuple[str, int] | None:
        """The newest database token of this identity with enough life left (ARM tokens are always new)."""
        if resource.rstrip("/").lower() != OSSRDBMS_RESOURCE:
            return None
        now = time.time()
        with self._lock:
            candidates = [(v.issued_on, t, v) for t, v in self._tokens.items()
                          if v.resource.rstrip("/").lower() == OSSRDBMS_RESOURCE and v.client_id == client
                          and v.revoked_at is None]
        if not candidates:
            return None
        _, token, value = max(candidates, key=lambda c: c[0])
        left = value.expires_on - now
        if left < max(1.0, (value.expires_on - value.issued_on) * _REUSE_FRACTION):
            return None
        return token, int(value.expires_on)

    def scope_header(self, client_ids: tuple[str, ...]) -> str:
        """A new identity header for one job execution, good only for the job's identities."""
        header = secrets.token_urlsafe(24)
        with self._lock:
            self._scoped_headers[header] = client_ids
        return header

    def drop_header(self, header: str) -> None:
        with self._lock:
            self._scoped_headers.pop(header, None)

    def client_of(self, authorization: str | None) -> str | None:
        """The client id a bearer token was issued to (None for an unknown token)."""
        if not authorization:
            return None
        with self._lock:
            token = self._tokens.get(authorization.partition(" ")[2].strip())
        return token.client_id if token is not None else None

    def audience_of(self, authorization: str | None) -> str | None:
        """The resource a known, unexpired ``Bearer`` token was issued for, else None: a stand-in for another
        Azure service (an Event Grid topic in the tests) checks the app's token as that service would."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            token = self._tokens.get(value.strip())
        if token is None or token.expires_on <= time.time():
            return None
        return token.resource.rstrip("/")

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
        with self._lock:
            scoped = self._scoped_headers.get(header or "")
        if header != self.identity_header and scoped is None:
            return 401, {"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER is missing or wrong."}
        if query.get("api-version") != IDENTITY_API_VERSION:
            return 400, {"statusCode": 400, "message": f"api-version must be {IDENTITY_API_VERSION}."}
        resource = query.get("resource", "")
        if not resource:
            return 400, {"statusCode": 400, "message": "The resource parameter is required."}
        # A user-assigned identity is named by client_id, mi_res_id or object_id (msal's App Service mapping).
        client_id = query.get("client_id")
        if scoped is not None and (client_id or SYSTEM_ASSIGNED_CLIENT_ID) not in scoped:
            return 400, {"statusCode": 400, "message": _UNKNOWN_IDENTITY}
        try:
            return 200, self.issue(resource, client_id)
        except Exception as exc:  # the hook reaches a database; answer like the platform, never drop the socket
            return 500, {"statusCode": 500, "message": f"Token could not be issued: {type(exc).__name__}: {exc}"}


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
