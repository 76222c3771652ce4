"""Fixtures for devhost tests: the sample app on a virtual clock, started and stopped per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost import DevHost, VirtualClock

# The test apps (sample_app, timer_app, b64_app, rejected_apps) are imported as top-level modules, the way the
# worker imports an app from its own folder; test helpers are imported as tests.devhost.<module>.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.devhost.devhost_testing import SAMPLE_ENV, START


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def host(clock: VirtualClock) -> Iterator[DevHost]:
    """The sample app without storage: orchestrations, HTTP and timers only."""
    with DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV, determinism_checks=True) as running:
        yield running
