"""The load report (docs/loading.md, "The report"): built up step by step, so a failed load still says what
it created and where it stopped. Pure: the caller gives times and facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

STEPS = ("find", "download", "version", "create", "extensions", "roles", "restore", "analyze", "checks")
# What to do about a failed step, for the report's error.advice.
ADVICE = {
    "find": "check source.containerUrl and source.prefix: the restore's target container and filePrefix",
    "download": "check that the loader's identity can read the container (Storage Blob Data Reader) and has disk",
    "version": "run a loader image whose pg_restore is at least as new as the dump's pg_dump",
    "create": "see the databases' messages; a target that exists is replaced only with onExists replace when this "
              "app created it",
    "extensions": "allow the extensions in the server's azure.extensions parameter (the app does this in Azure)",
    "roles": "see roles.errors; roles: skip loads without them",
    "restore": "see each database's messages: every 'loss' names an object that did not load",
    "analyze": "the data is loaded; run ANALYZE by hand",
    "checks": "see each database's objects.missing, the tables whose dump holds rows but that have none, and its "
              "checks (invariants, amcheck, sourceComparison) that failed",
}


@dataclass
class DatabaseReport:
    source: str
    target: str
    status: str = "skipped"
    archive: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] | None = None
    tables: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    owners: str | None = None  # "kept" or why ownership was not restored
    checks: list[dict[str, Any]] = field(default_factory=list)  # invariants, amcheck, sourceComparison

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source, "target": self.target, "status": self.status, "archive": self.archive,
            "objects": self.objects, "tables": self.tables, "messages": self.messages, "checks": self.checks,
            "durations": {k: round(v, 3) for k, v in self.durations.items()},
        }
        if self.owners is not None:
            out["owners"] = self.owners
        return out


@dataclass
class Report:
    run_id: str
    server: str
    started_at: str
    status: str = "failed"
    failed_step: str | None = None
    error: dict[str, str] | None = None
    finished_at: str | None = None
    created: list[dict[str, Any]] = field(default_factory=list)
    roles: dict[str, Any] = field(default_factory=lambda: {"applied": 0, "skipped": [], "errors": []})
    databases: list[DatabaseReport] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)  # every restored file: name, bytes, sha256

    def fail(self, step: str, code: str, message: str) -> None:
        """Record the first failure (later ones are in the databases' entries)."""
        if self.failed_step is None:
            self.failed_step = step
            self.error = {"code": code, "message": message, "advice": ADVICE.get(step, "")}

    def add_duration(self, step: str, seconds: float) -> None:
        self.durations[step] = self.durations.get(step, 0.0) + seconds

    def finish(self, finished_at: str, total_seconds: float) -> None:
        self.finished_at = finished_at
        self.durations["total"] = total_seconds
        failed = self.failed_step is not None or any(d.status == "failed" for d in self.databases)
        self.status = "failed" if failed else "loaded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id, "status": self.status, "failedStep": self.failed_step, "error": self.error,
            "server": self.server, "startedAt": self.started_at, "finishedAt": self.finished_at,
            "created": self.created, "roles": self.roles, "files": self.files,
            "databases": [d.to_dict() for d in self.databases],
            "durations": {k: round(v, 3) for k, v in self.durations.items()},
        }

    def to_json(self) -> str:
        """One line (the loader's last stdout line)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def step_error_code(step: str) -> str:
    """``restore`` -> ``LoadRestoreFailed`` (the app's ``Load<Step>Failed``)."""
    return f"Load{step.capitalize()}Failed"
