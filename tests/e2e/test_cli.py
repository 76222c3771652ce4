"""The CLI runs the real orchestration in-process (devhost, real clock) and keeps its exit-code promises."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

import clients
from cli.restore import main
from emulator import EmulatorServer
from pgflex_restore.settings import reset_settings_cache
from tests.e2e.stack import backup_instance, instance_id, scenario

pytestmark = pytest.mark.one_mode

TARGET = "https://restoretarget.blob.core.windows.net/restores"
FAST = {"validateSeconds": 1, "validateRetryAfter": 1, "restoreSeconds": 1, "restoreRetryAfter": 1,
        "jobSeconds": 3}


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """A real-clock emulator with second-scale timings; the CLI finds it through the environment."""
    instances = {"pg1": backup_instance(timings=FAST),
                 "slow": backup_instance("slow", timings={**FAST, "jobSeconds": 120})}
    with EmulatorServer(scenario(instances, [TARGET])) as server:
        for key, value in {**server.env(), "RESTORE_TARGET_ALLOWLIST": TARGET, "POLL_MIN_SECONDS": "0.2",
                           "POLL_DEFAULT_SECONDS": "0.5"}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        clients.reset()
        yield server
        clients.reset()
        reset_settings_cache()


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def restore_args(instance: str = "pg1", *extra: str) -> list[str]:
    return ["restore", "--backup-instance", instance_id(instance), "--target", TARGET, *extra]


def last_json(stdout: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def test_successful_restore_exits_0_with_the_result_record_last(emulator: EmulatorServer) -> None:
    """--output json: the result record is the last stdout line; progress went to stderr."""
    code, out, err = run_cli(*restore_args("pg1", "--output", "json", "--file-prefix", "cli"))
    assert code == 0, err
    result = last_json(out)
    assert result["status"] == "succeeded"
    assert result["target"] == {"containerUrl": TARGET, "filePrefix": "cli"}
    assert result["jobId"] == emulator.jobs()[0]["armId"]
    assert "tracking" in err or "restoring" in err  # the live progress line


def test_validate_only_exits_0_and_starts_no_restore(emulator: EmulatorServer) -> None:
    """--validate-only validates and stops: no restore POST, exit 0, text summary says VALIDATED."""
    code, out, _ = run_cli(*restore_args("pg1", "--validate-only"))
    assert code == 0
    assert "VALIDATED" in out
    assert not [r for r in emulator.requests if r["method"] == "POST" and r["path"].endswith("/restore")]


def test_failed_restore_exits_1_with_advice(emulator: EmulatorServer) -> None:
    """A failure in Azure (unknown recovery point) exits 1 and prints the error."""
    code, out, _ = run_cli(*restore_args("pg1", "--recovery-point", "no-such-point"))
    assert code == 1
    assert "FAILED" in out and "error" in out


def test_bad_input_and_bad_configuration_exit_2(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A target off the allowlist or a malformed id is bad input; a broken setting is bad configuration."""
    code, _, err = run_cli("restore", "--backup-instance", "not-an-id", "--target",
                           "https://elsewhere.blob.core.windows.net/x1z")
    assert code == 2
    assert "--backup-instance" in err and "--target" in err
    code, _, err = run_cli(*restore_args("pg1", "--timeout", "0"))
    assert code == 2 and "longer than zero" in err
    monkeypatch.setenv("POLL_MIN_SECONDS", "soon")
    code, _, err = run_cli(*restore_args())
    assert code == 2
    assert "POLL_MIN_SECONDS" in err
    assert not emulator.jobs()


def test_deadline_exits_3(emulator: EmulatorServer) -> None:
    """--timeout shorter than the job: exit 3 and a message that the Azure job may still be running."""
    code, out, _ = run_cli(*restore_args("slow", "--timeout", "4", "--output", "json"))
    assert code == 3
    result = last_json(out)
    assert result["status"] == "deadline_exceeded"
    assert "may still be running" in result["error"]["message"]


def test_demo_restores_loads_and_queries_the_database() -> None:
    """`make demo` runs exactly this: emulator + Azurite + PostgreSQL + devhost, POST /api/restores with a load
    section, the files in the container, then the loaded databases queried."""
    code, out, err = run_cli("demo", "--output", "json")
    assert code == 0, err
    report = last_json(out)
    assert report["result"]["status"] == "loaded", report["result"].get("error")
    names = {f["name"] for f in report["files"]}
    assert {"demo_inventory.sql", "demo_billing.sql", "demo_roles.sql", "demo_load-report.json"} <= names
    assert {row["database"] for row in report["queried"]} == {"inventory", "billing"}
    assert all(row["count"] > 0 for row in report["queried"]), report["queried"]
    loaded = {d["target"]: d for d in report["result"]["load"]["databases"]}
    assert all(d["objects"]["found"] == d["objects"]["expected"] for d in loaded.values())
