"""pgflex_restore.identity: the app's own App Service managed-identity credential, against the emulator's real
token endpoint and ARM token check (and, for answers the emulator never gives, a scripted endpoint on loopback).

Side by side with azure-identity's ManagedIdentityCredential on the same endpoint, it must send the same request,
get the same kind of token and cache it the same way; and a cold worker's first restore call must not import
azure-identity at all (the reason it exists).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator import EmulatorServer, VirtualClock
from pgflex_restore import identity
from pgflex_restore.errors import DataProtectionError
from pgflex_restore.identity import (
    AppServiceIdentityCredential,
    ManagedIdentityError,
    default_credential,
    make_credential,
    managed_identity_credential,
)
from pgflex_restore.settings import Settings
from pgflex_restore.storage import storage_credential
from tests.emulator.emusupport import BI_PATH, BV_PATH, CONTAINER_URL, START, scenario

REPO = Path(__file__).resolve().parents[2]
ARM_SCOPE = "https://management.azure.com/.default"
USER_ASSIGNED = "9d0c1f6e-0000-4000-8000-00000000c11e"


@pytest.fixture
def identity_env(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """The emulator's identity variables in os.environ (azure-identity reads only those), nothing competing."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    for name in ("MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    return server


def _own(server: EmulatorServer, client_id: str | None = None, **kwargs: Any) -> AppServiceIdentityCredential:
    return AppServiceIdentityCredential(server.identity_endpoint, server.identity_header, client_id=client_id,
                                        **kwargs)


def _token_requests(server: EmulatorServer) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["path"] == "/msi/token"]


def _arm_status(server: EmulatorServer, token: str) -> int:
    answer = requests.get(f"{server.url}{BV_PATH}/backupInstances", params={"api-version": "2026-06-01"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return answer.status_code


# -- tokens ARM accepts -------------------------------------------------------------------------------------------


def test_system_assigned_token_is_accepted_by_arm_and_never_logged(server: EmulatorServer,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG", logger="pgflex_restore.identity"):
        token = _own(server).get_token(ARM_SCOPE)
    assert _arm_status(server, token.token) == 200
    assert token.expires_on > time.time() + 3000
    [sent] = _token_requests(server)
    assert sent["query"] == {"api-version": "2019-08-01", "resource": "https://management.azure.com"}
    assert sent["status"] == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "https://management.azure.com" in logged
    assert token.token not in logged and token.token not in repr(token) and server.identity_header not in logged


def test_user_assigned_identity_sends_its_client_id(server: EmulatorServer) -> None:
    token = _own(server, USER_ASSIGNED).get_token(ARM_SCOPE)
    assert _arm_status(server, token.token) == 200
    assert _token_requests(server)[-1]["query"]["client_id"] == USER_ASSIGNED


def test_a_token_for_another_audience_is_a_separate_cache_entry(server: EmulatorServer) -> None:
    credential = _own(server)
    arm = credential.get_token(ARM_SCOPE)
    storage = credential.get_token("https://storage.azure.com/.default")
    assert arm.token != storage.token
    assert [r["query"]["resource"] for r in _token_requests(server)] == [
        "https://management.azure.com", "https://storage.azure.com"]
    assert _arm_status(server, storage.token) == 401  # wrong audience for ARM


def test_exactly_one_scope(server: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="exactly one scope"):
        _own(server).get_token(ARM_SCOPE, "https://storage.azure.com/.default")
    with pytest.raises(ValueError, match="exactly one scope"):
        _own(server).get_token()


# -- the cache -----------------------------------------------------------------------------------------------------


def test_the_cache_serves_repeated_calls_and_both_protocols(server: EmulatorServer) -> None:
    credential = _own(server)
    first = credential.get_token(ARM_SCOPE)
    again = credential.get_token(ARM_SCOPE, tenant_id="ignored", enable_cae=True)
    info = credential.get_token_info(ARM_SCOPE, options={"enable_cae": True})
    assert first.token == again.token == info.token
    assert info.expires_on == first.expires_on and info.token_type == "Bearer"
    assert info.refresh_on == first.expires_on - 300  # a one-hour token: refreshed five minutes before it expires
    assert len(_token_requests(server)) == 1


def test_a_long_lived_token_is_refreshed_at_half_its_life() -> None:
    """Entra's managed-identity tokens live about a day; msal (and so azure-identity) renews them at half-life."""
    with EmulatorServer(scenario(), clock=VirtualClock(START), token_lifetime_seconds=86400) as server:
        before = int(time.time())
        info = _own(server).get_token_info(ARM_SCOPE)
        assert info.refresh_on is not None and before + 43200 - 1 <= info.refresh_on <= int(time.time()) + 43200
        assert info.expires_on - before >= 86400 - 1


def test_a_token_is_refreshed_five_minutes_before_it_expires() -> None:
    """A 301-second token is good for one second of reuse; after that the credential fetches a new one."""
    with EmulatorServer(scenario(), clock=VirtualClock(START), token_lifetime_seconds=301) as server:
        credential = _own(server)
        first = credential.get_token(ARM_SCOPE)
        assert credential.get_token(ARM_SCOPE).token == first.token
        assert len(_token_requests(server)) == 1
        time.sleep(max(0.0, first.expires_on - 300 - time.time()) + 0.05)
        second = credential.get_token(ARM_SCOPE)
        assert second.token != first.token and second.expires_on >= first.expires_on
        assert len(_token_requests(server)) == 2
        assert _arm_status(server, second.token) == 200


def test_a_token_too_short_lived_to_reuse_is_fetched_every_time() -> None:
    with EmulatorServer(scenario(), clock=VirtualClock(START), token_lifetime_seconds=1) as server:
        credential = _own(server)
        first = credential.get_token(ARM_SCOPE)
        assert _arm_status(server, first.token) == 200
        time.sleep(1.1)
        assert _arm_status(server, first.token) == 401  # expired at ARM
        second = credential.get_token(ARM_SCOPE)
        assert second.token != first.token and _arm_status(server, second.token) == 200
        assert len(_token_requests(server)) == 2


def test_claims_skip_the_cache_and_the_new_token_replaces_the_old(server: EmulatorServer) -> None:
    """A revoked token gets a CAE challenge from ARM; asking again with its claims must not return it."""
    credential = _own(server)
    old = credential.get_token(ARM_SCOPE)
    server.revoke_tokens()
    answer = requests.get(f"{server.url}{BV_PATH}/backupInstances", params={"api-version": "2026-06-01"},
                          headers={"Authorization": f"Bearer {old.token}"}, timeout=10)
    assert answer.status_code == 401 and 'error="insufficient_claims"' in answer.headers["WWW-Authenticate"]
    assert credential.get_token(ARM_SCOPE).token == old.token  # without claims, the cache still answers
    new = credential.get_token(ARM_SCOPE, claims='{"access_token":{"nbf":{"essential":true}}}')
    assert new.token != old.token and _arm_status(server, new.token) == 200
    assert credential.get_token(ARM_SCOPE).token == new.token
    assert credential.get_token_info(ARM_SCOPE, options={"claims": "{}"}).token not in (old.token, new.token)
    assert len(_token_requests(server)) == 3


def test_azure_core_pipelines_use_it_and_recover_from_a_revoked_token(server: EmulatorServer) -> None:
    """azure-core's bearer policy (the storage SDKs' and the ARM SDK's base) calls get_token_info, and answers a
    CAE challenge by asking again with the claims: one more token, and the request goes through."""
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    credential = _own(server)
    policy = BearerTokenCredentialPolicy(credential, ARM_SCOPE)
    url = f"{server.url}{BV_PATH}/backupInstances?api-version=2026-06-01"
    with Pipeline(transport=RequestsTransport(), policies=[policy]) as pipeline:
        assert pipeline.run(HttpRequest("GET", url), enforce_https=False).http_response.status_code == 200
        server.revoke_tokens()
        assert pipeline.run(HttpRequest("GET", url), enforce_https=False).http_response.status_code == 200
    assert len(_token_requests(server)) == 2


def test_the_storage_sdks_take_it_as_a_token_credential(server: EmulatorServer) -> None:
    """They tell a token credential by its get_token; a wrong kind would be refused here, at construction."""
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import ContainerClient
    from azure.storage.queue import QueueClient

    credential = _own(server)
    QueueClient("https://acct.queue.core.windows.net", "q", credential=credential)
    TableServiceClient("https://acct.table.core.windows.net", credential=credential)
    ContainerClient.from_container_url(CONTAINER_URL, credential=credential)
    assert _token_requests(server) == []  # tokens are fetched on the first request, not before


# -- errors --------------------------------------------------------------------------------------------------------


def test_a_wrong_identity_header_is_a_clear_permanent_error(server: EmulatorServer) -> None:
    credential = AppServiceIdentityCredential(server.identity_endpoint, "not-the-secret", client_id=USER_ASSIGNED)
    with pytest.raises(ManagedIdentityError) as caught:
        credential.get_token(ARM_SCOPE)
    error = caught.value
    assert isinstance(error, DataProtectionError)
    assert error.status == 401 and not error.retryable
    assert "IDENTITY_HEADER" in str(error) and "X-IDENTITY-HEADER is missing or wrong" in str(error)
    assert "not-the-secret" not in str(error) and server.identity_header not in str(error)
    assert error.to_dict()["status"] == 401
    assert len(_token_requests(server)) == 1  # a refusal is not retried


@dataclass
class Scripted:
    """An identity endpoint on loopback that plays back (status, body, headers) answers, then repeats the last."""

    url: str = ""
    answers: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def credential(self, client_id: str | None = None, **kwargs: Any) -> AppServiceIdentityCredential:
        return AppServiceIdentityCredential(self.url, "s3cr3t-header", client_id=client_id, **kwargs)


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    endpoint = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.seen.append(self.path)
            status, body, headers = endpoint.answers[min(len(endpoint.seen), len(endpoint.answers)) - 1]
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    endpoint.url = f"http://127.0.0.1:{httpd.server_address[1]}/msi/token"
    try:
        yield endpoint
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_unknown_identity_says_what_to_check(scripted: Scripted) -> None:
    scripted.answers = [(400, {"statusCode": 400, "message": "Unable to load the proper Managed Identity."}, {})]
    with pytest.raises(ManagedIdentityError) as caught:
        scripted.credential(USER_ASSIGNED).get_token(ARM_SCOPE)
    text = str(caught.value)
    assert f"AZURE_CLIENT_ID={USER_ASSIGNED}" in text and "Unable to load the proper Managed Identity" in text
    assert "client id (not its object or resource id)" in text and not caught.value.retryable
    with pytest.raises(ManagedIdentityError, match=r"system-assigned identity \(AZURE_CLIENT_ID is not set\)"):
        scripted.credential().get_token(ARM_SCOPE)


def test_transient_failures_are_retried_then_the_token_comes(scripted: Scripted) -> None:
    expires_on = int(time.time()) + 3600
    scripted.answers = [(500, {"message": "busy"}, {}), (429, {}, {"Retry-After": "0.01"}),
                        (200, {"access_token": "t-1", "expires_on": expires_on, "resource": "r"}, {})]
    token = scripted.credential().get_token(ARM_SCOPE)
    assert token.token == "t-1" and token.expires_on == expires_on  # a number works as well as a string
    assert len(scripted.seen) == 3


def test_a_failing_endpoint_gives_up_after_three_tries(scripted: Scripted) -> None:
    scripted.answers = [(503, b"Service Unavailable", {"Content-Type": "text/plain"})]
    with pytest.raises(ManagedIdentityError, match="HTTP 503: Service Unavailable") as caught:
        scripted.credential().get_token(ARM_SCOPE)
    assert caught.value.retryable and caught.value.status == 503
    assert len(scripted.seen) == 3


def test_no_answer_at_all_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening, then closed: nothing answers there
    credential = AppServiceIdentityCredential(f"http://127.0.0.1:{port}/msi/token", "secret")
    with pytest.raises(ManagedIdentityError, match="no answer from the managed-identity endpoint") as caught:
        credential.get_token(ARM_SCOPE)
    assert caught.value.retryable and caught.value.status is None


def test_an_answer_without_a_token_is_an_error_that_shows_no_secret(scripted: Scripted) -> None:
    scripted.answers = [(200, {"access_token": "leaky-token", "resource": "r"}, {})]
    with pytest.raises(ManagedIdentityError, match=r"fields: \['access_token', 'resource'\]") as caught:
        scripted.credential().get_token(ARM_SCOPE)
    assert "leaky-token" not in str(caught.value)


def test_expires_in_is_used_when_expires_on_is_missing(scripted: Scripted) -> None:
    scripted.answers = [(200, {"access_token": "t", "expires_in": "3600", "token_type": "Bearer"}, {})]
    before = time.time()
    token = scripted.credential().get_token(ARM_SCOPE)
    assert int(before) + 3599 <= token.expires_on <= int(time.time()) + 3600


def test_a_failed_refresh_keeps_a_token_still_good_for_five_minutes(scripted: Scripted) -> None:
    """As msal does: a day-long token is renewed after half its life, but if the endpoint fails then, the cached
    token (still valid for hours) is used; a claims request never falls back to the token it challenges."""
    now = time.time()
    later = [now]
    credential = scripted.credential(clock=lambda: later[0])
    scripted.answers = [(200, {"access_token": "day-token", "expires_on": str(int(now) + 86400)}, {}),
                        (400, {"message": "broken"}, {})]
    assert credential.get_token(ARM_SCOPE).token == "day-token"
    later[0] = now + 13 * 3600
    assert credential.get_token(ARM_SCOPE).token == "day-token"
    assert len(scripted.seen) == 2  # it did try to refresh
    with pytest.raises(ManagedIdentityError, match="broken"):
        credential.get_token(ARM_SCOPE, claims="{}")
    later[0] = now + 86400 - 299  # inside the last five minutes: no fallback
    with pytest.raises(ManagedIdentityError, match="broken"):
        credential.get_token(ARM_SCOPE)


# -- concurrency ---------------------------------------------------------------------------------------------------


def _at_once(count: int, call: Any) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_concurrent_callers_share_one_fetch(server: EmulatorServer) -> None:
    credential = _own(server, USER_ASSIGNED)
    tokens = _at_once(16, lambda: credential.get_token(ARM_SCOPE))
    assert all(isinstance(t, identity.AccessToken) for t in tokens), tokens
    assert len({t.token for t in tokens}) == 1
    assert len(_token_requests(server)) == 1


def test_concurrent_claims_callers_all_get_a_token_arm_accepts(server: EmulatorServer) -> None:
    credential = _own(server)
    old = credential.get_token(ARM_SCOPE)
    server.revoke_tokens()
    tokens = _at_once(8, lambda: credential.get_token(ARM_SCOPE, claims="{}"))
    assert all(isinstance(t, identity.AccessToken) for t in tokens), tokens
    assert old.token not in {t.token for t in tokens}
    assert all(_arm_status(server, t.token) == 200 for t in tokens)
    assert 2 <= len(_token_requests(server)) <= 9


# -- the same as azure-identity on the same endpoint ---------------------------------------------------------------


@pytest.mark.parametrize("client_id", [None, USER_ASSIGNED])
def test_it_asks_and_gets_what_managed_identity_credential_does(identity_env: EmulatorServer,
                                                                client_id: str | None) -> None:
    from azure.identity import ManagedIdentityCredential

    theirs = ManagedIdentityCredential(client_id=client_id).get_token_info(ARM_SCOPE)
    mine = _own(identity_env, client_id).get_token_info(ARM_SCOPE)
    theirs_sent, mine_sent = _token_requests(identity_env)
    assert mine_sent["query"] == theirs_sent["query"]
    assert abs(mine.expires_on - theirs.expires_on) <= 2 and isinstance(mine.expires_on, int)
    assert mine.token_type == theirs.token_type == "Bearer"
    assert _arm_status(identity_env, mine.token) == _arm_status(identity_env, theirs.token) == 200


@pytest.mark.parametrize(("lifetime", "fetches"), [(1, 2), (330, 1), (3600, 1)])
def test_it_reuses_tokens_exactly_when_managed_identity_credential_does(monkeypatch: pytest.MonkeyPatch,
                                                                        lifetime: int, fetches: int) -> None:
    from azure.identity import ManagedIdentityCredential

    with EmulatorServer(scenario(), clock=VirtualClock(START), token_lifetime_seconds=lifetime) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        for credential in (ManagedIdentityCredential(), _own(server)):
            server.clear_requests()
            credential.get_token(ARM_SCOPE)
            credential.get_token(ARM_SCOPE)
            assert len(_token_requests(server)) == fetches, type(credential).__name__


def test_half_life_refresh_matches_managed_identity_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity import ManagedIdentityCredential

    with EmulatorServer(scenario(), clock=VirtualClock(START), token_lifetime_seconds=86400) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        theirs = ManagedIdentityCredential().get_token_info(ARM_SCOPE)
        mine = _own(server).get_token_info(ARM_SCOPE)
        assert theirs.refresh_on is not None and mine.refresh_on is not None
        assert abs(mine.refresh_on - theirs.refresh_on) <= 2


# -- which credential the app builds -------------------------------------------------------------------------------

APP_SERVICE = {"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token", "IDENTITY_HEADER": "s3cr3t-header"}


def test_on_app_service_the_app_builds_its_own_credential() -> None:
    user = make_credential(Settings(client_id=USER_ASSIGNED), APP_SERVICE)
    assert isinstance(user, AppServiceIdentityCredential) and user.client_id == USER_ASSIGNED
    system = make_credential(Settings(), APP_SERVICE)
    assert isinstance(system, AppServiceIdentityCredential) and system.client_id is None
    # As DefaultAzureCredential does, the default picks the identity AZURE_CLIENT_ID names.
    named = default_credential({**APP_SERVICE, "AZURE_CLIENT_ID": USER_ASSIGNED})
    assert isinstance(named, AppServiceIdentityCredential) and named.client_id == USER_ASSIGNED
    assert "s3cr3t" not in repr(user) and "s3cr3t" not in repr(system)


def test_elsewhere_the_app_keeps_azure_identity() -> None:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    service_fabric = {**APP_SERVICE, "IDENTITY_SERVER_THUMBPRINT": "ab12"}
    assert isinstance(make_credential(Settings(client_id=USER_ASSIGNED), {}), ManagedIdentityCredential)
    assert isinstance(managed_identity_credential(None, service_fabric), ManagedIdentityCredential)
    assert isinstance(make_credential(Settings(), {}), DefaultAzureCredential)
    service_principal = {**APP_SERVICE, "AZURE_CLIENT_ID": USER_ASSIGNED, "AZURE_CLIENT_SECRET": "s",
                         "AZURE_TENANT_ID": "t"}
    assert isinstance(default_credential(service_principal), DefaultAzureCredential)


def test_the_storage_connection_uses_it_on_app_service_once_per_identity() -> None:
    env = {**APP_SERVICE, "AzureWebJobsStorage__accountName": "acct",
           "AzureWebJobsStorage__credential": "managedidentity", "AzureWebJobsStorage__clientId": USER_ASSIGNED}
    credential = storage_credential(env)
    assert isinstance(credential, AppServiceIdentityCredential) and credential.client_id == USER_ASSIGNED
    assert storage_credential(dict(env)) is credential
    system = storage_credential({**APP_SERVICE, "AzureWebJobsStorage__accountName": "acct"})
    assert isinstance(system, AppServiceIdentityCredential) and system.client_id is None
    moved = storage_credential({**env, "IDENTITY_HEADER": "rotated"})
    assert moved is not credential


# -- a cold worker's first restore call ----------------------------------------------------------------------------

_FIRST_CALL = """
import json, sys
import function_app
from activities import recovery_points
payload = {"request": {"backupInstance": sys.argv[1], "target": {"containerUrl": sys.argv[2], "filePrefix": "cold"}},
           "now": sys.argv[3]}
result = recovery_points.resolve(payload)
print(json.dumps({"ok": result["ok"], "error": result.get("error"),
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("azure", "msal"))}))
"""


@pytest.mark.parametrize("client_id", [None, USER_ASSIGNED])
def test_a_cold_workers_first_restore_call_does_not_import_azure_identity(server: EmulatorServer,
                                                                          client_id: str | None) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AZURE_", "MSI_", "IDENTITY_", "AzureWebJobs"))}
    env.update(server.env(), RESTORE_TARGET_ALLOWLIST=CONTAINER_URL, PYTHONPATH=str(REPO))
    if client_id:
        env["AZURE_CLIENT_ID"] = client_id
    done = subprocess.run([sys.executable, "-c", _FIRST_CALL, f"{BI_PATH}", CONTAINER_URL, START.isoformat()],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["ok"], outcome["error"]
    assert not [m for m in outcome["loaded"] if m.startswith(("azure.identity", "msal"))], outcome["loaded"]
    [sent] = _token_requests(server)
    assert sent["query"].get("client_id") == client_id
