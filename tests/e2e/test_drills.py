"""Restore drills end to end: devhost + emulator + Azurite on the virtual clock, real sockets throughout."""

from __future__ import annotations

from devhost.azurite import Azurite
from tests.e2e.drill_stack import drill_stack
from tests.e2e.stack import backup_instance


def test_smoke(azurite: Azurite) -> None:
    """One instance passes."""
    with drill_stack(azurite, {"pg1": backup_instance()}) as drills:
        summary = drills.run(drills.plan())
        print(summary)
        assert summary["passed"] == 1, summary
