"""``python -m pgflex_restore drill``: one drill run now, in-process, through the same orchestrations the
timer starts, with a progress line on stderr and the results on stdout.

Against Azure it uses the app settings in the environment (ARM_ENDPOINT, AzureWebJobsStorage, DRILL_PLAN or
``--plan``). With ``--emulator`` (the default when neither a plan nor an ARM endpoint is configured, as on a
fresh clone) it starts Azurite and the local DataProtection emulator with a small vault of its own.
Like cli.py, an edge of the package: devhost, emulator and function_app are imported only inside the commands.

Exit codes: 0 every drill passed, 1 a drill failed, 2 bad plan or configuration.
``drill verify-evidence FILE...`` checks saved evidence documents offline: 0 valid, 1 invalid, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from cli.local_stack import daily_points, server_id, vault_id, vault_tree
from cli.progress import LiveLine
from pgflex_restore.errors import ConfigurationError
from pgflex_restore.progress import FINISHED_STATUSES

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EMULATOR_SUB = "00000000-0000-0000-0000-0000000d7111"
EMULATOR_RG, EMULATOR_VAULT, EMULATOR_CONTAINER = "drill-rg", "drill-vault", "drills"
EMULATOR_SERVERS = {"pg-sales": ["sales", "crm"], "pg-billing": ["billing"], "pg-reports": ["reporting"]}


def add_drill_parser(commands: Any) -> None:
    """The ``drill`` subcommand's arguments (cli.py calls this)."""
    drill = commands.add_parser("drill", help="run one restore drill now, in-process, with progress")
    drill.add_argument("--plan", help="drill plan JSON file (default: the DRILL_PLAN setting)")
    drill.add_argument("--emulator", action="store_true",
                       help="drill a small vault on the local emulator and Azurite (no Azure needed)")
    drill.add_argument("--output", choices=("text", "json"), default="text")
    actions = drill.add_subparsers(dest="drill_command", metavar="{verify-evidence}")
    verify = actions.add_parser("verify-evidence", help="check saved evidence documents offline: each hash, "
                                "and the chain between consecutive files (give them oldest first)")
    verify.add_argument("files", nargs="+", metavar="FILE", help="a document saved from /api/drills/{run}/evidence")


def run_drill_command(args: argparse.Namespace, env: Mapping[str, str], *, stdout: TextIO, stderr: TextIO) -> int:
    if getattr(args, "drill_command", None) == "verify-evidence":
        return verify_evidence_command(args.files, stdout=stdout, stderr=stderr)
    emulator = bool(args.emulator) or not (args.plan or env.get("DRILL_PLAN") or env.get("ARM_ENDPOINT"))
    if emulator and not args.emulator:
        print("no DRILL_PLAN or ARM_ENDPOINT configured: drilling the local emulator (--emulator)", file=stderr)
    try:
        if emulator:
            with emulator_environment(say=lambda text: print(text, file=stderr, flush=True)) as (app_env, plan):
                result = run_drill(app_env, plan, stderr=stderr)
        else:
            plan_text = Path(args.plan).read_text(encoding="utf-8") if args.plan else None
            result = run_drill(dict(env), plan_text, stderr=stderr)
    except (ConfigurationError, ValueError, OSError) as exc:
        print(f"drill not started: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    if args.output == "json":
        print(json.dumps(result, sort_keys=True, default=str), file=stdout)
    else:
        print(summary_text(result), file=stdout)
    return EXIT_OK if result["summary"].get("status") == "passed" else EXIT_FAILED


def run_drill(env: dict[str, str], plan_text: str | None, *, stderr: TextIO) -> dict[str, Any]:
    """Validate the plan, run the drill orchestration on the real clock in devhost, collect every record."""
    from devhost import DevHost, RealClock
    from orchestrations.drill import DRILL_INSTANCE_ORCHESTRATION, DRILL_RUN_ORCHESTRATION
    from pgflex_restore.drills.run import build_run_input, load_plan, run_id_for
    from pgflex_restore.settings import Settings

    settings = Settings.from_env(env)
    plan = load_plan(settings, plan_text)
    now = datetime.now(UTC).replace(microsecond=0)
    run_id = run_id_for(now, f"cli{uuid.uuid4().hex[:6]}")
    run_input = build_run_input(run_id, now, plan, settings, origin={"via": "cli"})
    progress = LiveLine(stderr)
    # No storage connection for devhost itself: a drill must not start consuming the app's restore queue.
    with DevHost.load("function_app", clock=RealClock(), env=env) as host:
        host.start_orchestration(DRILL_RUN_ORCHESTRATION, run_input, instance_id=run_id)
        while (state := host.get(run_id)).runtime_status not in FINISHED_STATUSES:
            status = dict(state.custom_status) if isinstance(state.custom_status, dict) else {}
            finished = [i for i in host.instances() if i.name == DRILL_INSTANCE_ORCHESTRATION
                        and i.parent_instance_id == run_id and i.is_terminal and isinstance(i.output, dict)]
            if status.get("phase") == "drilling":  # the run's own status moves per batch; show every instance
                status["completed"] = len(finished)
                for outcome in ("passed", "failed", "skipped"):
                    status[outcome] = sum(1 for i in finished if i.output.get("status") == outcome)
            progress.show(describe(status))
            time.sleep(0.25)
        instances = [i.output for i in host.instances()
                     if i.name == DRILL_INSTANCE_ORCHESTRATION and i.parent_instance_id == run_id
                     and isinstance(i.output, dict)]
    progress.clear()
    summary = state.output if isinstance(state.output, dict) else {
        "runId": run_id, "status": "failed", "error": str(state.output)}
    return {"summary": summary, "instances": sorted(instances, key=lambda r: str(r.get("instanceName")))}


def verify_evidence_command(files: list[str], *, stdout: TextIO, stderr: TextIO) -> int:
    """Exit 0 when every document's hash holds and each links to the one before; 1 naming the first problem;
    2 when a file is unreadable, not JSON or not an evidence document. Reads only the files."""
    from pgflex_restore.drills.evidence import EvidenceError, check_document, verify_chain

    documents = []
    for name in files:
        try:
            document = json.loads(Path(name).read_text(encoding="utf-8"))
            check_document(document)
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # EvidenceError and JSONDecodeError included
            kind = "not a drill evidence document" if isinstance(exc, EvidenceError) else "cannot read it"
            print(f"{name}: {kind}: {exc}", file=stderr)
            return EXIT_BAD_INPUT
        documents.append(document)
    problems = verify_chain(documents)
    if problems:
        print(f"INVALID: {problems[0]}", file=stdout)
        for more in problems[1:]:
            print(f"  also: {more}", file=stdout)
        return EXIT_FAILED
    runs = ", ".join(str(d["runId"]) for d in documents)
    print(f"valid: {len(documents)} document(s), every hash matches"
          + (", each linked to the one before" if len(documents) > 1 else "") + f" ({runs})", file=stdout)
    return EXIT_OK


def describe(status: Mapping[str, Any]) -> str:
    """The progress line of a drill run: phase, then instances done, passed, failed, skipped."""
    line = f"{status.get('phase', 'starting')}"
    if status.get("total") is not None:
        line += (f"  {status.get('completed', 0)}/{status['total']} done, {status.get('passed', 0)} passed, "
                 f"{status.get('failed', 0)} failed, {status.get('skipped', 0)} skipped")
    return line


def summary_text(result: Mapping[str, Any]) -> str:
    summary = result["summary"]
    lines = [f"drill run {summary.get('runId')}: {str(summary.get('status')).upper()} "
             f"({summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, "
             f"{summary.get('skipped', 0)} skipped)"]
    for record in result.get("instances") or []:
        age = record.get("pointAgeSeconds")
        took = record.get("restoreDurationSeconds")
        facts = ", ".join(f"{name} ({d.get('format')}, {d.get('tocEntries', '-')} TOC entries)"
                          for name, d in sorted((record.get("databases") or {}).items()))
        lines.append(
            f"  {record.get('server') or record.get('instanceName')!s:<20} {record.get('status'):<8}"
            + (f" point {age / 3600:.1f} h old" if isinstance(age, int | float) else "")
            + (f", restore {took:.0f} s" if isinstance(took, int | float) else "")
            + (f", {facts}" if facts else "")
            + (f"  [{record.get('reason')}] {record.get('message')}" if record.get("status") != "passed" else "")
        )
    cleanup = summary.get("cleanup") or {}
    lines.append(f"  cleanup: {cleanup.get('deletedFiles', 0)} old drill files deleted"
                 + (f" ({', '.join(cleanup['deletedRuns'])})" if cleanup.get("deletedRuns") else ""))
    if summary.get("error"):
        lines.append(f"  error: {summary['error']}")
    return "\n".join(lines)


def emulator_scenario(container_url: str, now: datetime) -> dict[str, Any]:
    """Three servers with daily points and timings short enough to watch."""
    instances = {
        f"{server}-bi": {
            "serverId": server_id(EMULATOR_SUB, "db-rg", server),
            "databases": databases,
            "recoveryPoints": daily_points(5, now - timedelta(hours=3), stores=["VaultStore"]),
            "timings": {"validateSeconds": 2, "validateRetryAfter": 1, "restoreSeconds": 2, "restoreRetryAfter": 1,
                        "jobSeconds": 5},
        }
        for server, databases in EMULATOR_SERVERS.items()
    }
    return vault_tree(instances, [container_url], subscription=EMULATOR_SUB, resource_group=EMULATOR_RG,
                      vault=EMULATOR_VAULT)


@contextmanager
def emulator_environment(say: Callable[[str], None]) -> Iterator[tuple[dict[str, str], str]]:
    """Azurite + the emulator, and the app settings and plan that point a drill at them."""
    from azure.storage.blob import BlobServiceClient

    from devhost.azurite import running_azurite
    from emulator import EmulatorServer

    say("starting Azurite (storage emulator)...")
    with running_azurite() as azurite:
        container_url = f"{azurite.endpoints.blob_account_url}/{EMULATOR_CONTAINER}"
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(EMULATOR_CONTAINER)
        scenario = emulator_scenario(container_url, datetime.now(UTC))
        say("starting the DataProtection + managed identity emulator...")
        with EmulatorServer(scenario, storage_connection_string=azurite.connection_string) as emulator:
            vault = vault_id(EMULATOR_SUB, EMULATOR_RG, EMULATOR_VAULT)
            env = {
                **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME")},
                **emulator.env(),
                "AzureWebJobsStorage": azurite.connection_string,
                "TASKHUB_NAME": "pgflexdrill",
                "RESTORE_TARGET_ALLOWLIST": container_url,
                "RESTORE_VAULTS": vault,
                "POLL_MIN_SECONDS": "1",
                "POLL_DEFAULT_SECONDS": "2",
                "RESTORE_TIMEOUT": "PT10M",
            }
            plan = {"container": container_url, "vaults": [vault], "concurrency": 3, "maxPointAge": "P2D",
                    "expectedDatabases": EMULATOR_SERVERS}
            say(f"emulator at {emulator.url}; drilling {len(EMULATOR_SERVERS)} servers in devhost...")
            yield env, json.dumps(plan)
