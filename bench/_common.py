"""What the benchmarks share: the machine description, scenarios, and the app on a virtual (or real) clock.

The benches run the app's real code: the DataProtection emulator on loopback, the Functions app in devhost
through the real Durable Functions replay, on one clock. Restores that need no blob storage run without Azurite
(the emulator then skips its storage checks), which keeps the benches quick and self-contained.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first; the app's packages live in the root
    sys.path.insert(0, str(ROOT))

from cli import local_stack  # noqa: E402 - needs the root on sys.path first

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-backup"
VAULT = "vault1"
# A second subscription with its own vault, for benches that spread servers like a fleet does (drill_scale).
SUB2 = "66666666-7777-8888-9999-aaaaaaaaaaaa"
VAULT2 = "vault2"
START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
TARGET = "https://benchtarget.blob.core.windows.net/restores"

# The issue's timings: validation 25 s (Retry-After 10), restore operation 70 s (Retry-After 30), job 45 min.
ISSUE_TIMINGS: dict[str, float] = {"validateSeconds": 25, "validateRetryAfter": 10, "restoreSeconds": 70,
                                   "restoreRetryAfter": 30, "jobSeconds": 45 * 60}


def instance_id(name: str, vault: str = VAULT, subscription: str = SUB) -> str:
    return f"{vault_id(vault, subscription)}/backupInstances/{name}"


def vault_id(vault: str = VAULT, subscription: str = SUB) -> str:
    return local_stack.vault_id(subscription, RG, vault)


def backup_instance(name: str, timings: dict[str, float], points: int = 5, *, subscription: str = SUB,
                    recovery_points: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One server's backup instance: `points` daily points unless `recovery_points` gives them (a list that
    many instances may share: the emulator only reads it, and a thousand copies would weigh on peak memory)."""
    return {
        "serverId": local_stack.server_id(subscription, "rg-db", name),
        "databases": ["appdb"],
        "recoveryPoints": recovery_points if recovery_points is not None
        else local_stack.daily_points(points, START - timedelta(hours=2)),
        "timings": dict(timings),
    }


def scenario(instances: dict[str, dict[str, Any]], containers: list[str], *,
             more_vaults: dict[tuple[str, str], dict[str, dict[str, Any]]] | None = None,
             **top: Any) -> dict[str, Any]:
    """The bench vault (SUB, RG, VAULT) holding `instances`, and each of `more_vaults` ((subscription, vault) ->
    its instances) beside it in RG; every vault's identity may write to `containers`."""
    spec = local_stack.vault_tree(instances, containers, subscription=SUB, resource_group=RG, vault=VAULT, **top)
    for (subscription, vault), held in (more_vaults or {}).items():
        tree = local_stack.vault_tree(held, containers, subscription=subscription, resource_group=RG, vault=vault)
        vaults = tree["subscriptions"][subscription]["resourceGroups"][RG]["vaults"]
        groups = spec["subscriptions"].setdefault(subscription, {"resourceGroups": {}})["resourceGroups"]
        groups.setdefault(RG, {"vaults": {}})["vaults"].update(vaults)
    return spec


def app_env(emulator_env: dict[str, str], target: str = TARGET, **extra: str) -> dict[str, str]:
    return {
        **emulator_env,
        "RESTORE_TARGET_ALLOWLIST": target,
        "TASKHUB_NAME": "benchhub",
        "POLL_MIN_SECONDS": "5",
        "POLL_DEFAULT_SECONDS": "30",
        "RESTORE_TIMEOUT": "PT24H",
        **extra,
    }


def restore_plan(env: dict[str, str], instance: str, restore_id: str, target: str = TARGET) -> dict[str, Any]:
    """The orchestration input the HTTP starter would build for a restore of ``instance``'s latest point."""
    from pgflex_restore.models import RestoreRequest
    from pgflex_restore.restore_plan import RestorePlan
    from pgflex_restore.settings import Settings

    settings = Settings.from_env(env)
    request = RestoreRequest.from_dict(
        {"backupInstance": instance_id(instance), "target": {"containerUrl": target, "filePrefix": restore_id}},
        allowlist=settings.restore_target_allowlist, default_file_prefix=restore_id)
    return RestorePlan.create(restore_id, request, settings, origin={"via": "bench"}).to_dict()


@dataclass
class VirtualApp:
    clock: Any
    emulator: Any
    host: Any
    env: dict[str, str]


@contextmanager
def virtual_app(instances: dict[str, dict[str, Any]], *, extra_env: dict[str, str] | None = None,
                scenario_top: dict[str, Any] | None = None, storage: str | None = None,
                containers: list[str] | None = None, target: str = TARGET, determinism_checks: bool = False,
                more_vaults: dict[tuple[str, str], dict[str, dict[str, Any]]] | None = None,
                ) -> Iterator[VirtualApp]:
    """Emulator + devhost on one VirtualClock that jumps to the next durable timer whenever nothing else runs."""
    from devhost import VirtualClock

    clock = VirtualClock(START)
    spec = scenario(instances, containers or [target], more_vaults=more_vaults, **(scenario_top or {}))
    env = app_env({}, target, **(extra_env or {}))
    with local_stack.local_app(spec, env=env, clock=clock, storage=storage,
                               determinism_checks=determinism_checks) as app:
        yield VirtualApp(clock, app.emulator, app.host, app.env)


def replayed_events(history: list[dict[str, Any]]) -> int:
    """Events the SDK replays over an execution's life: at each episode (an OrchestratorStarted event), every
    event before it. Deterministic, unlike CPU time: it shows whether replay work grows linearly or worse."""
    from devhost.history import EventType

    return sum(i for i, event in enumerate(history) if event["EventType"] == EventType.OrchestratorStarted)


def parse_arm_time(text: str) -> datetime:
    """The emulator's request-log time (seven fractional digits and a Z)."""
    head, _, frac = text.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head).replace(tzinfo=UTC)
    return moment + timedelta(microseconds=int((frac + "000000")[:6])) if frac else moment


_KINDS: tuple[tuple[str, str, str], ...] = (
    # (method or "", how the lower-case path must match: "end:"/"in:", the text) -> kind, first match wins
    ("POST", "end:/validaterestore", "validate_post"),
    ("POST", "end:/restore", "restore_post"),
    ("", "in:/operationstatus/", "operation_status"),
    ("", "in:/operationresults/", "operation_result"),
    ("", "in:/recoverypoints", "recovery_points"),
    ("", "end:/backupjobs", "job_list"),
    ("", "in:/backupjobs/", "job_get"),
    ("", "end:/backupinstances", "instance_list"),
    # The pre-flight's reads (docs/preflight.md): whatever else names a vault or an instance is one of them.
    ("GET", "in:/providers/microsoft.storage/", "preflight"),
    ("GET", "in:/providers/microsoft.authorization/", "preflight"),
    ("GET", "in:/backupinstances/", "preflight"),
    ("GET", "in:/backupvaults/", "preflight"),
)


def classify(path: str, method: str) -> str:
    """The kind of one ARM request, by its method and path."""
    lowered = path.lower().rstrip("/")
    for want_method, rule, kind in _KINDS:
        how, _, text = rule.partition(":")
        if want_method and want_method != method:
            continue
        if (how == "end" and lowered.endswith(text)) or (how == "in" and text in lowered):
            return kind
    return "other"


def proc_status_kib(pid: int | str, field: str) -> int | None:
    """A ``kB`` line of /proc/<pid>/status (VmRSS now, VmHWM the peak), or None off Linux or once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (a launcher may start the real server as its child)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            after_name = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        children.setdefault(int(after_name[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_peak_rss_kib(pid: int) -> int | None:
    """The summed peak RSS (VmHWM) of `pid` and its descendants, read while they still run. A sum of peaks: at
    least the tree's true peak, equal to it for a single process (Azurite is one Node process)."""
    peaks = [proc_status_kib(p, "VmHWM") for p in process_tree(pid)]
    known = [p for p in peaks if p is not None]
    return sum(known) if known else None


def machine() -> dict[str, str]:
    """nproc, CPU model, Python version, load average and commit: printed with every bench's figures."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {"nproc": str(os.cpu_count() or 0), "cpu": model, "python": platform.python_version(), "loadavg": load,
            "commit": _commit()}


def _commit() -> str:
    """The app's commit (and '+dirty' with uncommitted changes): figures belong to one version of the code."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def print_figures(figures: dict[str, Any]) -> None:
    """The figures as the last lines of output, one ``name: value`` a line, in a stable order."""
    print("--- figures ---")
    for name, value in figures.items():
        shown = f"{value:.6g}" if isinstance(value, float) else value
        print(f"{name}: {shown}", flush=True)
