"""The request's load section, its two settings and the plan: field paths, the allowlist, LOAD_JOB."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.errors import TARGET_NOT_ALLOWED, ConfigurationError, RequestValidationError
from pgflex_restore.ids import ArmIdError, ContainerAppJobId, FlexibleServerId
from pgflex_restore.load_spec import (
    LoadSpec,
    database_name_problem,
    host_allowed,
    normalize_load_target,
    server_allowed,
)
from pgflex_restore.models import RestoreRequest
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.settings import SETTING_NAMES, Settings

BI = ("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/vault"
      "/backupInstances/pg-1")
URL = "https://acct.blob.core.windows.net/restores"
SERVER = "/subscriptions/sub/resourceGroups/rg-db/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-restored"
JOB = "/subscriptions/sub/resourceGroups/rg-app/providers/Microsoft.App/jobs/pgflex-loader"
LOADS = (SERVER.upper().replace("/SUBSCRIPTIONS", "/subscriptions"),)


def body(load: Any) -> dict[str, Any]:
    return {"backupInstance": BI, "target": {"containerUrl": URL, "filePrefix": "p"}, "load": load}


def parse(load: Any, allow: tuple[str, ...] = LOADS) -> RestoreRequest:
    return RestoreRequest.from_dict(body(load), allowlist=(URL,), load_allowlist=allow)


def errors_of(load: Any, allow: tuple[str, ...] = LOADS) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as info:
        parse(load, allow)
    return {e.path: e.code for e in info.value.errors}


def test_a_minimal_load_takes_the_documented_defaults_and_round_trips() -> None:
    request = parse({"server": SERVER})
    assert request.load == LoadSpec(FlexibleServerId.parse(SERVER), None, "fail", "apply", 4)
    wire = request.to_dict()
    assert wire["load"] == {"server": SERVER, "onExists": "fail", "roles": "apply", "jobs": 4}
    assert RestoreRequest.from_dict(wire, allowlist=(URL,), load_allowlist=LOADS) == request


def test_every_load_field_parses() -> None:
    load = parse({"server": SERVER, "databases": {"sales": "sales_restored", "HR x": "hr"}, "onExists": "Replace",
                  "roles": "skip", "jobs": 32}).load
    assert load is not None
    assert (load.databases, load.on_exists, load.roles, load.jobs) == (
        {"sales": "sales_restored", "HR x": "hr"}, "replace", "skip", 32)


def test_a_request_without_load_has_none_and_writes_none() -> None:
    request = RestoreRequest.from_dict({k: v for k, v in body(None).items() if k != "load"}, allowlist=(URL,))
    assert request.load is None and "load" not in request.to_dict()


def test_a_server_off_the_allowlist_is_refused_like_a_target_off_its_list() -> None:
    with pytest.raises(RequestValidationError) as info:
        parse({"server": SERVER}, allow=())
    assert info.value.target_not_allowed  # the HTTP starter answers 403, the queue rejects, the CLI exits 2
    assert [(e.path, e.code) for e in info.value.errors] == [("load.server", TARGET_NOT_ALLOWED)]
    assert "LOAD_TARGET_ALLOWLIST" in str(info.value)


def test_a_host_entry_allows_the_server_of_that_name() -> None:
    assert parse({"server": SERVER}, allow=("PG-Restored.postgres.database.azure.com",)).load is not None
    assert errors_of({"server": SERVER}, allow=("other.postgres.database.azure.com",)) == {
        "load.server": TARGET_NOT_ALLOWED}


def test_every_problem_is_reported_with_its_path() -> None:
    problems = errors_of({"server": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Sql/servers/x",
                          "databases": {"a": "", "b\x00": "x", "c": "t" * 64, "d": "template1", "e": 5},
                          "onExists": "drop", "roles": "maybe", "jobs": 0, "parallel": 2})
    assert problems == {"load.server": "invalid", "load.databases.a": "invalid", "load.databases.b?": "invalid",
                        "load.databases.c": "invalid", "load.databases.d": "invalid",
                        "load.databases.e": "invalid", "load.onExists": "invalid", "load.roles": "invalid",
                        "load.jobs": "invalid", "load.parallel": "unknown"}


@pytest.mark.parametrize("jobs", [0, 33, True, "4", 2.5])
def test_jobs_is_a_whole_number_from_1_to_32(jobs: Any) -> None:
    assert errors_of({"server": SERVER, "jobs": jobs}) == {"load.jobs": "invalid"}


def test_two_databases_into_one_target_are_refused() -> None:
    assert errors_of({"server": SERVER, "databases": {"a": "same", "b": "same"}}) == {
        "load.databases.b": "conflict"}


@pytest.mark.parametrize(("load", "path"), [
    ("pg", "load"), ({"databases": {"a": "b"}}, "load.server"), ({"server": SERVER, "databases": {}},
                                                                  "load.databases"),
    ({"server": SERVER, "databases": ["a"]}, "load.databases"),
])
def test_shape_errors(load: Any, path: str) -> None:
    assert path in errors_of(load)


def test_load_problems_come_with_the_rest_of_the_request() -> None:
    data = body({"server": SERVER, "jobs": 99})
    data["target"] = {"containerUrl": "https://evil.blob.core.windows.net/x"}
    with pytest.raises(RequestValidationError) as info:
        RestoreRequest.from_dict(data, allowlist=(URL,), load_allowlist=LOADS)
    assert {e.path for e in info.value.errors} == {"target.containerUrl", "load.jobs"}
    assert not info.value.target_not_allowed  # a 400: not only allowlist refusals


@given(st.text(min_size=1, max_size=80))
def test_database_names_are_1_to_63_bytes_without_control_characters(name: str) -> None:
    problem = database_name_problem(name)
    valid = len(name.encode()) <= 63 and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    assert (problem is None) == valid


def test_allowlist_entries_normalise_and_match_case_insensitively() -> None:
    server = FlexibleServerId.parse(SERVER)
    entries = (normalize_load_target(SERVER.upper().replace("/SUBSCRIPTIONS", "/subscriptions")),
               normalize_load_target(" Host.Example.COM. "))
    assert entries == (SERVER.lower(), "host.example.com")
    assert server_allowed(server, entries[:1]) and not server_allowed(server, entries[1:])
    assert host_allowed(server, "whatever", entries[:1]) and host_allowed(server, "HOST.example.com", entries[1:])
    assert not host_allowed(server, "pg-restored.evil.com", ("pg-restored.postgres.database.azure.com",))
    with pytest.raises(ValueError, match="neither"):
        normalize_load_target("not a host!")


def test_the_two_settings() -> None:
    settings = Settings.from_env({"LOAD_TARGET_ALLOWLIST": f"{SERVER}, pg2.postgres.database.azure.com,{SERVER}",
                                  "LOAD_JOB": JOB})
    assert settings.load_target_allowlist == (SERVER.lower(), "pg2.postgres.database.azure.com")
    assert settings.load_job == ContainerAppJobId.parse(JOB)
    assert Settings.from_env({}).load_target_allowlist == () and Settings.from_env({}).load_job is None
    assert SETTING_NAMES[-2:] == ("LOAD_TARGET_ALLOWLIST", "LOAD_JOB")
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({"LOAD_TARGET_ALLOWLIST": "a b", "LOAD_JOB": SERVER})
    assert info.value.settings == ("LOAD_TARGET_ALLOWLIST", "LOAD_JOB")
    assert "Container Apps job ARM id" in info.value.problems["LOAD_JOB"]


def test_a_load_without_load_job_is_a_configuration_error_and_with_it_the_plan_names_the_job() -> None:
    request = parse({"server": SERVER})
    with pytest.raises(ConfigurationError, match="LOAD_JOB") as info:
        RestorePlan.create("r1", request, Settings.from_env({}))
    assert info.value.setting == "LOAD_JOB"
    plan = RestorePlan.create("r1", request, Settings.from_env({"LOAD_JOB": JOB}))
    assert plan.load_job == JOB and RestorePlan.from_dict(plan.to_dict()) == plan
    plain = RestoreRequest.from_dict({k: v for k, v in body(None).items() if k != "load"}, allowlist=(URL,))
    assert RestorePlan.create("r2", plain, Settings.from_env({"LOAD_JOB": JOB})).load_job is None


def test_typed_ids_of_the_server_and_the_job() -> None:
    server = FlexibleServerId.parse(f"https://management.azure.com{SERVER.lower()}/?api-version=x")
    assert (server.subscription_id, server.resource_group, server.server_name) == ("sub", "rg-db", "pg-restored")
    assert str(server) == SERVER  # canonical segment and provider names, the names as given
    assert str(ContainerAppJobId.parse(JOB)) == JOB
    for text, needle in [(JOB, "provider must be Microsoft.DBforPostgreSQL"), (SERVER + "/databases/x", "unexpected"),
                         (SERVER.replace("flexibleServers", "servers"), "flexibleServers segment missing")]:
        with pytest.raises(ArmIdError, match=needle):
            FlexibleServerId.parse(text)
    with pytest.raises(ArmIdError, match="jobs name missing"):
        ContainerAppJobId.parse(JOB.rsplit("/", 1)[0] + "/")
