"""The pre-flight without a restore: ``GET /api/preflight`` and ``python -m pgflex_restore preflight`` against the
running app's emulator: the same findings, every 4xx naming its parameter, the CLI's exit codes."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests

from cli.restore import main
from devhost.azurite import Azurite
from tests.e2e.stack import Stack, Target, instance_id, running_stack, server_id

pytestmark = pytest.mark.one_mode


def preflight(stack: Stack, **params: str) -> requests.Response:
    return requests.get(f"{stack.api}/preflight", params=params, headers=stack.key, timeout=60)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["preflight", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_route_reads_the_point_and_reports_findings_without_restoring(azurite: Azurite) -> None:
    """A healthy target is ok with no finding; the latest point was read (it is not given); nothing was posted and
    no orchestration started."""
    with running_stack(azurite) as stack:
        reply = preflight(stack, backupInstance=instance_id("pg1"), containerUrl=stack.container_url)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["ok"], body["findings"], body["blocking"], body["recoveryPoint"]) == (True, [], 0, "latest")
        assert body["armCalls"] == len(stack.arm_requests())
        assert stack.arm_requests("GET", "/recoveryPoints")  # the point the restore would take
        assert stack.arm_requests("POST") == [] and stack.host.instances() == []


def test_the_route_says_what_blocks(azurite: Azurite) -> None:
    with running_stack(azurite, target=Target(account={"containers": []})) as stack:
        reply = preflight(stack, backupInstance=instance_id("pg1"), containerUrl=stack.container_url,
                          recoveryPoint="rp-1")
        body = reply.json()
        assert reply.status_code == 200 and body["ok"] is False
        assert [f["code"] for f in body["findings"]] == ["ContainerNotFound"]
        assert body["findings"][0]["fix"].startswith("az storage container create --name restores")
        missing = preflight(stack, backupInstance=instance_id("pg1"), containerUrl=stack.container_url,
                            recoveryPoint="no-such-point").json()
        assert [f["code"] for f in missing["findings"]] == ["RecoveryPointNotFound", "ContainerNotFound"]


BAD = [
    ({}, 400, "backupInstance"),
    ({"backupInstance": "nope"}, 400, "backupInstance"),
    ({"backupInstance": "a\nb"}, 400, "backupInstance"),
    ({"backupInstance": instance_id("pg1"), "containerUrl": "ftp://x"}, 400, "containerUrl"),
    ({"backupInstance": instance_id("pg1"), "containerUrl": ""}, 400, "containerUrl"),
    ({"backupInstance": instance_id("pg1"), "containerUrl": "https://other.blob.core.windows.net/elsewhere"}, 403,
     "containerUrl"),
    ({"backupInstance": instance_id("pg1"), "recoveryPoint": "bad id!"}, 400, "recoveryPoint"),
    ({"backupInstance": instance_id("pg1"), "loadServer": "not-a-server"}, 400, "loadServer"),
    ({"backupInstance": instance_id("pg1"), "loadServer": server_id("elsewhere")}, 403, "loadServer"),
]


def test_every_4xx_names_its_parameter(azurite: Azurite) -> None:
    """400 for what is malformed or missing, 403 for a container or server off its allowlist, 401 without the
    function key: every error's target is the query parameter."""
    with running_stack(azurite) as stack:
        for params, status, target in BAD:
            query = {"containerUrl": stack.container_url, **params}
            reply = preflight(stack, **query)
            assert reply.status_code == status, (params, reply.text)
            assert reply.json()["error"]["target"] == target, (params, reply.text)
        assert requests.get(f"{stack.api}/preflight", params={"backupInstance": instance_id("pg1")},
                            timeout=30).status_code == 401
        assert stack.arm_requests() == []  # nothing was read for a request that was refused


def test_the_cli_prints_the_findings_as_json_and_exits_by_what_blocks(azurite: Azurite) -> None:
    """0 without a blocking finding, 1 with one, 2 for bad input; --output text prints each fix."""
    with running_stack(azurite, target=Target(account={"allowCrossTenantReplication": None})) as stack:
        code, out, _ = run_cli("--backup-instance", instance_id("pg1"), "--target", stack.container_url)
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        assert code == 0 and report["ok"] is True
        assert [f["code"] for f in report["findings"]] == ["CrossTenantReplicationUnknown"]
        code, out, err = run_cli("--backup-instance", instance_id("pg1"), "--target", "https://x.blob.core.windows.net/c")
        assert code == 2 and "--target" in err and out == ""
        code, _, err = run_cli("--backup-instance", "nope", "--target", stack.container_url)
        assert code == 2 and "--backup-instance" in err
    with running_stack(azurite, grant_role=False) as stack:
        code, out, _ = run_cli("--backup-instance", instance_id("pg1"), "--target", stack.container_url,
                               "--recovery-point", "rp-2", "--output", "text")
        assert code == 1
        assert "pre-flight BLOCKED" in out and "VaultRoleMissing" in out and "fix: az role assignment create" in out


def test_the_restore_command_reports_preflight_failed_with_exit_1(azurite: Azurite) -> None:
    """The CLI's restore knows preflight_failed: exit 1, the findings and their fixes in the summary; with
    --no-preflight the same target fails at validation instead."""
    with running_stack(azurite, target=Target(account={"publicNetworkAccess": "Disabled"})) as stack:
        out, err = io.StringIO(), io.StringIO()
        from cli import restore as restore_cli

        args = ["restore", "--backup-instance", instance_id("pg1"), "--target", stack.container_url]
        plan = restore_cli.plan_from_args(restore_cli.build_parser().parse_args(args), _settings())
        assert plan.request["preflight"] is True
        no_check = restore_cli.plan_from_args(restore_cli.build_parser().parse_args([*args, "--no-preflight"]),
                                              _settings())
        assert no_check.request["preflight"] is False
        result = stack.run({**plan.request, "requestId": "cli-plan"})
        assert result["status"] == "preflight_failed"
        assert restore_cli.report(result, "text", out) == restore_cli.EXIT_FAILED
        assert "PREFLIGHT_FAILED" in out.getvalue() and "--public-network-access Enabled" in out.getvalue()
        assert err.getvalue() == ""


def _settings() -> Any:
    from pgflex_restore.settings import get_settings

    return get_settings()
