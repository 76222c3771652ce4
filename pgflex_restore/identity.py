"""The app's token credential: on Azure Functions, one GET to the platform's managed-identity endpoint.

Why not azure-identity there: importing it (with azure-core, msal and cryptography) costs a cold worker 0.1 s or
more on its first ARM call, more than everything else the app adds to the Functions libraries' import (see
bench/cold_start.py and docs/performance.md, section 5). App Service and Azure Functions serve managed-identity
tokens on a local endpoint (``IDENTITY_ENDPOINT``, guarded by the ``IDENTITY_HEADER`` secret, API version
2019-08-01); a token is one GET with ``requests``, which the app imports anyway. Everywhere else (a developer's
machine, Service Fabric, Arc, a service principal in the environment) `make_credential` keeps azure-identity,
imported only then.

`AppServiceIdentityCredential` has the shape azure-core's pipelines call (``get_token`` and ``get_token_info``),
so the ARM client and the storage SDKs share it. Its cache follows msal's rules, so it behaves as
ManagedIdentityCredential does on the same host: a token is reused until five minutes before it expires (or half
its life, for tokens of two hours or more), a ``claims`` challenge skips the cache, and if a refresh fails while
the cached token is still good for five minutes, that token is used. Tokens are never logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import requests

from .errors import DataProtectionError
from .target_urls import without_query

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from .settings import Settings

__all__ = [
    "CREDENTIAL_ENV",
    "AccessToken",
    "AccessTokenInfo",
    "AppServiceIdentityCredential",
    "ManagedIdentityError",
    "default_credential",
    "make_credential",
    "managed_identity_credential",
]

logger = logging.getLogger(__name__)

API_VERSION = "2019-08-01"
REFRESH_MARGIN_SECONDS = 300  # msal treats a token this close to expiry as expired
HALF_LIFE_FROM_SECONDS = 7200  # tokens living this long or longer are refreshed at half their life (msal)
_RETRY_DELAYS = (0.25, 1.0)  # after a 429, a 5xx or no answer; the endpoint is on the same host
_MAX_RETRY_AFTER = 5.0
# Set for a service principal, workload identity or an explicit chain: DefaultAzureCredential then would not (or
# might not) use the managed identity, so make_credential leaves the choice to it.
_NOT_MANAGED_IDENTITY = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME",
                         "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS")
# Every variable the choice of credential reads (callers that cache credentials key them on these).
CREDENTIAL_ENV = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "AZURE_CLIENT_ID",
                  *_NOT_MANAGED_IDENTITY)


class AccessToken(NamedTuple):
    """azure-core's AccessToken fields (``token``, ``expires_on`` in epoch seconds) without importing azure-core."""

    token: str
    expires_on: int

    def __repr__(self) -> str:
        return f"AccessToken(token='***', expires_on={self.expires_on})"


@dataclass(frozen=True)
class AccessTokenInfo:
    """azure-core's AccessTokenInfo fields: ``refresh_on`` tells its pipelines when to ask again."""

    token: str = field(repr=False)
    expires_on: int
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    refresh_on: int | None = None


class ManagedIdentityError(DataProtectionError):
    """The managed-identity endpoint gave no token. ``status`` is its HTTP status, None when it did not answer.

    A DataProtectionError, so an activity reports it with its retryability and advice like any failed ARM call.
    The message carries the advice too: callers that wrap it keep only its text.
    """

    def __init__(self, message: str, *, status: int | None, retryable: bool, advice: str,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{message}; {advice}", retryable=retryable, advice=advice)
        self.status = status
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """Adds the identity endpoint's HTTP status."""
        return {**super().to_dict(), "status": self.status}


@dataclass(frozen=True)
class _Cached:
    info: AccessTokenInfo
    fetch_started: int  # time.monotonic_ns() when it was asked for: a claims call reuses only a later one


class AppServiceIdentityCredential:
    """Managed-identity tokens from the App Service / Azure Functions endpoint; one cache per scope, thread-safe.

    :param endpoint: ``IDENTITY_ENDPOINT``; :param secret: ``IDENTITY_HEADER`` (both set by the platform).
    :param client_id: a user-assigned identity's client id; None for the system-assigned identity.
    :param refresh_margin_seconds: a cached token is replaced this long before it expires.
    :param clock: epoch seconds now (tests move it; tokens' ``expires_on`` is on the same scale).
    """

    def __init__(self, endpoint: str, secret: str, *, client_id: str | None = None,
                 session: requests.Session | None = None, timeout: tuple[float, float] = (5, 20),
                 refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        if not endpoint or not secret:
            raise ValueError("the managed-identity endpoint and its header secret are both needed")
        self.endpoint = endpoint
        self.client_id = client_id or None
        self.timeout = timeout
        self.refresh_margin_seconds = refresh_margin_seconds
        self._clock = clock
        self._secret = secret
        self._session = session or requests.Session()
        self._lock = threading.Lock()  # guards the two dicts
        self._resource_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, _Cached] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 client_id: str | None = None) -> AppServiceIdentityCredential | None:
        """The credential when the environment is App Service's (endpoint and header, no Service Fabric
        thumbprint), else None."""
        env = os.environ if env is None else env
        endpoint, secret = env.get("IDENTITY_ENDPOINT"), env.get("IDENTITY_HEADER")
        if not endpoint or not secret or env.get("IDENTITY_SERVER_THUMBPRINT"):
            return None
        return cls(endpoint, secret, client_id=client_id)

    def __repr__(self) -> str:
        who = f"client_id={self.client_id}" if self.client_id else "system-assigned"
        return f"AppServiceIdentityCredential({without_query(self.endpoint)}, {who})"

    # -- azure-core's credential protocols -------------------------------------------------------------------

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  **kwargs: Any) -> AccessToken:
        """A token for one scope (``https://management.azure.com/.default``); ``claims`` (a CAE challenge)
        skips the cache. ``tenant_id`` is ignored: a managed identity has one tenant."""
        info = self._token(_resource(scopes), claims)
        return AccessToken(info.token, info.expires_on)

    def get_token_info(self, *scopes: str, options: Mapping[str, Any] | None = None) -> AccessTokenInfo:
        """`get_token` with ``refresh_on``, which azure-core's pipelines prefer when a credential has it."""
        return self._token(_resource(scopes), (options or {}).get("claims"))

    def close(self) -> None:
        """Release the pooled connection to the endpoint."""
        self._session.close()

    def __enter__(self) -> AppServiceIdentityCredential:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    # -- cache ------------------------------------------------------------------------------------------------

    def _token(self, resource: str, claims: str | None) -> AccessTokenInfo:
        """One fetch per resource at a time: threads that waited for it take its token instead of fetching again."""
        called = time.monotonic_ns()
        with self._lock:
            lock = self._resource_locks.setdefault(resource, threading.Lock())
        with lock:
            cached = self._cache.get(resource)
            now = self._clock()
            if cached is not None:
                if claims is None and now < (cached.info.refresh_on or 0):
                    return cached.info
                if claims is not None and cached.fetch_started > called:
                    return cached.info  # asked for after this call began: issued after the token it challenges
            fetch_started = time.monotonic_ns()
            try:
                info = self._fetch(resource)
            except ManagedIdentityError as exc:
                left = cached.info.expires_on - now if cached is not None else 0.0
                if claims is None and cached is not None and left >= self.refresh_margin_seconds:
                    logger.warning("managed-identity token refresh failed (%s); the cached token is still valid "
                                   "for %d s", exc.message, left)
                    return cached.info
                raise
            with self._lock:
                self._cache[resource] = _Cached(info, fetch_started)
            return info

    def _refresh_on(self, requested_at: float, expires_on: int) -> int:
        """When to stop reusing a token: the margin before expiry, or half its life for a long-lived one."""
        refresh_on = expires_on - self.refresh_margin_seconds
        lifetime = expires_on - requested_at
        if lifetime >= HALF_LIFE_FROM_SECONDS:
            refresh_on = min(refresh_on, requested_at + lifetime / 2)
        return int(refresh_on)

    # -- the endpoint -----------------------------------------------------------------------------------------

    def _fetch(self, resource: str) -> AccessTokenInfo:
        """GET a token, retrying twice after a 429, a 5xx or no answer."""
        attempt = 0
        while True:
            requested_at = self._clock()
            try:
                return self._fetch_once(resource, requested_at)
            except ManagedIdentityError as exc:
                if not exc.retryable or attempt >= len(_RETRY_DELAYS):
                    raise
                delay = exc.retry_after or _RETRY_DELAYS[attempt]
                attempt += 1
                logger.info("managed-identity endpoint: %s; retrying in %.2f s", exc.message, delay)
                time.sleep(delay)

    def _fetch_once(self, resource: str, requested_at: float) -> AccessTokenInfo:
        params = {"api-version": API_VERSION, "resource": resource}
        if self.client_id:
            params["client_id"] = self.client_id
        headers = {"X-IDENTITY-HEADER": self._secret, "Metadata": "true"}
        try:
            response = self._session.get(self.endpoint, params=params, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ManagedIdentityError(
                f"no answer from the managed-identity endpoint {without_query(self.endpoint)} ({type(exc).__name__})",
                status=None, retryable=True,
                advice="the platform's identity endpoint is local to the host; the request is retried",
            ) from exc
        if response.status_code != 200:
            raise self._refused(response, resource)
        return self._parse(response, resource, requested_at)

    def _parse(self, response: requests.Response, resource: str, requested_at: float) -> AccessTokenInfo:
        """The token and its expiry from the answer (``expires_on`` in epoch seconds, often as a string)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        expires_on = _expires_on(body, requested_at) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or expires_on is None:
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise ManagedIdentityError(
                f"the managed-identity endpoint answered 200 without a usable token for {resource} "
                f"(fields: {keys}; an access_token and an expires_on are needed)",
                status=200, retryable=False, advice="the platform's identity endpoint misbehaved; open a support case",
            )
        logger.debug("managed-identity token for %s (%s), expires in %d s", resource,
                     self.client_id or "system-assigned", expires_on - requested_at)
        token_type = body.get("token_type") if isinstance(body, dict) else None
        return AccessTokenInfo(token, expires_on, token_type=str(token_type or "Bearer"),
                               refresh_on=self._refresh_on(requested_at, expires_on))

    def _refused(self, response: requests.Response, resource: str) -> ManagedIdentityError:
        """A typed error that says what to check; the endpoint's own message is kept, never a token or secret."""
        status = response.status_code
        said = _endpoint_message(response)
        said = f": {said}" if said else ""
        what = f"the managed-identity endpoint refused a token for {resource} (HTTP {status}{said})"
        who = (f"the user-assigned identity AZURE_CLIENT_ID={self.client_id}" if self.client_id
               else "the system-assigned identity (AZURE_CLIENT_ID is not set)")
        if status in (401, 403):
            advice = ("the X-IDENTITY-HEADER secret was refused: IDENTITY_ENDPOINT and IDENTITY_HEADER are set by "
                      "the platform, which rotates the header; remove them if they were copied into the app settings")
            return ManagedIdentityError(what, status=status, retryable=False, advice=advice)
        if status == 429 or status >= 500:
            return ManagedIdentityError(what, status=status, retryable=True, retry_after=_retry_after(response),
                                        advice="the platform's token service failed transiently; it is retried")
        advice = (f"check that {who} is assigned to the Function App (Identity blade) and that AZURE_CLIENT_ID, "
                  "when set, is that identity's client id (not its object or resource id)")
        return ManagedIdentityError(what, status=status, retryable=False, advice=advice)


def _resource(scopes: tuple[str, ...]) -> str:
    """The endpoint's ``resource`` for one AAD v2 scope: the scope without ``/.default``."""
    if len(scopes) != 1 or not scopes[0]:
        raise ValueError(f"a managed identity takes exactly one scope, got {list(scopes)}")
    scope = scopes[0]
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


def _expires_on(body: Mapping[str, Any], requested_at: float) -> int | None:
    """``expires_on`` (epoch seconds, number or numeric string), else ``expires_in`` from the request time."""
    for name, base in (("expires_on", 0.0), ("expires_in", requested_at)):
        value = body.get(name)
        if isinstance(value, bool):
            continue
        try:
            return int(base + float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return None


def _endpoint_message(response: requests.Response) -> str:
    """The error text the endpoint sent (``message`` / ``error_description``), short."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if not isinstance(body, dict):
        return ""
    for name in ("message", "error_description", "Message", "error"):
        value = body.get(name)
        if isinstance(value, str) and value:
            return value[:300]
    return ""


def _retry_after(response: requests.Response) -> float | None:
    try:
        return min(max(float(response.headers.get("Retry-After", "")), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return None


# -- choosing the app's credential ------------------------------------------------------------------------------


def managed_identity_credential(client_id: str | None = None,
                                env: Mapping[str, str] | None = None) -> TokenCredential:
    """What ``ManagedIdentityCredential(client_id=...)`` would use: ours on App Service, else azure-identity."""
    own = AppServiceIdentityCredential.from_env(env, client_id=client_id)
    if own is not None:
        return cast("TokenCredential", own)  # the same get_token shape; only the NamedTuple's class differs
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id)


def default_credential(env: Mapping[str, str] | None = None) -> TokenCredential:
    """What ``DefaultAzureCredential()`` would use: on App Service with no service principal configured, the
    managed identity AZURE_CLIENT_ID names (system-assigned when unset), through ours; else azure-identity."""
    env = os.environ if env is None else env
    if not any(env.get(name) for name in _NOT_MANAGED_IDENTITY):
        own = AppServiceIdentityCredential.from_env(env, client_id=env.get("AZURE_CLIENT_ID") or None)
        if own is not None:
            return cast("TokenCredential", own)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def make_credential(settings: Settings, env: Mapping[str, str] | None = None) -> TokenCredential:
    """The app's ARM credential: the user-assigned identity AZURE_CLIENT_ID names, else the default chain; on
    App Service both come from the platform's endpoint without importing azure-identity."""
    if settings.client_id:
        return managed_identity_credential(settings.client_id, env)
    return default_credential(env)
