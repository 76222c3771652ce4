"""`python -m pgflex_restore preflight`: the checks a restore runs before validating, without the restore.

The same reads and rules as the restore's pre-flight and ``GET /api/preflight`` (pgflex_restore/preflight.py),
made here against ``ARM_ENDPOINT`` with the app's settings. Exit codes, as the restore command's: 0 no blocking
finding (warnings may be printed), 1 a blocking finding (the restore would fail), 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any, TextIO

from pgflex_restore.errors import ConfigurationError, RequestValidationError
from pgflex_restore.findings import Finding
from pgflex_restore.models import RestoreRequest
from pgflex_restore.preflight import PreflightTarget, record
from pgflex_restore.settings import Settings

EXIT_OK, EXIT_BLOCKED, EXIT_BAD_INPUT = 0, 1, 2
_FLAGS = {"backupInstance": "--backup-instance", "target.containerUrl": "--target", "target": "--target",
          "recoveryPoint": "--recovery-point", "before": "--before", "load.server": "--load-server",
          "load": "--load-server"}


def add_preflight_parser(commands: Any) -> None:
    preflight = commands.add_parser("preflight", help="check a restore's target before restoring (no restore)")
    preflight.add_argument("--backup-instance", required=True, help="backup instance ARM id")
    preflight.add_argument("--target", required=True, help="blob container URL (must be on RESTORE_TARGET_ALLOWLIST)")
    preflight.add_argument("--recovery-point", default="latest", help="'latest' (default) or a recovery point id")
    preflight.add_argument("--before", help="with latest: the newest point at or before this ISO 8601 time")
    preflight.add_argument("--load-server", help="flexible server ARM id a load would target (LOAD_TARGET_ALLOWLIST)")
    preflight.add_argument("--output", choices=("json", "text"), default="json")


def run_preflight_command(args: argparse.Namespace, env: Mapping[str, str] | os._Environ[str], *,
                          stdout: TextIO, stderr: TextIO) -> int:
    wire: dict[str, Any] = {"backupInstance": args.backup_instance, "recoveryPoint": args.recovery_point,
                            "target": {"containerUrl": args.target}}
    if args.before:
        wire["before"] = args.before
    if args.load_server:
        wire["load"] = {"server": args.load_server}
    try:
        settings = Settings.from_env(env)
        request = RestoreRequest.from_dict(wire, allowlist=settings.restore_target_allowlist,
                                           load_allowlist=settings.load_target_allowlist)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    except RequestValidationError as exc:
        print("invalid pre-flight request:", file=stderr)
        for error in exc.errors:
            print(f"  {_FLAGS.get(error.path, error.path)}: {error.message}", file=stderr)
        return EXIT_BAD_INPUT
    from activities.preflight import check_now

    target = PreflightTarget(str(request.backup_instance), request.target_container_url,
                             point_request=request.to_dict(),
                             load_server=str(request.load.server) if request.load is not None else None)
    findings, sent = check_now(target)
    summary = record(findings)
    report = {"backupInstance": target.backup_instance, "containerUrl": target.container_url,
              "recoveryPoint": args.recovery_point, "loadServer": target.load_server,
              "ok": summary["blocking"] == 0, **summary, "armCalls": sent}
    if args.output == "json":
        print(json.dumps(report, sort_keys=True), file=stdout)
    else:
        print(text(report, findings), file=stdout)
    return EXIT_OK if summary["blocking"] == 0 else EXIT_BLOCKED


def text(report: Mapping[str, Any], findings: list[Finding]) -> str:
    """One line per finding, its fix indented under it."""
    verdict = "OK" if report["ok"] else "BLOCKED"
    lines = [f"pre-flight {verdict}: {report['blocking']} blocking, {report['warnings']} warning(s) for "
             f"{report['containerUrl']}"]
    for finding in findings:
        lines.append(f"  [{finding.severity}] {finding.code}: {finding.problem}")
        if finding.fix:
            lines.append(f"      fix: {finding.fix}")
    return "\n".join(lines)
