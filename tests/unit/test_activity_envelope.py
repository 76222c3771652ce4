"""Activities answer every expected failure with the error envelope; none escapes as an exception."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import clients
from activities import jobs
from pgflex_restore.settings import reset_settings_cache


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ARM_ENDPOINT", "POLL_MIN_SECONDS", "AZURE_CLIENT_ID", "LOAD_TARGET_ALLOWLIST"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    clients.reset()
    yield
    reset_settings_cache()
    clients.reset()


def test_bad_ids_are_permanent_errors_not_crashes() -> None:
    """A malformed backup instance id is reported with its cause, marked permanent, before any request is sent."""
    result = jobs.find({"backupInstance": "not-an-arm-id", "since": "2026-11-01T00:00:00+00:00"})
    assert result["ok"] is False
    assert result["error"]["retryable"] is False
    assert "not-an-arm-id" in result["error"]["message"]
    assert result["armCalls"] == 0


def test_broken_settings_are_a_permanent_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad app setting fails the call with ConfigurationError naming the setting, not an unhandled exception."""
    monkeypatch.setenv("POLL_MIN_SECONDS", "soon")
    result = jobs.job({"vault": "/subscriptions/s/resourceGroups/r/providers/Microsoft.DataProtection/"
                                "backupVaults/v", "jobId": "00000000-0000-0000-0000-000000000001"})
    assert result["ok"] is False
    assert result["error"]["code"] == "ConfigurationError"
    assert "POLL_MIN_SECONDS" in result["error"]["message"]


def test_load_activities_refuse_bad_ids_and_servers_off_the_allowlist_as_permanent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The load's ARM activities answer in the same envelope: a server off LOAD_TARGET_ALLOWLIST (settings may
    change after a request was accepted) and a malformed job id are permanent, and nothing is sent."""
    from activities import load

    server = "/subscriptions/s/resourceGroups/r/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg"
    monkeypatch.setenv("LOAD_TARGET_ALLOWLIST", server.replace("/pg", "/other"))
    refused = load.get_server({"server": server})
    assert refused["ok"] is False and refused["armCalls"] == 0
    assert (refused["error"]["code"], refused["error"]["retryable"]) == ("ServerNotAllowed", False)
    bad = load.get_execution({"job": "not-a-job", "name": "e"})
    assert bad["ok"] is False and bad["error"]["retryable"] is False and "not-a-job" in bad["error"]["message"]
