"""`python -m loader` as the Container Apps job runs it: files in Blob Storage (Azurite), no password anywhere
(an Entra token from the managed-identity endpoint, a real HTTP server here), the report written next to the
files and printed last. The endpoint changes the role's password with every token it issues, so a load passes
only if every connection and every pg_restore section asks for a fresh one (a token expiring between sections).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from devhost.azurite import Azurite
from devhost.postgres import Postgres
from tests.loader.conftest import Dumps, allow_extensions, unique

pytestmark = [pytest.mark.slow, pytest.mark.azurite]
REPO = Path(__file__).resolve().parents[2]
IDENTITY_HEADER = "identity-header-secret"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TOKEN_LIFETIME = 30  # seconds: the loader's credential asks again for anything this close to expiry


def _job_env(postgres: Postgres, request: dict[str, object], **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "LOAD", "IDENTITY_"))}
    env.update({"LOAD_REQUEST": json.dumps(request), "PGPORT": str(postgres.port),
                "LOADER_PG_BINDIR": str(postgres.bindir),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])), **extra})
    return env


def _run_job(env: dict[str, str]) -> tuple[int, dict[str, object], str]:
    done = subprocess.run([sys.executable, "-m", "loader"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=170, check=False)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    return done.returncode, json.loads(last), done.stderr


def test_the_job_loads_from_blob_storage_with_a_fresh_token_for_every_section(
        postgres: Postgres, dumps: Dumps, azurite: Azurite, httpserver: HTTPServer) -> None:
    from azure.storage.blob import BlobServiceClient

    allow_extensions(postgres)
    role = unique("loader_mi")
    postgres.create_entra_principal(role)  # as pgaadauth_create_principal(role, isAdmin => true) makes it
    tokens: list[str] = []

    def issue(request: Request) -> Response:
        if request.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return Response("{}", status=401)
        assert request.args["resource"] == "https://ossrdbms-aad.database.windows.net"
        assert request.args["client_id"] == CLIENT_ID
        token, expires_on = f"eyJ-{len(tokens)}-{uuid.uuid4().hex}", int(time.time()) + TOKEN_LIFETIME
        postgres.set_token_password(role, token, expires_on)  # every earlier token stops signing in
        tokens.append(token)
        body = {"access_token": token, "expires_on": str(expires_on), "token_type": "Bearer",
                "resource": request.args["resource"], "client_id": CLIENT_ID}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/msi/token").respond_with_handler(issue)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container(unique("restores").replace("_", "-"))
    for path in dumps.folder.iterdir():
        kind = path.name.removeprefix("r1_")
        container.upload_blob(f"restore-42_{kind}", path.read_bytes())
    container.upload_blob("restore-420_crm.sql", b"another restore's file, not under the prefix")
    shop = unique("shop")
    request = {"runId": "restore-42", "source": {"containerUrl": container.url, "prefix": "restore-42"},
               "server": {"host": "127.0.0.1"}, "databases": {"shop": shop}, "jobs": 2}
    env = _job_env(postgres, request, LOAD_STORAGE_CONNECTION_STRING=azurite.connection_string,
                   LOADER_PG_USER=role, IDENTITY_ENDPOINT=httpserver.url_for("/msi/token"),
                   IDENTITY_HEADER=IDENTITY_HEADER, AZURE_CLIENT_ID=CLIENT_ID)
    code, report, stderr = _run_job(env)
    assert code == 0, stderr + json.dumps(report, indent=1)
    assert report["status"] == "loaded" and report["runId"] == "restore-42"
    assert [d["target"] for d in report["databases"]] == [shop]  # type: ignore[index, union-attr]
    written = json.loads(container.download_blob("restore-42_load-report.json").readall())
    assert written == report
    # One token per connection and per pg_restore run: the three sections and the extensions each had their own.
    assert len(tokens) >= 8, tokens
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.uri(user=role, password=tokens[-2])).close()
    assert postgres.sql("select count(*) from s.t", shop) == [(500,)]


def test_bad_input_exits_2_with_a_report_line(postgres: Postgres, tmp_path: Path) -> None:
    code, report, stderr = _run_job(_job_env(postgres, {"source": {"prefix": "p"}, "jobs": 99},
                                             LOADER_PG_USER="someone"))
    assert code == 2
    assert report["status"] == "failed" and report["error"]["code"] == "BadRequest"  # type: ignore[index]
    assert "source.containerUrl" in stderr and "jobs" in stderr and "server" in stderr
    code, report, _ = _run_job(_job_env(postgres, {"source": {"folder": str(tmp_path), "prefix": "p"},
                                                   "server": {"host": "127.0.0.1"}}))
    assert code == 2 and "LOADER_PG_USER" in report["error"]["message"]  # type: ignore[index]


def test_the_report_so_far_is_next_to_the_files_as_soon_as_a_database_exists(
        postgres: Postgres, dumps: Dumps, tmp_path: Path) -> None:
    """A loader killed after CREATE DATABASE (a deadline's stop, out of memory) has already said what it created,
    so the app can drop it: the first report next to the files is the partial one, marked running."""
    allow_extensions(postgres)
    folder = dumps.copy(tmp_path / "files", prefix="partial", only=("shop", "roles"))
    target = unique("shop_partial")
    request = {"runId": "partial-1", "source": {"folder": str(folder), "prefix": "partial"},
               "server": {"host": "127.0.0.1"}, "databases": {"shop": target}, "jobs": 1}
    env = _job_env(postgres, request, LOADER_PG_USER="pgadmin", LOADER_PG_PASSWORD="admin-password-for-local-tests",
                   PGSSLMODE="disable")
    report_file = folder / "partial_load-report.json"
    job = subprocess.Popen([sys.executable, "-m", "loader"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    first: dict[str, object] | None = None
    deadline = time.monotonic() + 120
    try:
        while first is None and job.poll() is None and time.monotonic() < deadline:
            try:
                first = json.loads(report_file.read_text())
            except (OSError, ValueError):  # not there yet, or being written
                time.sleep(0.01)
    finally:
        job.kill()
        job.wait()
    assert first is not None, "no report appeared while the loader ran"
    oid = postgres.sql("select oid from pg_database where datname = %s", params=(target,))[0][0]
    assert first["status"] == "running" and first["finishedAt"] is None
    assert first["created"] == [{"database": target, "oid": oid}]
    assert json.loads(report_file.read_text())["created"] == [{"database": target, "oid": oid}]
    postgres.sql(f'DROP DATABASE "{target}" WITH (FORCE)')
    # Killed mid-load, the loader kept the memberships it takes to restore owners (its revoke never ran): the
    # session's later tests expect the admin without them.
    for (role,) in postgres.sql("select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
                                "where m.member = 'pgadmin'::regrole and r.rolname <> 'azure_pg_admin'"):
        postgres.sql(sql.SQL("REVOKE {} FROM pgadmin").format(sql.Identifier(str(role))))
