"""The load's ARM calls over a real socket: paths, api-versions, bodies, headers kept verbatim, typed errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from pgflex_restore.errors import AuthError, DataProtectionError, PacedError
from pgflex_restore.ids import ContainerAppJobId, FlexibleServerId
from pgflex_restore.load_client import LoadClient
from tests.client.dp_fakes import FakeCredential

SERVER = FlexibleServerId("sub", "rg-db", "pg-restored")
JOB = ContainerAppJobId("sub", "rg-app", "loader")
PG = {"api-version": "2025-08-01"}
APP = {"api-version": "2025-07-01"}


@pytest.fixture
def client(base: str, credential: FakeCredential) -> Iterator[LoadClient]:
    made = LoadClient(base, "2026-06-01", credential, timeout=(2.0, 2.0))
    yield made
    made.close()


def test_get_server_with_the_postgres_api_version(httpserver: HTTPServer, client: LoadClient) -> None:
    httpserver.expect_request(SERVER.path, method="GET", query_string=PG,
                              headers={"Authorization": "Bearer token-1"}).respond_with_json({
        "id": SERVER.path, "name": "pg-restored", "properties": {
            "fullyQualifiedDomainName": "pg-restored.postgres.database.azure.com", "version": "16", "state": "Ready"}})
    server = client.get_server(SERVER)
    assert (server.host, server.version, server.ready) == ("pg-restored.postgres.database.azure.com", "16", True)


def test_extensions_get_and_put_202_with_urls_verbatim(httpserver: HTTPServer, client: LoadClient,
                                                       base: str) -> None:
    path = f"{SERVER.path}/configurations/azure.extensions"
    httpserver.expect_request(path, method="GET", query_string=PG).respond_with_json(
        {"properties": {"value": "pg_trgm", "allowedValues": "pg_trgm,hstore", "source": "user-override"}})
    status_url = f"{base}/subscriptions/sub/providers/Microsoft.DBforPostgreSQL/locations/westeurope/" \
                 "azureAsyncOperation/op-1?api-version=2025-06-01-preview"
    httpserver.expect_request(path, method="PUT", query_string=PG, json={
        "properties": {"value": "pg_trgm,hstore", "source": "user-override"}}).respond_with_data(
        "", status=202, headers={"Azure-AsyncOperation": status_url, "Location": f"{base}/loc?x=1",
                                 "Retry-After": "10"})
    assert client.get_extensions(SERVER).value == ("pg_trgm",)
    operation = client.put_extensions(SERVER, "pg_trgm,hstore")
    assert (operation.status_url, operation.result_url, operation.retry_after, operation.done) == (
        status_url, f"{base}/loc?x=1", "10", False)
    httpserver.expect_request("/subscriptions/sub/providers/Microsoft.DBforPostgreSQL/locations/westeurope/"
                              "azureAsyncOperation/op-1", query_string={"api-version": "2025-06-01-preview"}
                              ).respond_with_json({"status": "InProgress"}, headers={"Retry-After": "5"})
    poll = client.get_operation_status(status_url)  # the restore's own status read parses it
    assert (poll.status.state, poll.retry_after) == ("running", "5")


def test_start_200_restates_the_template_and_names_the_execution(httpserver: HTTPServer, client: LoadClient) -> None:
    httpserver.expect_request(JOB.path, method="GET", query_string=APP).respond_with_json({"properties": {
        "template": {"containers": [{"name": "loader", "image": "img:1", "env": [{"name": "A", "value": "1"}]}]}}})
    template = client.get_loader_job(JOB)
    body = {"containers": [{**template["containers"][0], "env": [{"name": "A", "value": "1"},
                                                                  {"name": "LOAD_REQUEST", "value": "{}"}]}]}
    httpserver.expect_request(f"{JOB.path}/start", method="POST", query_string=APP, json=body).respond_with_json(
        {"name": "loader-abc", "id": f"{JOB.path}/executions/loader-abc"})
    answer = client.start_execution(JOB, body)
    assert answer.execution is not None and answer.execution.name == "loader-abc"


def test_start_202_then_the_location_gives_the_execution(httpserver: HTTPServer, client: LoadClient,
                                                         base: str) -> None:
    location = f"{base}/subscriptions/sub/providers/Microsoft.App/locations/westeurope/jobOperations/s1?x=y"
    httpserver.expect_request(f"{JOB.path}/start", method="POST").respond_with_data(
        "", status=202, headers={"Location": location, "Retry-After": "3"})
    answer = client.start_execution(JOB, {"containers": []})
    assert (answer.execution, answer.result_url, answer.retry_after) == (None, location, "3")
    path = "/subscriptions/sub/providers/Microsoft.App/locations/westeurope/jobOperations/s1"
    httpserver.expect_ordered_request(path, query_string={"x": "y"}).respond_with_data("", status=202)
    httpserver.expect_ordered_request(path, query_string={"x": "y"}).respond_with_json({"name": "loader-1"})
    pending = client.get_start_result(location)
    assert pending.execution is None and pending.result_url == location  # no new Location: poll the same
    done = client.get_start_result(location)
    assert done.execution is not None and done.execution.name == "loader-1"


def test_executions_get_list_and_stop(httpserver: HTTPServer, client: LoadClient, base: str) -> None:
    env = [{"name": "LOAD_REQUEST", "value": json.dumps({"runId": "restore-1"})}]
    item = {"name": "loader-1", "properties": {"status": "Running", "startTime": "2026-11-01T08:00:00Z",
                                               "template": {"containers": [{"env": env}]}}}
    httpserver.expect_request(f"{JOB.path}/executions/loader-1", method="GET", query_string=APP).respond_with_json(
        item)
    httpserver.expect_request(f"{JOB.path}/executions", method="GET", query_string=APP).respond_with_json(
        {"value": [item], "nextLink": f"{base}{JOB.path}/executions?api-version=2025-07-01&page=2"})
    httpserver.expect_request(f"{JOB.path}/executions", method="GET",
                              query_string={"api-version": "2025-07-01", "page": "2"}).respond_with_json(
        {"value": [{**item, "name": "loader-0", "properties": {"status": "Succeeded"}}], "nextLink": None})
    httpserver.expect_request(f"{JOB.path}/executions/loader-1/stop", method="POST",
                              query_string=APP).respond_with_data("", status=202)
    execution = client.get_execution(JOB, "loader-1")
    assert (execution.state, execution.run_id) == ("running", "restore-1")
    assert [(e.name, e.state) for e in client.list_executions(JOB)] == [("loader-1", "running"),
                                                                        ("loader-0", "succeeded")]
    client.stop_execution(JOB, "loader-1")


def test_errors_are_typed_with_the_arm_code_and_ids(httpserver: HTTPServer, client: LoadClient) -> None:
    httpserver.expect_request(f"{JOB.path}/start", method="POST").respond_with_json(
        {"error": {"code": "AuthorizationFailed", "message": "no jobs/start/action"}}, status=403,
        headers={"x-ms-correlation-request-id": "corr-1"})
    with pytest.raises(AuthError) as info:
        client.start_execution(JOB, {"containers": []})
    assert (info.value.code, info.value.correlation_id, info.value.retryable) == ("AuthorizationFailed", "corr-1",
                                                                                   False)


def test_a_location_on_another_host_never_gets_the_token(client: LoadClient) -> None:
    with pytest.raises(DataProtectionError, match="refusing to send the ARM token"):
        client.get_start_result("https://evil.example.com/loc")


def test_the_start_is_paced_before_anything_is_recorded(httpserver: HTTPServer, base: str,
                                                        credential: FakeCredential) -> None:
    asked: list[tuple[str, str]] = []
    waits = iter([0.0, 4.0])

    def pacer(method: str, url: str) -> float:
        asked.append((method, url))
        return next(waits)

    client = LoadClient(base, "2026-06-01", credential, pacer=pacer)
    httpserver.expect_request(f"{JOB.path}/start", method="POST").respond_with_json({"name": "e"})
    client.pace_start(JOB)
    assert client.start_execution(JOB, {"containers": []}).execution is not None
    assert len(asked) == 1  # the POST went on the slot pace_start took
    with pytest.raises(PacedError):
        client.pace_start(JOB)
    client.close()


def test_a_start_answered_by_a_gateway_error_may_have_started(httpserver: HTTPServer, client: LoadClient) -> None:
    """A 500/502/504 after the POST: the execution may exist, so the activity looks for it before posting again."""
    httpserver.expect_request(f"{JOB.path}/start", method="POST").respond_with_json(
        {"error": {"code": "GatewayTimeout", "message": "upstream timed out"}}, status=504)
    with pytest.raises(DataProtectionError) as info:
        client.start_execution(JOB, {"containers": []})
    assert info.value.retryable and info.value.outcome_unknown
