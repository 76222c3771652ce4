"""The loader's ``drop`` action: drop databases a load created (a drill's scratch databases), each only if it
still exists with the oid the load recorded, never anything else. Running it again is harmless: a database
already gone is ``absent``.

A database whose name now has another oid was made again by someone else: it is left alone (``oidChanged``) and
the drop fails, so a person looks. Returns the report (docs/loading.md, "Dropping databases"); never raises.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from . import database as db
from .auth import Target

DROP_REPORT_SUFFIX = "_drop-report.json"
DROPPED, ABSENT, OID_CHANGED, FAILED = "dropped", "absent", "oidChanged", "failed"
# The server's own databases (PostgreSQL's and Azure's): never dropped, whatever oid is asked for.
SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1", "azure_maintenance", "azure_sys"})


@dataclass
class DropReport:
    run_id: str
    server: str
    started_at: str
    finished_at: str | None = None
    dropped: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        ok = self.error is None and all(item["outcome"] in (DROPPED, ABSENT) for item in self.dropped)
        return "dropped" if ok else "failed"

    def to_dict(self) -> dict[str, Any]:
        return {"runId": self.run_id, "action": "drop", "status": self.status, "server": self.server,
                "startedAt": self.started_at, "finishedAt": self.finished_at, "error": self.error,
                "dropped": self.dropped, "durations": {"total": round(self.seconds, 3)}}


def drop_report_name(prefix: str) -> str:
    return f"{prefix}{DROP_REPORT_SUFFIX}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def drop_databases(run_id: str, target: Target, databases: Sequence[Mapping[str, Any]],
                   server_name: str | None = None) -> DropReport:
    """Drop each ``{"database", "oid"}`` that still has that oid; every outcome in the report."""
    started = time.monotonic()
    report = DropReport(run_id, server_name or target.host, _now())
    try:
        with db.connect(target, target.maintenance_db) as admin:
            for item in databases:
                report.dropped.append(_drop_one(admin, str(item["database"]), int(item["oid"])))
    except psycopg.Error as exc:
        done = {item["database"] for item in report.dropped}
        message = f"{target.host}: {str(exc).strip()}"
        report.dropped += [{"database": item["database"], "oid": item["oid"], "outcome": FAILED, "error": message}
                           for item in databases if item["database"] not in done]
        report.error = {"code": "ServerUnreachable", "message": message,
                        "advice": "run the drop again once the server is reachable; it drops only these oids"}
    if report.error is None and report.status == "failed":
        problems = [f"{i['database']}: {i['outcome']}" for i in report.dropped if i["outcome"] not in (DROPPED, ABSENT)]
        report.error = {"code": "DropFailed", "message": "; ".join(problems),
                        "advice": "a database with another oid was made by someone else and was left alone; drop "
                                  "the others by hand after looking at them"}
    report.finished_at = _now()
    report.seconds = time.monotonic() - started
    return report


def _drop_one(admin: psycopg.Connection[Any], name: str, oid: int) -> dict[str, Any]:
    item: dict[str, Any] = {"database": name, "oid": oid}
    if name in SYSTEM_DATABASES:
        return {**item, "outcome": FAILED, "error": f"{name!r} is one of the server's own databases: never dropped"}
    current = db.database_oid(admin, name)
    if current is None:
        return {**item, "outcome": ABSENT}
    if current != oid:
        return {**item, "outcome": OID_CHANGED,
                "error": f"database {name!r} now has oid {current}, not {oid}: someone else made it; not dropped"}
    outcome, error = _drop_as_owner(admin, name, oid)
    return {**item, "outcome": outcome, **({"error": error} if error else {})}


def _drop_as_owner(admin: psycopg.Connection[Any], name: str, oid: int) -> tuple[str, str | None]:
    """DROP with the owner's rights, checking the oid just before; sessions left in it ended if they block it."""
    granted = _act_as_owner(admin, name)
    try:
        try:
            db.drop_if_oid(admin, name, oid)
        except psycopg.errors.ObjectInUse:
            _drop_forced(admin, name, oid)
    except db.OidChanged as exc:
        return OID_CHANGED, str(exc)
    except psycopg.Error as exc:
        return FAILED, str(exc).strip()
    finally:
        if granted:
            admin.execute(sql.SQL("REVOKE {} FROM CURRENT_USER").format(sql.Identifier(granted)))
    return DROPPED, None


def _act_as_owner(admin: psycopg.Connection[Any], name: str) -> str | None:
    """Dropping needs the owner's rights: the load may have given the database to the dumped owner. Returns the
    role the loader made itself a member of (to revoke), or None."""
    owner = db.database_owner(admin, name)
    if not owner or db.is_member(admin, owner):
        return None
    try:
        admin.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(owner)))
    except psycopg.Error:
        return None  # the DROP then says why it is refused
    return owner


def _drop_forced(admin: psycopg.Connection[Any], name: str, oid: int) -> None:
    """Sessions still in the scratch database: DROP ... WITH (FORCE) ends them (PostgreSQL 13+)."""
    if db.database_oid(admin, name) != oid:
        raise db.OidChanged(f"database {name!r} changed while it was being dropped: not dropped")
    admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
