"""checkov over infra/: no failed check, no file it could not parse, and every skip carries its reason.

checkov pins heavy dependencies of its own, so it lives in a separate virtual environment, .venv-infra, which
`make setup` creates with a pinned checkov version. Without it this test fails (it does not skip): a missing
security scan must be visible.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
CHECKOV = REPO / ".venv-infra" / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"^\s*//\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?$", re.MULTILINE)


def run_checkov() -> tuple[dict[str, Any], float]:
    if not CHECKOV.exists():
        pytest.fail(
            f"{CHECKOV.relative_to(REPO)} is missing: `make setup` installs it "
            "(a separate venv .venv-infra with the checkov version pinned in tests/infra/requirements-checkov.txt)"
        )
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    started = time.monotonic()
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--framework", "bicep", "--compact", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=env, check=False,
    )
    elapsed = time.monotonic() - started
    assert proc.stdout.strip(), f"checkov printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    bicep = [r for r in reports if r.get("check_type") == "bicep"]
    assert len(bicep) == 1, f"no bicep report in checkov output: {proc.stdout[:500]}"
    return bicep[0], elapsed


@pytest.fixture(scope="module")
def checkov_report() -> tuple[dict[str, Any], float]:
    return run_checkov()


def test_checkov_has_no_failed_checks(checkov_report: tuple[dict[str, Any], float]) -> None:
    report, elapsed = checkov_report
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    assert summary["parsing_errors"] == 0, report["results"]["parsing_errors"]
    assert summary["resource_count"] > 20, summary
    assert summary["passed"] > 0, summary
    # The scan is part of every `make test`: keep it quick.
    assert elapsed < 120, f"checkov took {elapsed:.0f} s"


def test_every_skip_has_a_reason(checkov_report: tuple[dict[str, Any], float]) -> None:
    report, _ = checkov_report
    for check in report["results"]["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) > 20, f"{check['check_id']} on {check['resource']} is skipped without a reason"


def test_skip_comments_in_sources_have_reasons_and_are_used(checkov_report: tuple[dict[str, Any], float]) -> None:
    report, _ = checkov_report
    applied = {(c["file_path"].lstrip("/"), c["check_id"]) for c in report["results"]["skipped_checks"]}
    for path in INFRA.rglob("*.bicep"):
        rel = path.relative_to(INFRA).as_posix()
        for match in SKIP_COMMENT.finditer(path.read_text()):
            check_id, reason = match.group(1), (match.group(2) or "").strip()
            assert len(reason) > 20, f"{rel}: skip of {check_id} has no reason"
            assert (rel, check_id) in applied, f"{rel}: skip of {check_id} matches no check (stale skip)"
