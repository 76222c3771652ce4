"""Fixtures shared by every test layer: the real Azurite storage emulator, a real PostgreSQL server, and a clean
environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import clients
from devhost.azurite import Azurite, start_azurite
from devhost.postgres import Postgres, start_postgres
from pgflex_restore.settings import SETTING_NAMES, reset_settings_cache

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_ROOT = REPO_ROOT / "emulator" / "api"
API_VERSIONS = ("2021-07-01", "2026-06-01")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite per test session, in memory, on ports it picks; tests use their own containers/queues."""
    server = start_azurite()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL cluster per test session (Debian's postgresql), shaped like a flexible server;
    tests use their own database names."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def spec_root() -> Path:
    """The repository's copy of the official API description, which the app and the emulator must agree with."""
    if not SPEC_ROOT.is_dir():
        pytest.fail(f"the API description is missing: expected {SPEC_ROOT} (scripts/derive_api_description.py)")
    return SPEC_ROOT


@pytest.fixture(autouse=True)
def clean_environment() -> Iterator[None]:
    """Each test starts without the app's settings in the environment (a developer's shell may hold some), with no
    cached Settings or clients, and leaves the environment as it found it.

    DEVHOST_* variables stay: they choose how devhost runs the whole suite (make test's concurrent and
    re-delivery runs)."""
    saved = dict(os.environ)
    for name in (*SETTING_NAMES, "AzureWebJobsStorage", "TASKHUB_NAME"):
        os.environ.pop(name, None)
    reset_settings_cache()
    clients.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings_cache()
        clients.reset()
