"""A restore request's ``load`` section (docs/loading.md): where the restored files go, validated field by field.

The section is read by the same parser as the rest of the request (``models._Parser``), so its problems carry
field paths (``load.databases.sales``) and are reported with every other problem at once. The target server must
be on ``LOAD_TARGET_ALLOWLIST``; a server off the list fails with ``TargetNotAllowed`` like a container off
``RESTORE_TARGET_ALLOWLIST`` does, so every entry point answers it the same way (403, rejected, exit 2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from .errors import TARGET_NOT_ALLOWED
from .ids import FlexibleServerId
from .inputs import excerpt

OnExists = Literal["fail", "replace"]
Roles = Literal["apply", "skip"]

LOAD_FIELDS = frozenset({"server", "databases", "onExists", "roles", "jobs"})
MAX_JOBS = 32
DEFAULT_JOBS = 4
MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated by the server
# Databases no load may create or replace: PostgreSQL's templates and Azure's own.
RESERVED_TARGETS = frozenset({"template0", "template1", "azure_maintenance", "azure_sys"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\Z")


@dataclass(frozen=True)
class LoadSpec:
    """A validated ``load`` section. ``databases`` None: every restored database, under its own name."""

    server: FlexibleServerId
    databases: dict[str, str] | None = None
    on_exists: OnExists = "fail"
    roles: Roles = "apply"
    jobs: int = DEFAULT_JOBS

    def to_dict(self) -> dict[str, Any]:
        """The wire JSON (camelCase), every default written out."""
        out: dict[str, Any] = {"server": str(self.server)}
        if self.databases is not None:
            out["databases"] = dict(self.databases)
        out.update(onExists=self.on_exists, roles=self.roles, jobs=self.jobs)
        return out


def normalize_load_target(entry: str) -> str:
    """An allowlist entry in the form it is compared in: a flexible server's canonical ARM path or a host name,
    both lower-case (ARM names and DNS names compare case-insensitively)."""
    text = entry.strip()
    if text.startswith("/") or "://" in text:
        return FlexibleServerId.parse(text).path.lower()
    host = text.lower().rstrip(".")
    if not _HOST.match(host):
        raise ValueError(f"{excerpt(entry)} is neither a flexible server ARM id nor a host name")
    return host


def server_allowed(server: FlexibleServerId, allowlist: Iterable[str]) -> bool:
    """Before the server's host is known: its ARM id is listed, or a listed host is this server's
    (``<name>.postgres.database.azure.com``: a flexible server's name is its DNS label, unique in the cloud)."""
    entries = set(allowlist)
    if server.path.lower() in entries:
        return True
    name = server.server_name.lower()
    return any(not e.startswith("/") and e.split(".", 1)[0] == name for e in entries)


def host_allowed(server: FlexibleServerId, host: str | None, allowlist: Iterable[str]) -> bool:
    """Once ARM told the host: its ARM id is listed, or the very host is."""
    entries = set(allowlist)
    return server.path.lower() in entries or (host or "").lower().rstrip(".") in entries


class LoadParser:
    """Reads the ``load`` section into a LoadSpec, reporting each problem through ``fail(path, message, code)``."""

    def __init__(self, allowlist: Iterable[str], fail: Callable[[str, str, str], None]) -> None:
        self.allowlist = frozenset(allowlist)
        self.fail = fail

    def parse(self, value: object) -> LoadSpec | None:
        if not isinstance(value, dict):
            self.fail("load", "must be an object: {\"server\": ..., \"databases\": {...}, ...}", "type")
            return None
        for key in sorted(set(value) - LOAD_FIELDS):
            self.fail(f"load.{key}", f"unknown field {excerpt(key)}; allowed: {', '.join(sorted(LOAD_FIELDS))}",
                      "unknown")
        server = self.server(value.get("server"))
        databases = self.databases(value["databases"]) if value.get("databases") is not None else {}
        on_exists = self.choice(value, "onExists", ("fail", "replace"))
        roles = self.choice(value, "roles", ("apply", "skip"))
        jobs = self.jobs(value.get("jobs"))
        if server is None or on_exists is None or roles is None or jobs is None or databases is None:
            return None
        return LoadSpec(server, databases or None, cast(OnExists, on_exists), cast(Roles, roles), jobs)

    def server(self, value: object) -> FlexibleServerId | None:
        if not isinstance(value, str) or not value.strip():
            self.fail("load.server", "required: the ARM id of an Azure Database for PostgreSQL flexible server",
                      "required")
            return None
        try:
            server = FlexibleServerId.parse(value)
        except ValueError as exc:
            self.fail("load.server", str(exc), "invalid")
            return None
        if not server_allowed(server, self.allowlist):
            self.fail("load.server", f"{server} is not on LOAD_TARGET_ALLOWLIST; restores may only be loaded into "
                                     "allowed servers", TARGET_NOT_ALLOWED)
            return None
        return server

    def databases(self, value: object) -> dict[str, str] | None:
        """The source -> target map, or None when it is unusable (the problems are reported)."""
        if not isinstance(value, Mapping) or not value:
            self.fail("load.databases", "must be a non-empty object mapping restored database names to target "
                                        "names (leave it out to load every database under its own name)", "type")
            return None
        good: dict[str, str] = {}
        for source, target in value.items():
            path = f"load.databases.{source}"
            problem = database_name_problem(source)
            if problem:
                self.fail(path, f"source database name: {problem}", "invalid")
                continue
            problem = database_name_problem(target) if isinstance(target, str) else "must be a string"
            if not problem and target.lower() in RESERVED_TARGETS:
                problem = f"{excerpt(target)} is reserved by PostgreSQL or Azure; choose another name"
            if problem:
                self.fail(path, f"target database name: {problem}", "invalid")
                continue
            good[source] = target
        seen: dict[str, str] = {}
        for source, target in good.items():
            if target in seen:
                self.fail(f"load.databases.{source}",
                          f"target {excerpt(target)} is also the target of {excerpt(seen[target])}: "
                          "two databases cannot be loaded into one", "conflict")
            seen.setdefault(target, source)
        return good if len(good) == len(value) and len(seen) == len(good) else None

    def choice(self, value: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
        raw = value.get(key)
        if raw is None:
            return allowed[0]
        if isinstance(raw, str) and raw.strip().lower() in allowed:
            return raw.strip().lower()
        self.fail(f"load.{key}", f"must be one of {', '.join(allowed)}", "invalid")
        return None

    def jobs(self, raw: object) -> int | None:
        if raw is None:
            return DEFAULT_JOBS
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_JOBS:
            self.fail("load.jobs", f"must be a whole number from 1 to {MAX_JOBS} (parallel pg_restore jobs)",
                      "invalid")
            return None
        return raw


def database_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a PostgreSQL database name, or None: 1 to 63 bytes, no NUL or control characters."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if _CONTROL.search(name):
        return "must not contain NUL or control characters"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"must be at most {MAX_NAME_BYTES} bytes (PostgreSQL would truncate it)"
    return None

