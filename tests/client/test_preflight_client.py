"""The pre-flight's ARM reads over a real socket: each provider's api-version, the $filter as ARM takes it, paging
that stops at the page holding the account, and typed errors for 403 and 404."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from pgflex_restore.errors import AuthError, NotFoundError
from pgflex_restore.ids import BackupInstanceId
from pgflex_restore.preflight_arm import BLOB_DATA_CONTRIBUTOR
from pgflex_restore.preflight_client import PreflightClient
from tests.client.dp_fakes import FakeCredential

SUB = "11111111-2222-3333-4444-555555555555"
BI = BackupInstanceId(SUB, "rg", "vault1", "pg1")
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/acct"
LIST = f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts"
STORAGE = {"api-version": "2025-06-01"}


@pytest.fixture
def client(base: str, credential: FakeCredential) -> Iterator[PreflightClient]:
    made = PreflightClient(base, "2026-06-01", credential, timeout=(2.0, 2.0))
    yield made
    made.close()


def test_vault_and_instance_with_the_dataprotection_api_version(httpserver: HTTPServer,
                                                                client: PreflightClient) -> None:
    httpserver.expect_request(BI.vault.path, method="GET", query_string={"api-version": "2026-06-01"}) \
        .respond_with_json({"id": BI.vault.path, "identity": {"type": "SystemAssigned", "principalId": "p1"}})
    httpserver.expect_request(BI.path, method="GET", query_string={"api-version": "2026-06-01"}).respond_with_json(
        {"id": BI.path, "name": "pg1", "properties": {"currentProtectionState": "ProtectionStopped"}})
    assert client.get_vault(BI.vault).principal_id == "p1"
    assert client.get_backup_instance(BI).current_protection_state == "ProtectionStopped"


def test_the_account_list_stops_at_the_page_that_has_it(httpserver: HTTPServer, client: PreflightClient,
                                                        base: str) -> None:
    httpserver.expect_ordered_request(LIST, method="GET", query_string=STORAGE).respond_with_json(
        {"value": [{"id": "x", "name": "other"}], "nextLink": f"{base}{LIST}?api-version=2025-06-01&$skipToken=2"})
    httpserver.expect_ordered_request(LIST, method="GET", query_string={**STORAGE, "$skipToken": "2"}) \
        .respond_with_json({"value": [{"id": ACCOUNT, "name": "acct", "properties": {
            "allowCrossTenantReplication": False}}], "nextLink": f"{base}{LIST}?api-version=2025-06-01&$skipToken=3"})
    found = client.find_storage_account(SUB, "acct")
    assert found is not None and found.id == ACCOUNT and found.allow_cross_tenant_replication is False
    assert len(httpserver.log) == 2  # the third page was never asked for


def test_container_and_roles(httpserver: HTTPServer, client: PreflightClient) -> None:
    httpserver.expect_request(f"{ACCOUNT}/blobServices/default/containers/gone", method="GET",
                              query_string=STORAGE).respond_with_json(
        {"error": {"code": "ContainerNotFound", "message": "The specified container does not exist."}}, status=404)
    httpserver.expect_request(f"{ACCOUNT}/providers/Microsoft.Authorization/roleAssignments", method="GET",
                              query_string={"api-version": "2022-04-01", "$filter": "principalId eq 'p1'"}) \
        .respond_with_json({"value": [{"properties": {
            "scope": ACCOUNT, "principalId": "p1",
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{BLOB_DATA_CONTRIBUTOR}"}}]})
    with pytest.raises(NotFoundError):
        client.get_container(ACCOUNT, "gone")
    [role] = client.list_role_assignments(ACCOUNT, "p1")
    assert (role.scope, role.role) == (ACCOUNT, BLOB_DATA_CONTRIBUTOR)


def test_a_denied_list_is_an_auth_error(httpserver: HTTPServer, client: PreflightClient) -> None:
    httpserver.expect_request(LIST, method="GET").respond_with_json(
        {"error": {"code": "AuthorizationFailed", "message": "no"}}, status=403)
    with pytest.raises(AuthError) as info:
        client.find_storage_account(SUB, "acct")
    assert info.value.status == 403
