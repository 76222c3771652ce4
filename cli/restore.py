"""Command line: run a restore (or the demo) in-process, through the same orchestration the Functions app runs.

This module is the core package's one edge: it alone may import devhost/, emulator/ and function_app, and it
does so lazily inside the commands, so nothing else in the package depends on them.

Exit codes: 0 restore succeeded (or validation passed with --validate-only), 1 the restore failed in Azure (or
its pre-flight found a blocking problem), 2 bad input or configuration, 3 the deadline passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any, TextIO

from cli.drill import add_drill_parser, run_drill_command
from cli.load import BadInput, add_load_into_flag, add_load_parser, check_allowed, load_after_restore, run_load_command
from cli.preflight import add_preflight_parser, run_preflight_command
from cli.progress import LiveLine
from cli.start import add_start_parser
from pgflex_restore.errors import ConfigurationError, RequestValidationError
from pgflex_restore.models import RestoreRequest
from pgflex_restore.progress import FINISHED_STATUSES, merge_progress
from pgflex_restore.restore_plan import RestorePlan, job_tracker_id
from pgflex_restore.settings import Settings, parse_timeout

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DEADLINE = 0, 1, 2, 3
_EXIT_FOR_STATUS = {"succeeded": EXIT_OK, "validated": EXIT_OK, "loaded": EXIT_OK, "failed": EXIT_FAILED,
                    "load_failed": EXIT_FAILED, "preflight_failed": EXIT_FAILED, "deadline_exceeded": EXIT_DEADLINE}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pgflex_restore", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    restore = commands.add_parser("restore", help="restore a backup instance's recovery point as files")
    restore.add_argument("--backup-instance", required=True, help="backup instance ARM id")
    restore.add_argument("--target", required=True, help="blob container URL (must be on RESTORE_TARGET_ALLOWLIST)")
    restore.add_argument("--file-prefix", help="prefix of the restored files (default: the restore id)")
    restore.add_argument("--recovery-point", default="latest", help="'latest' (default) or a recovery point id")
    restore.add_argument("--before", help="with latest: the newest point at or before this ISO 8601 time")
    restore.add_argument("--restore-location", help="target region, e.g. westeurope")
    restore.add_argument("--validate-only", action="store_true", help="validate the restore, do not start it")
    restore.add_argument("--timeout", help="overall deadline: ISO 8601 duration (PT2H) or seconds")
    restore.add_argument("--no-preflight", action="store_true",
                         help="skip the pre-flight checks of the target (request field \"preflight\": false)")
    restore.add_argument("--output", choices=("text", "json"), default="text")
    add_load_into_flag(restore)

    demo = commands.add_parser("demo", help="run one restore end to end against the local emulator and Azurite")
    demo.add_argument("--output", choices=("text", "json"), default="text")

    add_start_parser(commands)

    add_drill_parser(commands)
    add_load_parser(commands)
    add_preflight_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    if args.command == "start":
        from cli.start import run_start

        return run_start(args, os.environ, stdout=out, stderr=err)
    if args.command == "demo":
        from cli.demo import run_demo

        return run_demo(output=args.output, stdout=out, stderr=err)
    if args.command == "drill":
        return run_drill_command(args, os.environ, stdout=out, stderr=err)
    if args.command == "load":
        return run_load_command(args, os.environ, stdout=out, stderr=err)
    if args.command == "preflight":
        return run_preflight_command(args, os.environ, stdout=out, stderr=err)
    return restore_command(args, os.environ, stdout=out, stderr=err)


def restore_command(args: argparse.Namespace, env: dict[str, str] | os._Environ[str], *,
                    stdout: TextIO, stderr: TextIO) -> int:
    try:
        if getattr(args, "load_into", None):
            check_allowed(args.load_into, env)  # before the restore, not after it
        plan = plan_from_args(args, Settings.from_env(env))
    except BadInput as exc:
        print(f"invalid argument: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    except RequestValidationError as exc:
        print("invalid restore request:", file=stderr)
        for error in exc.errors:
            print(f"  {_flag_for(error.path)}: {error.message}", file=stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        print(f"invalid argument: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    result = run_in_devhost(plan, progress=LiveLine(stderr))
    code = report(result, args.output, stdout)
    if getattr(args, "load_into", None) and result.get("status") == "succeeded":
        return load_after_restore(result, args, env, stdout=stdout, stderr=stderr)
    return code


def plan_from_args(args: argparse.Namespace, settings: Settings) -> RestorePlan:
    if args.timeout:
        settings = dataclasses.replace(settings, restore_timeout=parse_timeout(args.timeout))
    restore_id = f"restore-cli-{uuid.uuid4()}"
    wire: dict[str, Any] = {
        "backupInstance": args.backup_instance,
        "recoveryPoint": args.recovery_point,
        "target": {"containerUrl": args.target},
        "validateOnly": bool(args.validate_only),
        "preflight": not getattr(args, "no_preflight", False),
    }
    if args.file_prefix:
        wire["target"]["filePrefix"] = args.file_prefix
    if args.before:
        wire["before"] = args.before
    if args.restore_location:
        wire["restoreLocation"] = args.restore_location
    request = RestoreRequest.from_dict(wire, allowlist=settings.restore_target_allowlist,
                                       default_file_prefix=restore_id)
    return RestorePlan.create(restore_id, request, settings, origin={"via": "cli"})


def run_in_devhost(plan: RestorePlan, *, progress: LiveLine) -> dict[str, Any]:
    """Run the restore orchestration in-process on the real clock; poll its status for the progress line."""
    from devhost import DevHost, RealClock
    from orchestrations.restore import RESTORE_ORCHESTRATION

    # The in-process host runs no storage-backed task hub; host.json still requires a valid hub name.
    hub = {"TASKHUB_NAME": os.environ.get("TASKHUB_NAME") or "pgflexcli"}
    with DevHost.load("function_app", clock=RealClock(), env=hub) as host:
        host.start_orchestration(RESTORE_ORCHESTRATION, plan.to_dict(), instance_id=plan.restore_id)
        while True:
            state = _instance(host, plan.restore_id)
            if state is not None and state.runtime_status in FINISHED_STATUSES:
                break
            progress.show(describe(merged_status(host, plan.restore_id)))
            time.sleep(0.5)
    progress.clear()
    if state.runtime_status != "Completed" or not isinstance(state.output, dict):
        return {"restoreId": plan.restore_id, "status": "failed",
                "error": {"code": "OrchestrationFailed", "message": str(state.output)}}
    return state.output


def _instance(host: Any, instance_id: str) -> Any:
    from devhost import InstanceNotFoundError

    try:
        return host.get(instance_id)
    except InstanceNotFoundError:
        return None


def merged_status(host: Any, restore_id: str) -> dict[str, Any]:
    """The restore's custom status plus its job-tracking sub-orchestration's progress."""
    state, child = _instance(host, restore_id), _instance(host, job_tracker_id(restore_id))
    own = state.custom_status if state is not None and isinstance(state.custom_status, dict) else None
    return merge_progress(own, child.custom_status if child is not None and isinstance(child.custom_status, dict)
                          else None)


def describe(status: dict[str, Any]) -> str:
    """The progress line of a restore: phase, job status and percentage, retries, next check."""
    parts = [str(status.get("phase", "starting"))]
    if status.get("jobStatus"):
        parts.append(f"job {status['jobStatus']}")
    if status.get("progress") is not None:
        parts.append(f"{float(status['progress']):.0f}%")
    if status.get("retries"):
        parts.append(f"retries {status['retries']}")
    if status.get("nextCheck"):
        parts.append(f"next check {status['nextCheck']}")
    return "  ".join(parts)


def report(result: dict[str, Any], output: str, stdout: TextIO) -> int:
    status = str(result.get("status"))
    if output == "json":
        print(json.dumps(result, sort_keys=True), file=stdout)
    else:
        print(summary_text(result), file=stdout)
    return _EXIT_FOR_STATUS.get(status, EXIT_FAILED)


def summary_text(result: dict[str, Any]) -> str:
    point = result.get("recoveryPoint") or {}
    target = result.get("target") or {}
    job = result.get("job") or {}
    lines = [
        f"restore {result.get('restoreId')}: {str(result.get('status')).upper()}",
        f"  backup instance : {result.get('backupInstance')}",
        f"  recovery point  : {point.get('id')} ({point.get('time')}, {point.get('store')})",
        f"  target          : {target.get('containerUrl')} prefix {target.get('filePrefix')}",
    ]
    if result.get("jobId"):
        lines.append(f"  job             : {result['jobId']} ({job.get('status')})")
    lines.append(f"  ARM calls       : {result.get('armCalls')}  retries: {result.get('retries')}")
    for finding in (result.get("preflight") or {}).get("findings") or []:
        lines.append(f"  pre-flight      : [{finding.get('severity')}] {finding.get('code')}: {finding.get('problem')}")
        if finding.get("fix"):
            lines.append(f"      fix         : {finding['fix']}")
    error = result.get("error")
    if error:
        lines.append(f"  error           : {error.get('code')}: {error.get('message')}")
        if error.get("advice"):
            lines.append(f"  what to do      : {error['advice']}")
    if result.get("jobMayBeRunning"):
        hint = result.get("findJob") or {}
        lines.append(f"  Azure job       : may still be running (restore POST {result.get('restorePost')}); "
                     f"find it with: {hint.get('azCli')}")
    return "\n".join(lines)


def _flag_for(path: str) -> str:
    flags = {"backupInstance": "--backup-instance", "target.containerUrl": "--target", "target": "--target",
             "target.filePrefix": "--file-prefix", "recoveryPoint": "--recovery-point", "before": "--before",
             "restoreLocation": "--restore-location"}
    return flags.get(path, path)
