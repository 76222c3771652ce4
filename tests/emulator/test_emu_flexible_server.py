"""Flexible servers in the emulator, backed by a real PostgreSQL shaped like Azure (allowlist, Entra logins)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests

from devhost.postgres import Postgres, start_postgres
from emulator import EmulatorServer, VirtualClock
from emulator.auth import OSSRDBMS_RESOURCE
from emulator.spec import provider_validator
from tests.emulator.emusupport import START, Arm
from tests.emulator.loadsupport import (
    APPS,
    CONFIG_PATH,
    LOADER_CLIENT,
    PG,
    RG,
    SERVER,
    SERVER_PATH,
    SUB,
    container,
    job_scenario,
    output,
    server_scenario,
    start,
    wait_terminal,
)

NOT_ALLOWED = 'Extension "hstore" is not allow-listed for "azure_pg_admin" users in Azure Database for PostgreSQL'


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    """A cluster of its own: the allowlist is enforced, and the loader's Entra role exists."""
    server = start_postgres(extension_allowlist=[])
    server.create_entra_principal("loader-mi")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(pg: Postgres, request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    with EmulatorServer(server_scenario(pg.superuser_dsn(), **overrides), clock=VirtualClock(START)) as server:
        yield server


@pytest.fixture
def arm(emulator: EmulatorServer) -> Arm:
    return Arm(emulator, api_version=PG)


def _put(arm: Arm, value: str, method: str = "PUT", source: str | None = "user-override") -> requests.Response:
    properties = {"value": value, **({"source": source} if source is not None else {})}
    return arm.request(method, CONFIG_PATH, json={"properties": properties})


def _create_extension(pg: Postgres, database: str, extension: str) -> None:
    with psycopg.connect(pg.uri(database), autocommit=True) as connection:
        connection.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')


def _fresh_database(pg: Postgres, name: str) -> str:
    with psycopg.connect(pg.uri(), autocommit=True) as connection:  # as the admin, who then owns it
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def test_get_server_reads_the_real_postgres(arm: Arm, pg: Postgres) -> None:
    answer = arm.get(SERVER_PATH)
    assert answer.status_code == 200
    server = answer.json()
    provider_validator("microsoft.dbforpostgresql").validate("Server", server)
    properties = server["properties"]
    major = str(pg.sql("show server_version")[0][0]).split(".")[0]
    assert properties["version"] == major
    assert properties["fullyQualifiedDomainName"] == "127.0.0.1"
    assert properties["state"] == "Ready"
    assert properties["network"]["publicNetworkAccess"] == "Enabled"
    assert properties["authConfig"]["activeDirectoryAuth"] == "Enabled"
    assert properties["authConfig"]["passwordAuth"] == "Enabled"
    assert arm.get(SERVER_PATH, api_version="2026-10-01").status_code == 200


def test_get_azure_extensions(arm: Arm) -> None:
    answer = arm.get(CONFIG_PATH)
    assert answer.status_code == 200
    configuration = answer.json()
    provider_validator("microsoft.dbforpostgresql").validate("Configuration", configuration)
    properties = configuration["properties"]
    assert configuration["name"] == "azure.extensions"
    assert properties["value"] == "" and properties["dataType"] == "Set" and properties["isDynamicConfig"] is True
    assert "pg_trgm" in properties["allowedValues"].split(",") and properties["source"] == "system-default"


def test_a_parameter_change_is_202_then_applied_to_the_real_server(arm: Arm, emulator: EmulatorServer,
                                                                    pg: Postgres) -> None:
    database = _fresh_database(pg, "flex_apply")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=NOT_ALLOWED):
        _create_extension(pg, database, "hstore")
    answer = _put(arm, "pg_trgm,hstore")
    assert answer.status_code == 202 and answer.text == ""
    status_url, location = answer.headers["Azure-AsyncOperation"], answer.headers["Location"]
    scope = f"{emulator.url}/subscriptions/{SUB}/providers/Microsoft.DBforPostgreSQL/locations/westeurope/"
    assert status_url.startswith(scope + "azureAsyncOperation/") and location.startswith(scope + "operationResults/")
    # Another api-version than the call's, as the service's example has them: followed as received.
    assert {status_url.split("?")[1], location.split("?")[1]} == {"api-version=2025-06-01-preview"}
    assert arm.get(SERVER_PATH, api_version="2025-06-01-preview").status_code == 404
    assert answer.headers["Retry-After"] == "10"
    running = arm.get(status_url)
    assert running.json()["status"] == "InProgress" and running.headers["Retry-After"] == "10"
    assert arm.get(location).status_code == 202
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nothing applied before the operation ends
        _create_extension(pg, database, "hstore")
    assert isinstance(emulator.clock, VirtualClock)
    emulator.clock.advance(20)
    done = arm.get(status_url).json()
    provider_validator("microsoft.dbforpostgresql").validate("OperationStatus", done)
    assert done["status"] == "Succeeded" and "endTime" in done
    final = arm.get(location)
    assert final.status_code == 200 and final.json()["properties"]["value"] == "pg_trgm,hstore"
    assert arm.get(CONFIG_PATH).json()["properties"]["source"] == "user-override"
    _create_extension(pg, database, "hstore")  # allowed now, in the real server
    assert pg.allowed_extensions() == ["pg_trgm", "hstore"]


def test_patch_is_accepted_like_put(arm: Arm, emulator: EmulatorServer) -> None:
    answer = _put(arm, "pg_trgm", method="PATCH")
    assert answer.status_code == 202 and "Azure-AsyncOperation" in answer.headers


def test_values_outside_allowed_values_and_incomplete_bodies_are_400(arm: Arm, emulator: EmulatorServer) -> None:
    outside = _put(arm, "pg_trgm,not_an_extension")
    assert outside.status_code == 400
    assert outside.json()["error"]["code"] == "InvalidParameterValue"
    assert "not_an_extension" in outside.json()["error"]["message"]
    no_source = _put(arm, "pg_trgm", source=None)
    assert no_source.status_code == 400 and no_source.json()["error"]["target"] == "properties.source"
    not_a_string = arm.request("PUT", CONFIG_PATH, json={"properties": {"value": 5, "source": "user-override"}})
    assert not_a_string.status_code == 400
    assert emulator.configuration_operations() == []


@pytest.mark.parametrize("emulator", [{"failures": {"configuration": {"code": "ServerBusy",
                                                                       "message": "try later"}}}], indirect=True)
def test_a_failed_change_reports_its_error_and_changes_nothing(arm: Arm, emulator: EmulatorServer) -> None:
    answer = _put(arm, "pg_trgm")
    assert isinstance(emulator.clock, VirtualClock)
    emulator.clock.advance(20)
    status = arm.get(answer.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Failed" and status["error"] == {"code": "ServerBusy", "message": "try later"}
    result = arm.get(answer.headers["Location"])
    assert result.status_code == 400 and result.json()["error"]["code"] == "ServerBusy"
    assert arm.get(CONFIG_PATH).json()["properties"]["value"] == ""


@pytest.mark.parametrize("emulator", [{"denyActions": ["Microsoft.DBforPostgreSQL/flexibleServers/configurations/"
                                                        "write"]}], indirect=True)
def test_unknown_resources_and_withheld_roles(arm: Arm, emulator: EmulatorServer) -> None:
    assert arm.get(SERVER_PATH.replace(SERVER, "pg-other")).status_code == 404
    unknown_parameter = arm.get(SERVER_PATH + "/configurations/no.such.parameter")
    assert unknown_parameter.status_code == 404 and unknown_parameter.json()["error"]["code"] == "ResourceNotFound"
    denied = _put(arm, "pg_trgm")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "AuthorizationFailed"
    assert arm.get(CONFIG_PATH).status_code == 200
    emulator.inject_fault("status", status=503, retry_after=4, method="GET", path="/flexibleServers/")
    unavailable = arm.get(SERVER_PATH)
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "4"


def _db_token(emulator: EmulatorServer, client_id: str = LOADER_CLIENT) -> str:
    answer = requests.get(emulator.identity_endpoint, timeout=10,
                          params={"api-version": "2019-08-01", "resource": OSSRDBMS_RESOURCE, "client_id": client_id},
                          headers={"X-IDENTITY-HEADER": emulator.identity_header})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_a_database_token_is_the_loader_role_password(emulator: EmulatorServer, pg: Postgres) -> None:
    token = _db_token(emulator)
    with psycopg.connect(pg.uri(user="loader-mi", password=token)) as connection:
        row = connection.execute("select current_user, pg_has_role('azure_pg_admin', 'member')").fetchone()
    assert row == ("loader-mi", True)
    assert _db_token(emulator) == token  # the platform hands the cached token out again while it is fresh
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg.uri(user="loader-mi", password="not-the-token")).close()
    events = emulator.token_passwords()
    assert events[-1]["role"] == "loader-mi" and events[-1]["result"] == "password set"
    arm_answer = requests.get(f"{emulator.url}{SERVER_PATH}", params={"api-version": PG}, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
    assert arm_answer.status_code == 401  # a database token is not an ARM token
    assert arm_answer.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_an_expired_token_fails_new_logins_while_open_sessions_go_on(emulator: EmulatorServer, pg: Postgres) -> None:
    control = requests.post(f"{emulator.url}/_emulator/tokens/lifetime", timeout=10,
                            json={"resource": OSSRDBMS_RESOURCE, "seconds": 2})
    assert control.status_code == 200
    token = _db_token(emulator)
    with psycopg.connect(pg.uri(user="loader-mi", password=token), autocommit=True) as session:
        time.sleep(2.5)
        assert session.execute("select 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(pg.uri(user="loader-mi", password=token)).close()
    fresh = _db_token(emulator)
    assert fresh != token
    psycopg.connect(pg.uri(user="loader-mi", password=fresh)).close()


def test_a_job_execution_signs_in_with_its_identity_token(pg: Postgres) -> None:
    """The whole chain: the job's identity header -> a database token -> the role's password -> a login."""
    group = {**job_scenario()["subscriptions"][SUB]["resourceGroups"][RG],
             **server_scenario(pg.superuser_dsn())["subscriptions"][SUB]["resourceGroups"][RG]}
    with EmulatorServer({"subscriptions": {SUB: {"resourceGroups": {RG: group}}}},
                        clock=VirtualClock(START)) as emulator:
        arm = Arm(emulator, api_version=APPS)
        env = {"JOB_MODE": "sign-in", "AZURE_CLIENT_ID": LOADER_CLIENT, "LOADER_PG_USER": "loader-mi",
               "PGPORT": str(pg.port)}
        name = start(arm, {"containers": [container(env)]}).json()["name"]
        assert wait_terminal(arm, name)[-1] == "Succeeded", output(emulator, name)
        assert "[loader] SIGNED IN AS loader-mi" in output(emulator, name)
