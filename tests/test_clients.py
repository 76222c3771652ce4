"""clients.attempt_seen: the restore attempt marker in the Functions storage account (real Azurite)."""

from __future__ import annotations

import os
import uuid

import pytest

import clients
from devhost.azurite import Azurite
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
