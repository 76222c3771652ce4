"""How the loader signs in: the CLI's URI, or the job's role and a token asked for again on every use."""

from __future__ import annotations

import pytest

from loader.auth import default_sslmode, target_from_env, target_from_uri


def test_a_uri_gives_the_parameters_and_keeps_the_password_out_of_the_connection_string() -> None:
    target = target_from_uri("postgresql://admin:s%40cret@db.example.com:6432/postgres?sslmode=verify-full", {})
    assert (target.host, target.port, target.user, target.maintenance_db) == ("db.example.com", "6432", "admin",
                                                                             "postgres")
    assert target.password() == "s@cret" and not target.token
    info = target.conninfo("sales")
    assert "dbname=sales" in info and "sslmode=verify-full" in info and "cret" not in info
    assert target.program_env({})["PGPASSWORD"] == "s@cret"
    assert "PGPASSWORD" not in target_from_uri("postgresql://admin@localhost/x", {}).program_env({})


def test_sslmode_is_required_for_a_remote_host_unless_pgsslmode_says_otherwise() -> None:
    assert default_sslmode("pg.postgres.database.azure.com", {}) == "require"
    assert default_sslmode("127.0.0.1", {}) == "prefer"
    assert default_sslmode("pg.postgres.database.azure.com", {"PGSSLMODE": "verify-full"}) == "verify-full"


class _Credential:
    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str) -> tuple[str, int]:
        assert scopes == ("https://ossrdbms-aad.database.windows.net/.default",)
        self.calls += 1
        return (f"token-{self.calls}", 0)


class _Token:
    def __init__(self, credential: _Credential) -> None:
        self.credential = credential

    def get_token(self, *scopes: str) -> object:
        token, expires = self.credential.get_token(*scopes)
        return type("AccessToken", (), {"token": token, "expires_on": expires})()


def test_the_job_signs_in_as_loader_pg_user_with_a_token_asked_for_on_every_use() -> None:
    credential = _Credential()
    target = target_from_env("pg.postgres.database.azure.com", {"LOADER_PG_USER": "loader-mi", "PGPORT": "5433"},
                             credential=_Token(credential))
    assert target.token and (target.user, target.port) == ("loader-mi", "5433")
    assert "sslmode=require" in target.conninfo("postgres")
    assert [target.password(), target.password()] == ["token-1", "token-2"]
    assert target.program_env({})["PGPASSWORD"] == "token-3"
    with pytest.raises(ValueError, match="LOADER_PG_USER"):
        target_from_env("h", {})
