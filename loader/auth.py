"""How the loader signs in to PostgreSQL: a fixed password (the CLI's URI, PGPASSWORD, .pgpass) or, in Azure, an
Entra token from the job's managed identity, asked for again before every connection and every pg_restore run.

The token path exists because ``pg_restore -j`` reconnects after its parallel phase with the password it
started with: a token that expired meanwhile fails that reconnect. Each call of `Target.password()` therefore
asks the credential again (its cache hands out the same token until five minutes before expiry).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

ENTRA_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")


@dataclass(frozen=True)
class Target:
    """The server to load into. ``params`` are libpq connection parameters without dbname and password."""

    params: Mapping[str, str]
    maintenance_db: str = "postgres"
    password_source: Callable[[], str | None] = field(default=lambda: None, repr=False)
    token: bool = False  # the password is an expiring token: pg_restore runs once per section

    @property
    def host(self) -> str:
        return str(self.params.get("host") or "localhost")

    @property
    def port(self) -> str:
        return str(self.params.get("port") or "5432")

    @property
    def user(self) -> str | None:
        value = self.params.get("user")
        return str(value) if value else None

    def password(self) -> str | None:
        """A password good for a new connection now."""
        return self.password_source()

    def conninfo(self, database: str) -> str:
        """A libpq connection string for one database, without the password (that goes in PGPASSWORD)."""
        return make_conninfo("", **{**self.params, "dbname": database})

    def connect_kwargs(self, database: str) -> dict[str, Any]:
        password = self.password()
        extra = {"password": password} if password else {}
        return {"conninfo": self.conninfo(database), **extra}

    def program_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for pg_restore: PGPASSWORD set from a fresh password when there is one."""
        env = dict(os.environ if base is None else base)
        password = self.password()
        if password:
            env["PGPASSWORD"] = password
        return env

    def with_params(self, **params: str) -> Target:
        return replace(self, params={**self.params, **params})


def default_sslmode(host: str, env: Mapping[str, str]) -> str:
    """PGSSLMODE when set; else ``require`` for a remote host (Azure needs TLS), ``prefer`` on this machine."""
    if env.get("PGSSLMODE"):
        return env["PGSSLMODE"]
    return "prefer" if host in LOCAL_HOSTS or host.startswith("/") else "require"


def target_from_uri(uri: str, env: Mapping[str, str] | None = None) -> Target:
    """The CLI's ``postgresql://`` URI: a password in it is used; without one libpq finds PGPASSWORD or .pgpass."""
    env = os.environ if env is None else env
    params = {k: str(v) for k, v in conninfo_to_dict(uri).items() if v is not None}
    password = params.pop("password", None)
    maintenance = params.pop("dbname", None) or "postgres"
    params.setdefault("sslmode", default_sslmode(params.get("host", ""), env))
    return Target(params, maintenance, (lambda: password), token=False)


def target_from_env(host: str, env: Mapping[str, str] | None = None,
                    credential: Any | None = None) -> Target:
    """The job's target: ``LOADER_PG_USER`` signs in with an Entra token from the managed identity
    (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``, ``AZURE_CLIENT_ID``); PGPORT and PGSSLMODE from the environment.
    ``LOADER_PG_PASSWORD`` instead of a token is for local runs only."""
    env = os.environ if env is None else env
    user = env.get("LOADER_PG_USER")
    if not user:
        raise ValueError("LOADER_PG_USER is not set: the PostgreSQL role of the loader's managed identity")
    params = {"host": host, "port": env.get("PGPORT") or "5432", "user": user,
              "sslmode": default_sslmode(host, env), "connect_timeout": env.get("PGCONNECT_TIMEOUT") or "30"}
    fixed = env.get("LOADER_PG_PASSWORD")
    if fixed:
        return Target(params, "postgres", (lambda: fixed), token=False)
    if credential is None:
        credential = entra_credential(env)
    return Target(params, "postgres", lambda: str(credential.get_token(ENTRA_SCOPE).token), token=True)


def entra_credential(env: Mapping[str, str]) -> Any:
    """The managed identity's credential: the platform endpoint through pgflex_restore.identity."""
    from pgflex_restore.identity import managed_identity_credential

    return managed_identity_credential(env.get("AZURE_CLIENT_ID") or None, env)
