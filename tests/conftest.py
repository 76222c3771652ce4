"""Fixtures shared by every test layer: the real Azurite storage emulator, and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import Azurite, start_azurite

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_ROOT = REPO_ROOT.parent / "shared" / "azure-spec"
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
def spec_root() -> Path:
    """../shared/azure-spec, the official API description the app and the emulator must agree with."""
    if not SPEC_ROOT.is_dir():
        pytest.fail(f"the official API description is missing: expected {SPEC_ROOT} beside the repository")
    return SPEC_ROOT
