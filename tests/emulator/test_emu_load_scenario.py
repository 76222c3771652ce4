"""Scenario entries for the load step: typos and malformed templates are refused at load, naming the key."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from emulator import EmulatorServer, Scenario, ScenarioError, VirtualClock
from tests.emulator.emusupport import START
from tests.emulator.loadsupport import JOB, RG, SERVER, SUB, job_scenario, server_scenario


def _load(data: dict[str, Any]) -> Scenario:
    return Scenario.from_dict(data, START)


@pytest.mark.parametrize(("data", "message"), [
    (job_scenario(replicaTimeOut=5), "jobs.pg-loader.replicaTimeOut: unknown key"),
    (job_scenario(start={"status": 201}), "start.status: 200 or 202"),
    (job_scenario(interludes=["Succeeded"]), "interludes: among Degraded, Unknown, Processing"),
    (job_scenario(template={"containers": [{"name": "loader", "image": "i", "env": {"A": "1"}}]}),
     "template.containers[0].env' must be of type array"),
    (job_scenario(template={"containers": []}), "template.containers: at least one container"),
    (server_scenario(None, state="Sleeping"), "flexibleServers.pg-restored.state: one of Ready"),
    (server_scenario(None, postgres={"dsn": "x"}), "postgres.dsn: unknown key"),
    (server_scenario(None, failures={"configuration": {"message": "no code"}}), "needs at least a 'code'"),
])
def test_malformed_entries_are_refused_naming_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _load(data)


def test_jobs_and_servers_make_their_subscription_and_group_known() -> None:
    scenario = _load({"subscriptions": {SUB: {"resourceGroups": {RG: {
        **job_scenario()["subscriptions"][SUB]["resourceGroups"][RG],
        **server_scenario(None)["subscriptions"][SUB]["resourceGroups"][RG]}}}}})
    assert scenario.has_resource_group(SUB, RG.upper())
    assert scenario.job(SUB, RG, JOB.upper()) is not None and scenario.server(SUB, RG, SERVER) is not None


def test_a_scenario_posted_to_the_control_api_serves_its_job() -> None:
    with EmulatorServer({}, clock=VirtualClock(START)) as server:
        posted = requests.post(f"{server.url}/_emulator/scenario", json=job_scenario(), timeout=10)
        assert posted.status_code == 200
        assert server.state.scenario.job(SUB, RG, JOB) is not None
        refused = requests.post(f"{server.url}/_emulator/scenario", json=job_scenario(bogus=1), timeout=10)
        assert refused.status_code == 400 and "bogus" in refused.json()["error"]
        unreachable = requests.post(f"{server.url}/_emulator/scenario", timeout=10, json=server_scenario(
            "host=/nonexistent-socket-dir port=1 dbname=postgres user=postgres"))
        assert unreachable.status_code == 400 and "cannot be reached as superuser" in unreachable.json()["error"]


@pytest.mark.parametrize("provider", ["microsoft.app", "microsoft.dbforpostgresql", "microsoft.storage",
                                      "microsoft.authorization"])
def test_every_operation_of_the_description_is_served(provider: str) -> None:
    """The routes follow the derived description: each of its paths and methods has a handler, for every
    api-version it lists, and another api-version finds none."""
    from emulator.arm import ArmRoutes
    from emulator.errors import ArmError
    from emulator.spec import provider_description

    routes = ArmRoutes()
    description = provider_description(provider)
    samples = {"subscriptionId": SUB, "resourceGroupName": RG, "jobName": JOB, "jobExecutionName": f"{JOB}-abc1234",
               "serverName": SERVER, "configurationName": "azure.extensions", "accountName": "acct",
               "containerName": "restores", "scope": f"subscriptions/{SUB}"}
    served = 0
    for template, operations in description["paths"].items():
        path = template.format(**samples)
        for method in operations:
            for version in description["apiVersions"]:
                handler, _ = routes.match(method.upper(), path, version)
                assert callable(handler)
                served += 1
            with pytest.raises(ArmError):
                routes.match(method.upper(), path, "2020-01-01")
    # Each description's operations, times its api-versions: none may be empty or lose an operation unseen.
    assert served >= {"microsoft.storage": 3, "microsoft.authorization": 1}.get(provider, 8)
