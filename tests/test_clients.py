"""The rows on every ARM call's path, in the Functions storage account (real Azurite): the restore attempt
marker and the shared ARM budget."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

import clients
from devhost.azurite import Azurite
from pgflex_restore.pacing import Bucket
from pgflex_restore.storage import CONNECTION

pytestmark = pytest.mark.azurite


def test_the_first_run_records_the_attempt_and_a_rerun_finds_it(azurite: Azurite) -> None:
    os.environ[CONNECTION] = azurite.connection_string
    key = uuid.uuid4().hex
    assert clients.attempt_seen(key) is False
    assert clients.attempt_seen(key) is True
    assert clients.attempt_seen(uuid.uuid4().hex) is False


def test_without_a_storage_account_nothing_is_known() -> None:
    assert CONNECTION not in os.environ  # the autouse fixture cleared it
    assert clients.attempt_seen("any") is None


def test_an_unreachable_storage_account_is_unknown_not_a_failure() -> None:
    os.environ[CONNECTION] = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
                              "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;")
    assert clients.attempt_seen("any") is None
    budget = (Bucket(1, 1), Bucket(1, 1))
    assert clients.take_arm_token("GET", f"{ARM}/subscriptions/s1/x", NOW, budget) == 0.0  # the call goes


ARM = "https://management.azure.com"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_arm_budget_is_shared_by_concurrent_takers(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty threads at one instant against a burst of 8: exactly 8 calls go, the other 12 each get their own
    slot, one refill interval apart, and later callers queue behind them. Reads and writes, and subscriptions,
    apart."""
    os.environ[CONNECTION] = azurite.connection_string
    monkeypatch.setenv("TASKHUB_NAME", f"hub{uuid.uuid4().hex[:8]}")
    budget = (Bucket(8, 2), Bucket(3, 1))
    url = f"{ARM}/subscriptions/S1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v"

    def take(method: str, at: datetime, where: str = url) -> float:
        return clients.take_arm_token(method, where, at, budget)

    with ThreadPoolExecutor(max_workers=20) as pool:
        waits = list(pool.map(lambda _: take("GET", NOW), range(20)))
    assert sorted(waits) == pytest.approx([0.0] * 8 + [0.5 * k for k in range(1, 13)])
    # A second later the queue reaches 6.5 s past NOW: the next slot is 5.5 s away (the burst's 3.5 s allowed).
    assert take("GET", NOW + timedelta(seconds=1)) == pytest.approx(5.5)
    assert [take("POST", NOW) for _ in range(4)] == pytest.approx([0, 0, 0, 1.0])  # writes: their own bucket
    assert take("GET", NOW, url.replace("S1", "S2")) == 0  # another subscription: its own bucket
    assert take("GET", NOW, f"{ARM}/providers/Microsoft.DataProtection/operations") == 0  # no subscription


def test_one_start_claim_wins_and_a_stale_one_is_taken_over_once(azurite: Azurite,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """20 concurrent claims of one instance id: one winner. A claim whose start never happened is taken over
    after STALE_CLAIM, by one caller only; a fresh claim never is."""
    os.environ[CONNECTION] = azurite.connection_string
    monkeypatch.setenv("TASKHUB_NAME", f"hub{uuid.uuid4().hex[:8]}")
    with ThreadPoolExecutor(20) as pool:
        wins = list(pool.map(lambda _: clients.claim_start("restore-burst"), range(20)))
    assert wins.count(True) == 1 and wins.count(False) == 19
    assert clients.take_stale_claim("restore-burst") is False  # fresh: its start may be under way
    table = clients._hot_table(clients.STARTS_TABLE)
    old = datetime.now(UTC) - clients.STALE_CLAIM - timedelta(seconds=1)
    entity, etag = table.get(os.environ["TASKHUB_NAME"], "restore-burst") or ({}, "")
    table.replace({**entity, "claimedAt": old.isoformat()}, etag)
    with ThreadPoolExecutor(10) as pool:
        takeovers = list(pool.map(lambda _: clients.take_stale_claim("restore-burst"), range(10)))
    assert takeovers.count(True) == 1
    assert clients.take_stale_claim("restore-never-claimed") is False


def test_without_a_storage_account_a_start_claim_is_unknown() -> None:
    assert clients.claim_start("restore-x") is None


def test_a_released_claim_is_taken_over_by_the_next_start_at_once(azurite: Azurite,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A start that failed before its instance existed releases its claim: the retry starts the restore instead
    of answering with one that will never run."""
    os.environ[CONNECTION] = azurite.connection_string
    monkeypatch.setenv("TASKHUB_NAME", f"hub{uuid.uuid4().hex[:8]}")
    assert clients.claim_start("restore-retry") is True
    assert clients.claim_start("restore-retry") is False and clients.take_stale_claim("restore-retry") is False
    clients.release_claim("restore-retry")
    assert clients.take_stale_claim("restore-retry") is True
    assert clients.take_stale_claim("restore-retry") is False  # taken over once, and fresh again


def test_a_start_that_fails_before_its_instance_exists_lets_the_retry_start_it(
        azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The durable client (the Functions host's, which cannot run here) fails the first start_new: the caller's
    retry starts the instance instead of answering 'exists, Pending' for a restore that never runs."""
    import asyncio

    from triggers._start import start_instance_once

    os.environ[CONNECTION] = azurite.connection_string
    monkeypatch.setenv("TASKHUB_NAME", f"hub{uuid.uuid4().hex[:8]}")

    class HostClient:
        def __init__(self) -> None:
            self.started: list[str] = []
            self.failures = 1

        async def get_status(self, instance_id: str) -> None:
            return None

        async def start_new(self, name: str, instance_id: str, payload: dict[str, object]) -> str:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("the task hub's storage did not answer")
            self.started.append(instance_id)
            return instance_id

    host = HostClient()
    with pytest.raises(ConnectionError):
        asyncio.run(start_instance_once(host, "restore_orchestrator", "restore-flaky", {}))  # type: ignore[arg-type]
    retried = asyncio.run(start_instance_once(host, "restore_orchestrator", "restore-flaky", {}))  # type: ignore[arg-type]
    assert retried.created and host.started == ["restore-flaky"]
