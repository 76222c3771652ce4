"""Capture what the real pg_restore prints when loads go wrong, for tests/loader/test_messages.py.

Starts a throwaway cluster shaped like a flexible server (devhost/postgres.py, with Azure's extension allowlist
shim), restores the emulator's fixture dumps as the non-superuser admin in the ways a load can go wrong, and writes
each run's stderr to `<name>.txt` here, with `index.json` saying how each was made and how pg_restore exited.
Runs without `-j` print the same text every time; `*_parallel` shows one of the ways `-j` interleaves its workers.

    .venv/bin/python tests/loader/samples/make_samples.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from devhost.postgres import ADMIN_ROLE, Postgres, start_postgres  # noqa: E402
from loader.roles import clean_roles_script  # noqa: E402

HERE = Path(__file__).resolve().parent
DUMPS = ROOT / "emulator" / "fixtures" / "dumps"
ALL_EXTENSIONS = ["pg_trgm", "hstore", "uuid-ossp"]


class Capture:
    """Runs pg_restore as the admin and keeps each run's stderr under a name."""

    def __init__(self, server: Postgres, work: Path) -> None:
        self.server, self.work = server, work
        self.index: dict[str, dict[str, object]] = {}

    def admin(self, statement: str, database: str = "postgres") -> None:
        with psycopg.connect(self.server.uri(database), autocommit=True) as connection:
            connection.execute(statement.encode())

    def restore(self, name: str | None, database: str, archive: Path, *options: str, what: str = "",
                sections: tuple[str, ...] = ()) -> None:
        """One pg_restore run (or one per section, concatenated, as the loader runs them); kept unless no name."""
        stderr, codes = "", list[int]()
        for section in sections or ("",):
            argv = [self.server.program("pg_restore"), "--no-tablespaces", *options,
                    *([f"--section={section}"] if section else []), "-d", self.server.uri(database), str(archive)]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
            stderr, codes = stderr + done.stderr, [*codes, done.returncode]
        if name is None:
            return
        (HERE / f"{name}.txt").write_text(stderr)
        shown = ["pg_restore", "--no-tablespaces", *options, *(["--section=<each>"] if sections else []),
                 "-d", database, archive.name]
        self.index[name] = {"what": what, "command": " ".join(shown), "exit": codes}


def legacy_archive(server: Postgres, work: Path) -> Path:
    """A dump whose plpgsql and hstore are ordinary extensions (re-created by a superuser), so it carries their
    comments, as dumps of older servers do; its objects are owned by the bootstrap superuser. (CASCADE drops
    the allowlist shim from this source database only.)"""
    server.sql("CREATE DATABASE legacy")
    for statement in ("DROP EXTENSION plpgsql CASCADE", "CREATE EXTENSION plpgsql", "CREATE EXTENSION hstore",
                      "CREATE TABLE public.settings (name text PRIMARY KEY, value public.hstore)",
                      "INSERT INTO public.settings VALUES ('theme', 'colour=>blue')"):
        server.sql(statement, "legacy")
    path = work / "legacy.dump"
    subprocess.run([server.program("pg_dump"), "-Fc", "-d", server.superuser_dsn("legacy"), "-f", str(path)],
                   check=True, timeout=120)
    return path


def capture(server: Postgres, work: Path) -> Capture:
    run = Capture(server, work)
    appdb, reporting = DUMPS / "appdb.dump", DUMPS / "reporting.dump"
    for database in ("no_roles", "no_roles_parallel", "owners", "sections", "twice", "cut"):
        run.admin(f"CREATE DATABASE {database}")
    run.restore("acl_missing_roles", "no_roles", appdb, "--no-owner",
                what="appdb without its roles: every grant to them fails")
    run.restore("acl_missing_roles_parallel", "no_roles_parallel", appdb, "--no-owner", "-j", "4",
                what="the same with -j 4: the workers' lines interleave")
    run.restore("owners_missing", "owners", appdb, what="appdb without its roles, keeping owners: ALTER ... OWNER "
                "TO a missing role, and the grants")
    run.restore("sections", "sections", appdb, "--no-owner", sections=("pre-data", "data", "post-data"),
                what="as the loader runs it: one pg_restore per section, each with its own summary")
    run.restore(None, "twice", reporting, "--no-owner")
    run.restore("restored_twice", "twice", reporting, "--no-owner", "-v",
                what="reporting restored a second time into the same database, verbose (TOC entry lines)")
    server.sql("CREATE DATABASE not_mine")
    run.restore("permission_denied", "not_mine", reporting, "--no-owner",
                what="reporting into a database the admin does not own and may not create in")
    cut = work / "cut.dump"
    cut.write_bytes(appdb.read_bytes()[:20_000])
    run.restore("truncated_archive", "cut", cut, "--no-owner", what="appdb cut off inside its data")
    legacy = legacy_archive(server, work)
    run.admin("CREATE DATABASE preinstalled")
    server.sql("CREATE EXTENSION hstore", "preinstalled")
    run.restore("preinstalled_extension", "preinstalled", legacy, "--no-owner",
                what="a dump carrying extension comments, into a database where a superuser installed them")
    run.admin("CREATE DATABASE legacy_owners")
    run.restore("owner_not_member", "legacy_owners", legacy,
                what="keeping owners the admin is no member of (the superuser), extension comments")
    apply_roles(server)
    server.set_allowed_extensions(["pg_trgm"])
    for database in ("roles_applied", "not_allowed"):
        run.admin(f"CREATE DATABASE {database}")
    run.restore("not_allow_listed", "not_allowed", appdb, "--no-owner",
                what="appdb with its roles applied, on a server allowing only pg_trgm")
    server.set_allowed_extensions(ALL_EXTENSIONS)
    run.restore("roles_applied", "roles_applied", appdb, "--no-owner",
                what="appdb with roles.sql applied (cleaned): only the role roles.sql lacks is missing")
    return run


def apply_roles(server: Postgres) -> None:
    """The fixture roles.sql, cleaned by loader.roles, run as the admin."""
    existing = {str(row[0]) for row in server.sql("SELECT rolname FROM pg_roles")}
    cleaned = clean_roles_script((DUMPS / "roles.sql").read_text(), existing_roles=existing, admin_role=ADMIN_ROLE)
    with psycopg.connect(server.uri(), autocommit=True) as connection:
        for statement in cleaned.statements:
            connection.execute(statement.encode())


def main() -> None:
    server = start_postgres(extension_allowlist=ALL_EXTENSIONS)
    try:
        with tempfile.TemporaryDirectory(prefix="pgflex-samples-") as folder:
            work = Path(folder)
            work.chmod(0o755)
            run = capture(server, work)
    finally:
        server.stop()
    (HERE / "index.json").write_text(json.dumps(run.index, indent=2, sort_keys=True) + "\n")
    for name, facts in sorted(run.index.items()):
        print(f"{name:28} exit {facts['exit']}  {facts['what']}")


if __name__ == "__main__":
    main()
