"""Settings: defaults, parsing of every setting, and one error naming every bad setting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pgflex_restore.errors import ConfigurationError
from pgflex_restore.ids import VaultId
from pgflex_restore.pacing import Bucket
from pgflex_restore.polling import PollPolicy
from pgflex_restore.settings import Settings, get_settings, reset_settings_cache

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v"


def test_defaults() -> None:
    """An empty environment gives safe defaults: nothing allowed, Azure public cloud, 2026-06-01."""
    s = Settings.from_env({})
    assert s == Settings()
    assert s.arm_endpoint == "https://management.azure.com"
    assert s.api_version == "2026-06-01"
    assert s.restore_target_allowlist == () and s.client_id is None
    assert s.restore_timeout == timedelta(hours=24)
    assert PollPolicy.from_settings(s) == PollPolicy(5, 600, 30)
    assert s.http_timeout == (10.0, 60.0)
    assert s.drill_schedule == "0 0 3 * * *" and s.max_transient_retries == 8


def test_every_setting_parsed() -> None:
    """Every documented setting is read and normalised."""
    env = {
        "ARM_ENDPOINT": "http://127.0.0.1:8443/",
        "DATAPROTECTION_API_VERSION": "2021-07-01",
        "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
        "RESTORE_TARGET_ALLOWLIST": "HTTPS://A.blob.core.windows.net/x-1/, https://a.blob.core.windows.net/x-1,"
                                    " http://127.0.0.1:10000/devstoreaccount1/c-2",
        "RESTORE_TIMEOUT": "PT90M",
        "POLL_MIN_SECONDS": "0",
        "POLL_MAX_SECONDS": "60",
        "POLL_DEFAULT_SECONDS": "1.5",
        "HTTP_CONNECT_TIMEOUT_SECONDS": "3",
        "HTTP_READ_TIMEOUT_SECONDS": "9",
        "RESTORE_REQUESTS_QUEUE": "my-queue",
        "RESTORE_VAULTS": f"{VAULT}, {VAULT}/",
        "ALERT_RESTORE_TARGET": "https://a.blob.core.windows.net/alerts/",
        "DRILL_SCHEDULE": "0  30 4 * * 1",
        "DRILL_PLAN": '{"drills": []}',
        "MAX_TRANSIENT_RETRIES": "3",
        "ARM_BUDGET": "writes=20/0.5",
    }
    s = Settings.from_env(env)
    assert s.arm_budget == (Bucket(200, 22.5), Bucket(20, 0.5))  # the part left out keeps its default
    assert s.arm_endpoint == "http://127.0.0.1:8443"
    assert s.api_version == "2021-07-01"
    assert s.client_id == "00000000-0000-0000-0000-000000000001"
    assert s.restore_target_allowlist == (
        "https://a.blob.core.windows.net/x-1", "http://127.0.0.1:10000/devstoreaccount1/c-2")
    assert s.restore_timeout == timedelta(minutes=90)
    assert PollPolicy.from_settings(s) == PollPolicy(0, 60, 1.5)
    assert s.http_timeout == (3.0, 9.0)
    assert s.restore_requests_queue == "my-queue"
    assert s.restore_vaults == (VaultId.parse(VAULT),)
    assert s.alert_restore_target == "https://a.blob.core.windows.net/alerts"
    assert s.drill_schedule == "0 30 4 * * 1" and s.drill_plan == '{"drills": []}'
    assert s.max_transient_retries == 3
    assert s.target_allowed("https://A.BLOB.core.windows.net/x-1/")
    assert not s.target_allowed("https://b.blob.core.windows.net/x-1")
    assert not s.target_allowed("not a url")


def test_restore_timeout_plain_seconds() -> None:
    """RESTORE_TIMEOUT also takes seconds."""
    assert Settings.from_env({"RESTORE_TIMEOUT": "3600"}).restore_timeout == timedelta(hours=1)


def test_blank_values_are_unset() -> None:
    """Blank app settings (common in the portal) mean 'use the default'."""
    assert Settings.from_env({"ARM_ENDPOINT": "  ", "AZURE_CLIENT_ID": ""}) == Settings()


def test_all_bad_settings_reported_at_once() -> None:
    """One ConfigurationError names every bad setting, each with a reason."""
    env = {
        "ARM_ENDPOINT": "http://management.azure.com",
        "DATAPROTECTION_API_VERSION": "2020-01-01",
        "AZURE_CLIENT_ID": "not-a-guid",
        "RESTORE_TARGET_ALLOWLIST": "https://a.blob.core.windows.net/c?sig=x",
        "RESTORE_TIMEOUT": "P0D",
        "POLL_MIN_SECONDS": "-1",
        "POLL_MAX_SECONDS": "abc",
        "POLL_DEFAULT_SECONDS": "inf",
        "HTTP_CONNECT_TIMEOUT_SECONDS": "0",
        "RESTORE_REQUESTS_QUEUE": "Bad_Queue",
        "RESTORE_VAULTS": "/subscriptions/s",
        "ALERT_RESTORE_TARGET": "https://example.com/c",
        "DRILL_SCHEDULE": "0 3 * *",  # 4 fields: neither NCRONTAB form
        "MAX_TRANSIENT_RETRIES": "-2",
        "ARM_BUDGET": "reads=200",
    }
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    err = info.value
    assert set(err.settings) == set(env)
    assert "plain http is allowed only for loopback" in err.problems["ARM_ENDPOINT"]
    assert "SAS" in err.problems["RESTORE_TARGET_ALLOWLIST"]
    assert err.setting == "ARM_ENDPOINT"


@pytest.mark.parametrize(
    ("name", "value"),
    [("ARM_ENDPOINT", "management.azure.com"), ("ARM_ENDPOINT", "https://x:99999"),
     ("ARM_ENDPOINT", "https://management.azure.com/?x=1"), ("MAX_TRANSIENT_RETRIES", "two"),
     ("HTTP_READ_TIMEOUT_SECONDS", "-3"), ("ARM_BUDGET", "deletes=1/1"), ("ARM_BUDGET", "reads=0/5"),
     ("ARM_BUDGET", "reads=10/0")],
)
def test_single_bad_setting(name: str, value: str) -> None:
    """Each bad value is reported under its own name."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({name: value})
    assert info.value.setting == name


def test_arm_budget_defaults_and_off() -> None:
    """Pacing is on by default, below ARM's documented buckets; "off" turns it off."""
    assert Settings.from_env({}).arm_budget == (Bucket(200, 22.5), Bucket(160, 9))
    assert Settings.from_env({"ARM_BUDGET": "OFF"}).arm_budget is None


def test_poll_bounds_cross_check() -> None:
    """POLL_DEFAULT_SECONDS must lie within the bounds."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({"POLL_MIN_SECONDS": "50", "POLL_DEFAULT_SECONDS": "10"})
    assert info.value.setting == "POLL_DEFAULT_SECONDS"


def test_get_settings_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """get_settings reads os.environ once; reset_settings_cache forgets it."""
    reset_settings_cache()
    monkeypatch.setenv("DATAPROTECTION_API_VERSION", "2021-07-01")
    first = get_settings()
    monkeypatch.setenv("DATAPROTECTION_API_VERSION", "2026-06-01")
    assert get_settings() is first and first.api_version == "2021-07-01"
    reset_settings_cache()
    assert get_settings().api_version == "2026-06-01"
    reset_settings_cache()


def test_drill_schedule_takes_both_ncrontab_forms_and_refuses_invalid_fields() -> None:
    assert Settings.from_env({"DRILL_SCHEDULE": "30 2 * * 1-5"}).drill_schedule == "30 2 * * 1-5"
    assert Settings.from_env({"DRILL_SCHEDULE": "0 30 2 * * *"}).drill_schedule == "0 30 2 * * *"
    with pytest.raises(ConfigurationError, match="not a valid NCRONTAB expression"):
        Settings.from_env({"DRILL_SCHEDULE": "0 61 2 * * *"})
