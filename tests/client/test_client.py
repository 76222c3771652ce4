"""DataProtectionClient over real sockets against pytest-httpserver serving the official example payloads."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pgflex_restore.client import DataProtectionClient
from pgflex_restore.errors import (
    ApiError,
    AuthError,
    ConflictError,
    DataProtectionError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
)
from pgflex_restore.identity import make_credential
from pgflex_restore.ids import BackupInstanceId, VaultId
from pgflex_restore.settings import Settings
from tests.client.dp_fakes import FakeCredential, TokenFactory, localize

VERSIONS = ("2021-07-01", "2026-06-01")
VAULT = VaultId("04cf684a-d41f-4550-9f70-7708a3a2283b", "000pikumar", "PratikPrivatePreviewVault1")
BI = BackupInstanceId(VAULT.subscription_id, VAULT.resource_group, VAULT.vault_name, "testInstance1")
Example = Callable[[str, str], dict[str, Any]]
MakeClient = Callable[..., DataProtectionClient]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


@pytest.mark.parametrize("version", VERSIONS)
def test_list_recovery_points_follows_next_link_and_sends_headers(
    httpserver: HTTPServer, make_client: MakeClient, example: Example, version: str, base: str
) -> None:
    """Two pages joined; every request has a bearer token, a client request id and the api-version."""
    points = example(version, "BackupInstanceOperations/ListRecoveryPoints.json")["responses"]["200"]["body"]["value"]
    seen: list[Request] = []
    path = f"{BI.path}/recoveryPoints"
    next_link = f"{base}{path}?api-version={version}&$skipToken=page%3D2"

    def first(request: Request) -> Response:
        seen.append(request)
        return _json({"value": points[:1], "nextLink": next_link})

    def second(request: Request) -> Response:
        seen.append(request)
        return _json({"value": points[1:], "nextLink": None})

    httpserver.expect_ordered_request(path, query_string={"api-version": version}).respond_with_handler(first)
    httpserver.expect_ordered_request(path, query_string=f"api-version={version}&$skipToken=page%3D2"
                                      ).respond_with_handler(second)
    result = make_client(version).list_recovery_points(BI)
    httpserver.check_assertions()
    assert [p.id for p in result] == [p["name"] for p in points]
    for request in seen:
        assert request.headers["Authorization"] == "Bearer token-1"
        uuid.UUID(request.headers["x-ms-client-request-id"])
        assert request.args["api-version"] == version
    assert seen[0].headers["x-ms-client-request-id"] != seen[1].headers["x-ms-client-request-id"]


def test_recovery_point_filter_is_cli_style(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """$filter is `startDate eq '...0000000Z' and endDate eq '...'`, either clause alone; spaces as %20."""
    captured: list[Request] = []

    def handler(request: Request) -> Response:
        captured.append(request)
        return _json({"value": []})

    httpserver.expect_request(f"{BI.path}/recoveryPoints").respond_with_handler(handler)
    client = make_client()
    start, end = datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 2, 1, 12, 30, tzinfo=UTC)
    client.list_recovery_points(BI, start=start, end=end)
    client.list_recovery_points(BI, start=start)
    client.list_recovery_points(BI, end=end)
    assert captured[0].args["$filter"] == (
        "startDate eq '2024-01-31T00:00:00.0000000Z' and endDate eq '2024-02-01T12:30:00.0000000Z'")
    assert b"%20eq%20" in captured[0].query_string and b"+" not in captured[0].query_string
    assert captured[1].args["$filter"] == "startDate eq '2024-01-31T00:00:00.0000000Z'"
    assert captured[2].args["$filter"] == "endDate eq '2024-02-01T12:30:00.0000000Z'"


def test_unparsable_points_are_skipped(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A listed point without a time is skipped, the rest returned."""
    good = {"name": "ok", "properties": {"recoveryPointTime": "2026-01-01T00:00:00Z"}}
    httpserver.expect_request(f"{BI.path}/recoveryPoints").respond_with_json(
        {"value": [good, {"name": "broken", "properties": {}}, "junk"]})
    assert [p.id for p in make_client().list_recovery_points(BI)] == ["ok"]


@pytest.mark.parametrize("version", VERSIONS)
def test_validate_202_headers_verbatim_then_status_url_used_exactly(
    httpserver: HTTPServer, make_client: MakeClient, example: Example, version: str, base: str
) -> None:
    """The 202's URLs are captured verbatim (incl. sloppy `==2026-06-01`) and GET exactly as received."""
    data = example(version, "BackupInstanceOperations/ValidateRestore.json")
    headers = {k: localize(v, base) for k, v in data["responses"]["202"]["headers"].items()}
    restore_body = data["parameters"]["parameters"]["restoreRequestObject"]
    posted: list[Any] = []

    def accept(request: Request) -> Response:
        posted.append(request.get_json())
        return Response(status=202, headers={**headers, "x-ms-request-id": "req-9",
                                             "x-ms-correlation-request-id": "corr-9"})

    httpserver.expect_request(f"{BI.path}/validateRestore", method="POST",
                              query_string={"api-version": version}).respond_with_handler(accept)
    client = make_client(version)
    op = client.validate_restore(BI, restore_body)
    assert posted == [{"restoreRequestObject": restore_body}]
    assert (op.status_url, op.result_url, op.retry_after) == (
        headers["Azure-AsyncOperation"], headers["Location"], "60")
    assert not op.done and op.job_id is None and (op.request_id, op.correlation_id) == ("req-9", "corr-9")

    assert op.status_url is not None
    status_path, _, status_query = op.status_url.removeprefix(base).partition("?")
    seen: list[Request] = []

    def status(request: Request) -> Response:
        seen.append(request)
        return _json({"status": "Inprogress", "endTime": "0001-01-01T00:00:00Z"}, headers={"Retry-After": "30"})

    httpserver.expect_request(status_path, query_string=status_query).respond_with_handler(status)
    poll = client.get_operation_status(op.status_url)
    assert poll.status.state == "running" and poll.retry_after == "30"
    assert seen[0].full_path.rstrip("?") == op.status_url.removeprefix(base).rstrip("?")
    if version == "2026-06-01":
        assert seen[0].path.endswith("==2026-06-01") and seen[0].query_string == b""


def test_validate_accepts_an_already_wrapped_body(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A body already wrapped in restoreRequestObject is not wrapped twice; 200 gives the job id at once."""
    httpserver.expect_request(f"{BI.path}/validateRestore", method="POST",
                              json={"restoreRequestObject": {"a": 1}}).respond_with_json(
        {"jobId": "j-1", "objectType": "OperationJobExtendedInfo"})
    op = make_client().validate_restore(BI, {"restoreRequestObject": {"a": 1}})
    assert op.done and op.job_id == "j-1"


@pytest.mark.parametrize("version", VERSIONS)
def test_trigger_restore_202_and_200(httpserver: HTTPServer, make_client: MakeClient, example: Example,
                                     version: str, base: str) -> None:
    """restore: a 202 gives the polling URLs; a 200 gives the job id and done."""
    data = example(version, "BackupInstanceOperations/TriggerRestoreAsFiles.json")
    body = data["parameters"]["parameters"]
    headers = {k: localize(v, base) for k, v in data["responses"]["202"]["headers"].items()}
    path = f"{BI.path}/restore"
    httpserver.expect_ordered_request(path, method="POST", json=body).respond_with_data(
        "", status=202, headers=headers)
    httpserver.expect_ordered_request(path, method="POST", json=body).respond_with_json(
        data["responses"]["200"]["body"])
    client = make_client(version)
    accepted = client.trigger_restore(BI, body)
    assert accepted.status_url == headers["Azure-AsyncOperation"] and not accepted.done
    finished = client.trigger_restore(BI, body)
    assert finished.done and finished.job_id == "c60cb49-63e8-4b21-b9bd-26277b3fdfae"


def test_200_with_garbage_body_is_still_accepted(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A 200 to restore with an unreadable body means accepted without a job id, never a retryable error."""
    httpserver.expect_request(f"{BI.path}/restore", method="POST").respond_with_data("<oops>", status=200)
    op = make_client().trigger_restore(BI, {"x": 1})
    assert op.done and op.job_id is None


def test_202_without_headers_gives_no_urls(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A 202 with neither header is returned as is (the orchestrator then looks for the job)."""
    httpserver.expect_request(f"{BI.path}/restore", method="POST").respond_with_data("", status=202)
    op = make_client().trigger_restore(BI, {"x": 1})
    assert (op.status_url, op.result_url, op.done) == (None, None, False)


def test_status_polling_to_success_with_full_job_id(httpserver: HTTPServer, make_client: MakeClient,
                                                    base: str) -> None:
    """Inprogress, then Succeeded with properties.jobId (a full ARM id)."""
    url = f"{base}/subscriptions/s/providers/Microsoft.DataProtection/locations/westus/operationStatus/op1"
    job = f"{VAULT.path}/backupJobs/c4bd49a1-0645-4faf-9a03-6f4d5e8a3c45"
    path = "/subscriptions/s/providers/Microsoft.DataProtection/locations/westus/operationStatus/op1"
    httpserver.expect_ordered_request(path).respond_with_json({"status": "InProgress"},
                                                              headers={"Retry-After": "10"})
    httpserver.expect_ordered_request(path).respond_with_json(
        {"status": "Succeeded", "properties": {"objectType": "OperationJobExtendedInfo", "jobId": job}})
    client = make_client()
    first = client.get_operation_status(url)
    second = client.get_operation_status(url)
    assert (first.status.state, first.retry_after) == ("running", "10")
    assert second.status.state == "succeeded" and second.status.job_id == job and second.retry_after is None


@pytest.mark.parametrize("version", VERSIONS)
def test_location_202_then_200(httpserver: HTTPServer, make_client: MakeClient, example: Example, version: str,
                               base: str) -> None:
    """The Location URL answers 202 (keep going) and then 200 with the job id; 204 means done without one."""
    data = example(version, "GetOperationResult.json")
    headers = data["responses"]["202"]["headers"]
    url = localize(headers["Location"], base)
    path, _, query = url.removeprefix(base).partition("?")
    httpserver.expect_ordered_request(path, query_string=query).respond_with_data(
        "", status=202, headers={"Retry-After": "60"})
    httpserver.expect_ordered_request(path, query_string=query).respond_with_json(data["responses"]["200"]["body"])
    httpserver.expect_ordered_request(path, query_string=query).respond_with_data("", status=204)
    client = make_client(version)
    running = client.get_operation_result(url)
    done = client.get_operation_result(url)
    empty = client.get_operation_result(url)
    assert (running.done, running.retry_after) == (False, "60")
    assert done.done and done.job_id == "c60cb49-63e8-4b21-b9bd-26277b3fdfae"
    assert empty.done and empty.job_id is None


@pytest.mark.parametrize("version", VERSIONS)
def test_get_job_by_full_arm_id(httpserver: HTTPServer, make_client: MakeClient, example: Example,
                                version: str) -> None:
    """Jobs_Get uses only the GUID from a full job id."""
    body = example(version, "JobCRUD/GetJob.json")["responses"]["200"]["body"]
    vault = VaultId.parse(body["properties"]["backupInstanceId"].rsplit("/backupInstances/", 1)[0])
    httpserver.expect_request(f"{vault.path}/backupJobs/{body['name']}",
                              query_string={"api-version": version}).respond_with_json(body)
    job = make_client(version).get_job(vault, body["id"])
    assert job.guid == body["name"] and job.status == body["properties"]["status"]


@pytest.mark.parametrize("version", VERSIONS)
def test_list_jobs_and_backup_instances(httpserver: HTTPServer, make_client: MakeClient, example: Example,
                                        version: str, base: str) -> None:
    """Jobs_List and BackupInstances_List follow nextLink to the end."""
    jobs = example(version, "JobCRUD/ListJobs.json")["responses"]["200"]["body"]["value"]
    instances = example(version, "BackupInstanceOperations/ListBackupInstances.json")["responses"]["200"]["body"]
    jobs_path = f"{VAULT.path}/backupJobs"
    httpserver.expect_ordered_request(jobs_path, query_string={"api-version": version}).respond_with_json(
        {"value": jobs[:1], "nextLink": f"{base}{jobs_path}?api-version={version}&$skipToken=2"})
    httpserver.expect_ordered_request(jobs_path, query_string=f"api-version={version}&$skipToken=2"
                                      ).respond_with_json({"value": jobs[1:]})
    httpserver.expect_request(f"{VAULT.path}/backupInstances").respond_with_json(instances)
    client = make_client(version)
    assert [j.guid for j in client.list_jobs(VAULT)] == [j["name"] for j in jobs]
    assert [b.name for b in client.list_backup_instances(VAULT)] == [v["name"] for v in instances["value"]]


def _job(name: str, start: str) -> dict[str, Any]:
    return {"id": f"{VAULT.path}/backupJobs/{name}", "name": name,
            "properties": {"operation": "Restore", "operationCategory": "Restore", "status": "Completed",
                           "startTime": start}}


def test_job_listing_since_a_time_stops_at_an_older_newest_first_page(
        httpserver: HTTPServer, make_client: MakeClient, base: str) -> None:
    """A busy vault's job list is long and unfiltered: a page wholly older than asked for ends the listing when
    the pages run newest first; otherwise every page is read."""
    path = f"{VAULT.path}/backupJobs"
    pages = [[_job("a", "2026-11-01T10:00:00Z"), _job("b", "2026-11-01T09:00:00Z")],
             [_job("c", "2026-11-01T07:00:00Z"), _job("d", "2026-11-01T06:00:00Z")],
             [_job("e", "2026-10-31T00:00:00Z")]]
    for index, values in enumerate(pages):
        query = "api-version=2026-06-01" + (f"&$skipToken={index}" if index else "")
        link = {"nextLink": f"{base}{path}?api-version=2026-06-01&$skipToken={index + 1}"} if index < 2 else {}
        httpserver.expect_request(path, query_string=query).respond_with_json({"value": values, **link})
    since = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert [j.guid for j in make_client().list_jobs(VAULT, started_since=since)] == ["a", "b", "c", "d"]
    assert len(httpserver.log) == 2
    assert [j.guid for j in make_client().list_jobs(VAULT)] == ["a", "b", "c", "d", "e"]
    oldest_first = [_job("e", "2026-10-31T00:00:00Z"), _job("d", "2026-11-01T06:00:00Z")]
    httpserver.clear()
    httpserver.expect_request(path, query_string="api-version=2026-06-01").respond_with_json(
        {"value": oldest_first, "nextLink": f"{base}{path}?api-version=2026-06-01&$skipToken=1"})
    httpserver.expect_request(path, query_string="api-version=2026-06-01&$skipToken=1").respond_with_json(
        {"value": [_job("a", "2026-11-01T10:00:00Z")]})
    assert [j.guid for j in make_client().list_jobs(VAULT, started_since=since)] == ["e", "d", "a"]


def test_next_link_loop_is_an_error(httpserver: HTTPServer, make_client: MakeClient, base: str) -> None:
    """A nextLink that points back at itself stops with an error instead of looping forever."""
    path = f"{VAULT.path}/backupJobs"
    httpserver.expect_request(path).respond_with_json(
        {"value": [], "nextLink": f"{base}{path}?api-version=2026-06-01"})
    with pytest.raises(DataProtectionError, match="paging loop"):
        make_client().list_jobs(VAULT)


@pytest.mark.parametrize(
    ("status", "code", "cls", "retryable"),
    [(400, "UserErrorInvalidRequestParameter", ApiError, False), (403, "AuthorizationFailed", AuthError, False),
     (404, "ResourceNotFound", NotFoundError, False), (409, "UserErrorAnotherOperationInProgress", ConflictError, True),
     (409, "Conflict", ConflictError, False), (500, "InternalError", ServerError, True),
     (503, "ServiceUnavailable", ServerError, True)],
)
def test_error_bodies_become_typed_errors(httpserver: HTTPServer, make_client: MakeClient, *, status: int,
                                          code: str, cls: type[ApiError], retryable: bool) -> None:
    """CloudError bodies carry code, message, details and ARM's ids onto the typed error."""
    httpserver.expect_request(f"{BI.path}/restore", method="POST").respond_with_json(
        {"error": {"code": code, "message": f"{code} happened", "target": "restoreTargetInfo",
                   "details": [{"code": "inner", "message": "inner message"}]}},
        status=status, headers={"x-ms-request-id": "rid-1", "x-ms-correlation-request-id": "cid-1"})
    with pytest.raises(cls) as info:
        make_client().trigger_restore(BI, {"x": 1})
    err = info.value
    assert type(err) is cls and err.status == status and err.code == code and err.retryable is retryable
    assert (err.request_id, err.correlation_id, err.target) == ("rid-1", "cid-1", "restoreTargetInfo")
    assert err.details == [{"code": "inner", "message": "inner message"}]
    assert code in str(err) and "cid-1" in str(err) and err.advice


def test_429_keeps_retry_after(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """Throttling: ThrottledError, retryable, with the raw Retry-After."""
    httpserver.expect_request(f"{VAULT.path}/backupJobs/g1").respond_with_json(
        {"error": {"code": "TooManyRequests", "message": "slow down"}}, status=429, headers={"Retry-After": "17"})
    with pytest.raises(ThrottledError) as info:
        make_client().get_job(VAULT, "g1")
    assert info.value.retry_after == "17" and info.value.retryable


def test_non_json_error_body(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """An HTML 502 from a gateway still becomes a retryable ServerError with a readable message."""
    httpserver.expect_request(f"{VAULT.path}/backupJobs/g1").respond_with_data(
        "<html><body>502 Bad Gateway</body></html>", status=502, content_type="text/html")
    with pytest.raises(ServerError) as info:
        make_client().get_job(VAULT, "g1")
    assert "Bad Gateway" in info.value.message and info.value.code == "HTTP502" and info.value.retryable


def test_non_json_success_body(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A 200 with garbage is a retryable DataProtectionError, not a crash."""
    httpserver.expect_request(f"{VAULT.path}/backupJobs/g1").respond_with_data("not json", status=200)
    with pytest.raises(DataProtectionError) as info:
        make_client().get_job(VAULT, "g1")
    assert info.value.retryable
    httpserver.clear()
    httpserver.expect_request(f"{VAULT.path}/backupJobs/g1").respond_with_data("[1]", status=200)
    with pytest.raises(DataProtectionError, match="not a JSON object"):
        make_client().get_job(VAULT, "g1")


def test_read_timeout_means_request_may_have_been_sent(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """No answer within the read timeout: TransportError(request_sent=True) (the restore may have started)."""
    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response(status=202)

    httpserver.expect_request(f"{BI.path}/restore", method="POST").respond_with_handler(slow)
    with pytest.raises(TransportError) as info:
        make_client(timeout=(2.0, 0.2)).trigger_restore(BI, {"x": 1})
    assert info.value.request_sent is True and info.value.retryable


def test_connection_refused_means_not_sent(make_client: MakeClient) -> None:
    """Nobody listening: TransportError(request_sent=False), safe to post again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError) as info:
        client.trigger_restore(BI, {"x": 1})
    assert info.value.request_sent is False


def test_expired_token_is_refreshed_once(httpserver: HTTPServer, make_client: MakeClient,
                                         factory: TokenFactory) -> None:
    """401 ExpiredAuthenticationToken: a fresh credential is built and the request retried once."""
    tokens: list[str] = []

    def handler(request: Request) -> Response:
        tokens.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-1":
            return _json({"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}}, 401)
        return _json({"name": "g1", "properties": {"status": "Completed"}})

    httpserver.expect_request(f"{VAULT.path}/backupJobs/g1").respond_with_handler(handler)
    job = make_client().get_job(VAULT, "g1")
    assert job.outcome == "succeeded"
    assert tokens == ["Bearer token-1", "Bearer token-2"] and len(factory.made) == 1


def test_token_refresh_gives_up_after_one_retry(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A second rejection is an AuthError; only two requests are sent."""
    httpserver.expect_request(f"{VAULT.path}/backupJobs/g1").respond_with_json(
        {"error": {"code": "InvalidAuthenticationToken", "message": "bad"}}, status=401)
    with pytest.raises(AuthError):
        make_client().get_job(VAULT, "g1")
    assert len(httpserver.log) == 2


def test_other_401_is_not_retried(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A 401 that is not about the token (no code match, no invalid_token challenge) fails at once."""
    httpserver.expect_request(f"{VAULT.path}/backupJobs/g1").respond_with_json(
        {"error": {"code": "AuthenticationFailed", "message": "no"}}, status=401)
    with pytest.raises(AuthError):
        make_client().get_job(VAULT, "g1")
    assert len(httpserver.log) == 1


def test_www_authenticate_invalid_token_triggers_refresh(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """A bare 401 with `WWW-Authenticate: Bearer error="invalid_token"` also refreshes."""
    httpserver.expect_ordered_request(f"{VAULT.path}/backupJobs/g1").respond_with_data(
        "", status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    httpserver.expect_ordered_request(f"{VAULT.path}/backupJobs/g1").respond_with_json({"name": "g1"})
    assert make_client().get_job(VAULT, "g1").guid == "g1"


def test_cae_claims_challenge_without_factory(httpserver: HTTPServer, base: str, credential: FakeCredential) -> None:
    """Without a factory, a claims challenge is passed to get_token (azure-identity then skips its cache)."""
    claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
    encoded = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
    challenge = f'Bearer realm="", error="insufficient_claims", claims="{encoded}"'
    httpserver.expect_ordered_request(f"{VAULT.path}/backupJobs/g1").respond_with_data(
        "", status=401, headers={"WWW-Authenticate": challenge})
    httpserver.expect_ordered_request(f"{VAULT.path}/backupJobs/g1",
                                      headers={"Authorization": "Bearer token-1-claims"}).respond_with_json(
        {"name": "g1"})
    client = DataProtectionClient(base, "2026-06-01", credential)
    assert client.get_job(VAULT, "g1").guid == "g1"
    httpserver.check_assertions()
    assert credential.calls[-1] == ((f"{base}/.default",), {"claims": claims})
    assert credential.calls[0] == ((f"{base}/.default",), {})
    client.close()


def test_token_scope_and_credential_failure(base: str, credential: FakeCredential) -> None:
    """The scope is {arm}/.default; a credential that fails is a TransportError that was not sent."""

    class Broken:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise RuntimeError("IMDS unreachable")

    client = DataProtectionClient(base + "/", "2026-06-01", Broken())
    assert client.scope == f"{base}/.default"
    with pytest.raises(TransportError) as info:
        client.get_job(VAULT, "g1")
    assert info.value.request_sent is False and "IMDS" in str(info.value)


def test_token_never_sent_to_another_host(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """Header URLs pointing away from the ARM endpoint are refused before anything is sent."""
    with pytest.raises(DataProtectionError, match="refusing") as info:
        make_client().get_operation_status("https://evil.example.com/operationStatus/x")
    assert not info.value.retryable and "ARM_ENDPOINT" in info.value.advice
    with pytest.raises(DataProtectionError):
        make_client().get_operation_status(httpserver.url_for("/x").replace("http://", "https://"))
    with pytest.raises(DataProtectionError):
        make_client().get_operation_status("http://localhost:99999/x")
    assert httpserver.log == []
    with pytest.raises(ValueError):
        DataProtectionClient("not-a-url", "2026-06-01", FakeCredential())


def test_loopback_names_are_not_one_origin(httpserver: HTTPServer, make_client: MakeClient) -> None:
    """localhost and 127.0.0.1 are different hosts to the token (issue 17 item 4; test_token_origin.py has the
    rest): a 127.0.0.1 status URL is refused when ARM_ENDPOINT says localhost, though both reach the server."""
    httpserver.expect_request("/op").respond_with_json({"status": "Succeeded"})
    url = httpserver.url_for("/op").replace("localhost", "127.0.0.1")
    client = make_client(endpoint=httpserver.url_for("/").rstrip("/").replace("127.0.0.1", "localhost"))
    with pytest.raises(DataProtectionError, match="host is not ARM_ENDPOINT's"):
        client.get_operation_status(url)
    assert httpserver.log == []


def test_logs_hold_no_token_and_no_query(httpserver: HTTPServer, make_client: MakeClient, base: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """Debug logs name the call and ARM's ids but never the token or a URL's query."""
    path = "/subscriptions/s/providers/Microsoft.DataProtection/locations/x/operationStatus/op"
    httpserver.expect_request(path).respond_with_json(
        {"status": "Succeeded"}, headers={"x-ms-request-id": "rid-7", "x-ms-correlation-request-id": "cid-7"})
    with caplog.at_level(logging.DEBUG, logger="pgflex_restore.client"):
        make_client().get_operation_status(f"{base}{path}?sig=SECRETSAS")
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pgflex_restore"))
    assert "rid-7" in text and "cid-7" in text and path in text
    assert "SECRETSAS" not in text and "token-1" not in text


def test_make_credential_picks_the_identity_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured client id means that user-assigned managed identity; none means azure-identity's default chain."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    settings = Settings(arm_endpoint="http://127.0.0.1:9", client_id="00000000-0000-0000-0000-000000000001")
    assert isinstance(make_credential(settings, {}), ManagedIdentityCredential)  # off App Service
    monkeypatch.delenv("AZURE_CLIENT_ID", raising=False)
    assert isinstance(make_credential(Settings(), {}), DefaultAzureCredential)
