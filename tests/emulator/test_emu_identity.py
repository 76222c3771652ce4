"""The managed-identity endpoint (App Service protocol) and ARM's bearer-token check."""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from emulator import EmulatorServer, VirtualClock
from tests.emulator.emusupport import BV_PATH, START, Arm, scenario


@pytest.fixture
def identity_env(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return server


def test_real_managed_identity_credential_gets_a_token_arm_accepts(identity_env: EmulatorServer) -> None:
    token = ManagedIdentityCredential().get_token("https://management.azure.com/.default")
    assert token.expires_on > time.time() + 3000
    answer = requests.get(f"{identity_env.url}{BV_PATH}/backupInstances", params={"api-version": "2026-06-01"},
                          headers={"Authorization": f"Bearer {token.token}"}, timeout=10)
    assert answer.status_code == 200
    token_requests = [r for r in identity_env.requests if r["path"] == "/msi/token"]
    assert token_requests[0]["query"] == {"api-version": "2019-08-01", "resource": "https://management.azure.com"}
    assert token.token not in repr(identity_env.requests)


def test_user_assigned_identity_by_client_id(identity_env: EmulatorServer) -> None:
    token = ManagedIdentityCredential(client_id="9d0c1f6e-0000-4000-8000-00000000c11e").get_token(
        "https://management.azure.com/.default")
    assert _list(identity_env, token.token).status_code == 200
    token_request = [r for r in identity_env.requests if r["path"] == "/msi/token"][-1]
    assert token_request["query"]["client_id"] == "9d0c1f6e-0000-4000-8000-00000000c11e"


def test_a_token_for_the_emulator_url_as_audience_is_accepted(identity_env: EmulatorServer) -> None:
    token = ManagedIdentityCredential().get_token(f"{identity_env.url}/.default")
    answer = requests.get(f"{identity_env.url}{BV_PATH}/backupInstances", params={"api-version": "2026-06-01"},
                          headers={"Authorization": f"Bearer {token.token}"}, timeout=10)
    assert answer.status_code == 200


def test_wrong_identity_header_is_refused(identity_env: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token("https://management.azure.com/.default")


def _list(server: EmulatorServer, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{server.url}{BV_PATH}/backupInstances", params={"api-version": "2026-06-01"},
                        headers=headers, timeout=10)


def test_missing_and_unknown_tokens_get_401_with_a_bearer_challenge(server: EmulatorServer) -> None:
    missing = _list(server, None)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
    unknown = _list(server, "made-up")
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_token_for_another_audience_is_refused(arm: Arm) -> None:
    storage_token = arm.get_token("https://storage.azure.com")
    answer = _list(arm.server, storage_token)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_revoked_tokens_are_expired(arm: Arm) -> None:
    assert _list(arm.server, arm.token).status_code == 200
    assert arm.server.revoke_tokens() >= 1
    answer = _list(arm.server, arm.token)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "ExpiredAuthenticationToken"
    assert "is earlier than current UTC time" in answer.json()["error"]["message"]
    assert 'error="insufficient_claims"' in answer.headers["WWW-Authenticate"]
    assert _list(arm.server, arm.get_token()).status_code == 200


def test_revoke_through_the_control_api(arm: Arm) -> None:
    assert requests.post(f"{arm.server.url}/_emulator/tokens/revoke", timeout=10).json()["revoked"] >= 1
    assert _list(arm.server, arm.token).status_code == 401


def test_short_lived_tokens_expire_and_the_credential_refreshes(monkeypatch: pytest.MonkeyPatch) -> None:
    with EmulatorServer(scenario(), clock=VirtualClock(START), token_lifetime_seconds=1) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        credential = ManagedIdentityCredential()
        first = credential.get_token("https://management.azure.com/.default")
        assert _list(server, first.token).status_code == 200
        time.sleep(1.1)
        expired = _list(server, first.token)
        assert expired.json()["error"]["code"] == "ExpiredAuthenticationToken"
        assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
        second = credential.get_token("https://management.azure.com/.default")
        assert second.token != first.token  # msal treats a token this close to expiry as stale
        assert _list(server, second.token).status_code == 200


def test_token_store_forgets_tokens_long_expired() -> None:
    """Tokens an hour past expiry are dropped when new ones are issued, so a long-running emulator stays small."""
    from emulator.auth import TokenStore

    store = TokenStore(lifetime_seconds=-7200)  # issued already two hours expired
    store.issue("https://management.azure.com")
    store.lifetime_seconds = 3600
    store.issue("https://management.azure.com")
    assert store.revoke_all() == 1  # only the fresh token is still known


def test_audience_of_names_the_resource_of_a_known_live_token() -> None:
    """What a stand-in for another service (an Event Grid topic) checks: a token it knows, for its own audience."""
    from emulator.auth import TokenStore

    store = TokenStore()
    token = store.issue("https://eventgrid.azure.net")["access_token"]
    assert store.audience_of(f"Bearer {token}") == "https://eventgrid.azure.net"
    assert store.audience_of(f"bearer {token}") == "https://eventgrid.azure.net"
    assert store.audience_of(token) is None and store.audience_of(None) is None
    assert store.audience_of("Bearer not-a-token") is None
    store.revoke_all()
    assert store.audience_of(f"Bearer {token}") is None
