"""Fixtures for the emulator tests: a started server on a virtual clock and a raw ARM client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator import EmulatorServer, VirtualClock
from tests.emulator.emusupport import START, Arm, scenario


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def server(clock: VirtualClock) -> Iterator[EmulatorServer]:
    with EmulatorServer(scenario(), clock=clock) as running:
        yield running


@pytest.fixture
def arm(server: EmulatorServer) -> Arm:
    return Arm(server)

