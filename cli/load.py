"""``python -m pgflex_restore load``: load restored files into a PostgreSQL server with the loader, here, and
``restore ... --load-into URI``: the same after a succeeded restore, from the restore's container and prefix.

The CLI runs the loader in-process (no Container Apps job): the source is a local folder or a blob container
(read with the same storage access as the CLI's restores: ``AzureWebJobsStorage``, else the app's credential),
the server a ``postgresql://`` URI (its password, or PGPASSWORD / .pgpass as libpq finds them). It keeps the
ledger of databases it created (``--ledger``), which ``--on-exists replace`` is limited to.

Exit codes: 0 loaded and every check passed, 1 the load or a check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cli.progress import LiveLine

EXIT_LOADED, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def add_load_parser(commands: Any) -> None:
    load = commands.add_parser("load", help="load restored files into a PostgreSQL server and check them")
    load.add_argument("--source", required=True, help="blob container URL or local folder with the restored files")
    load.add_argument("--prefix", required=True, help="the restore's file prefix")
    load.add_argument("--server", required=True, help="postgresql:// URI of the target server")
    _add_load_options(load)
    load.add_argument("--output", choices=("text", "json"), default="text")


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", action="append", default=[], metavar="SRC=DST",
                        help="load only these databases, under these names (repeatable; default: all, same names)")
    parser.add_argument("--on-exists", choices=("fail", "replace"), default="fail",
                        help="replace: drop a target database that exists, only if this CLI created it (the ledger)")
    parser.add_argument("--roles", choices=("apply", "skip"), default="apply")
    parser.add_argument("--jobs", type=int, default=4, help="parallel pg_restore jobs (1..32)")
    parser.add_argument("--ledger", default=None, help="the ledger of created databases (JSON file; default "
                                                       "~/.local/state/pgflex-restore/ledger.json)")


def add_load_into_flag(restore: argparse.ArgumentParser) -> None:
    """``restore --load-into URI``: load the restored files once the restore succeeded."""
    restore.add_argument("--load-into", metavar="URI", help="after a succeeded restore, load the files into this "
                                                            "postgresql:// server (load's defaults)")


class BadInput(ValueError):
    pass


def _databases(pairs: list[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not source or (sep and not target):
            raise BadInput(f"--database {pair!r}: expected SRC or SRC=DST")
        mapping[source] = target or source
    if len(set(mapping.values())) != len(mapping):
        raise BadInput("--database: two source databases have the same target")
    return mapping


def check_allowed(server: str, env: Mapping[str, str]) -> None:
    """The URI's host must be on LOAD_TARGET_ALLOWLIST, as a load request's server must be (the same setting)."""
    from loader.auth import target_from_uri
    from pgflex_restore.errors import ConfigurationError
    from pgflex_restore.settings import Settings

    try:
        allowlist = Settings.from_env(env).load_target_allowlist
    except ConfigurationError as exc:
        raise BadInput(f"configuration error: {exc}") from exc
    import psycopg

    try:
        host = str(target_from_uri(server, env).params.get("host") or "").lower().rstrip(".")
    except psycopg.Error as exc:  # libpq refused the URI
        raise BadInput(f"--server: {exc}") from exc
    if host not in allowlist:
        raise BadInput(f"--server: host {host or '(none: a local socket)'} is not on LOAD_TARGET_ALLOWLIST; loads "
                       "go only into servers listed there (host names or flexible server ARM ids): add it to load "
                       "into this server")


def _source(where: str) -> Any:
    from loader.sources import BlobSource, LocalSource

    if where.startswith(("http://", "https://")):
        from clients import container_client

        return BlobSource(container_client(where))
    folder = Path(where).expanduser()
    if not folder.is_dir():
        raise BadInput(f"--source {where}: neither a container URL nor a folder")
    return LocalSource(folder)


def run_load(*, source: str, prefix: str, server: str, args: argparse.Namespace, env: Mapping[str, str],
             stdout: TextIO, stderr: TextIO) -> int:
    """Load, record what was created in the ledger, write and print the report."""
    import psycopg

    from loader.auth import target_from_uri
    from loader.files import report_name
    from loader.ledger import DEFAULT_PATH, Ledger
    from loader.pgrestore import PgRestoreError, find_program
    from loader.run import LoadOptions, load

    try:
        if not 1 <= args.jobs <= 32:
            raise BadInput("--jobs must be from 1 to 32")
        databases = _databases(args.database)
        check_allowed(server, env)
        target = target_from_uri(server, env)
        program = find_program(env)
        files = _source(source)
        ledger = Ledger(Path(args.ledger) if args.ledger else DEFAULT_PATH)
        server_key = f"{target.host}:{target.port}"
        replaceable = ledger.replaceable(server_key)
    except (BadInput, PgRestoreError, ValueError) as exc:
        print(f"invalid argument: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    except psycopg.Error as exc:  # libpq refused the URI
        print(f"invalid argument: --server: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    run_id = f"load-cli-{uuid.uuid4()}"
    options = LoadOptions(run_id=run_id, prefix=prefix, databases=databases, on_exists=args.on_exists,
                          roles=args.roles, jobs=args.jobs, replaceable=replaceable)
    line = LiveLine(stderr)
    phases: dict[str, str] = {}

    def progress(database: str, phase: str) -> None:
        if database and phase != "download":
            phases.pop("load", None)  # the server-wide steps are over once a database is being loaded
        phases[database or "load"] = phase
        line.show("  ".join(f"{name}: {what}" for name, what in phases.items()))

    report = load(options, files, target, program=program, progress=progress, server_name=server_key)
    line.clear()
    if report.created:
        ledger.record(server_key, report.created, run_id=run_id,
                      created_at=datetime.now(UTC).isoformat(timespec="seconds"))
    text = report.to_json()
    try:
        where = files.write(report_name(prefix), text.encode())
    except Exception as exc:  # the report is printed anyway
        where = f"not written ({exc})"
    if args.output == "json":
        print(text, file=stdout)
    else:
        print(summary_text(report.to_dict(), where), file=stdout)
    return EXIT_LOADED if report.status == "loaded" else EXIT_FAILED


def run_load_command(args: argparse.Namespace, env: Mapping[str, str] | os._Environ[str], *, stdout: TextIO,
                     stderr: TextIO) -> int:
    return run_load(source=args.source, prefix=args.prefix, server=args.server, args=args, env=env,
                    stdout=stdout, stderr=stderr)


def load_after_restore(result: Mapping[str, Any], args: argparse.Namespace, env: Mapping[str, str], *,
                       stdout: TextIO, stderr: TextIO) -> int:
    """``restore --load-into``: the restore's target container and prefix, load's defaults."""
    target = result.get("target") or {}
    defaults = argparse.Namespace(database=[], on_exists="fail", roles="apply", jobs=4, ledger=None,
                                  output=args.output)
    return run_load(source=str(target.get("containerUrl")), prefix=str(target.get("filePrefix")),
                    server=args.load_into, args=defaults, env=env, stdout=stdout, stderr=stderr)


def summary_text(report: Mapping[str, Any], where: str) -> str:
    lines = [f"load {report.get('runId')}: {str(report.get('status')).upper()} into {report.get('server')}"]
    for entry in report.get("databases") or []:
        objects = entry.get("objects") or {}
        losses = sum(1 for m in entry.get("messages") or [] if m.get("class") == "loss")
        rows = sum(t.get("rows") or 0 for t in entry.get("tables") or [])
        lines.append(f"  {entry.get('source')} -> {entry.get('target')}: {entry.get('status')}; objects "
                     f"{objects.get('found', '-')}/{objects.get('expected', '-')}, {len(entry.get('tables') or [])}"
                     f" tables, {rows} rows, {losses} loss(es)")
    roles = report.get("roles") or {}
    lines.append(f"  roles           : {roles.get('applied', 0)} applied, {len(roles.get('skipped') or [])} skipped, "
                 f"{len(roles.get('errors') or [])} errors")
    created = ", ".join(f"{c['database']} (oid {c['oid']})" for c in report.get("created") or [])
    lines.append(f"  created         : {created or 'nothing'}")
    error = report.get("error")
    if error:
        lines.append(f"  failed step     : {report.get('failedStep')}")
        lines.append(f"  error           : {error.get('code')}: {error.get('message')}")
        lines.append(f"  what to do      : {error.get('advice')}")
    lines.append(f"  report          : {where}")
    return "\n".join(lines)

