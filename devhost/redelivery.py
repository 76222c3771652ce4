"""At-least-once activities: when the host loses an activity's outcome and runs the activity again.

On Azure an activity whose result was not yet recorded runs again after its worker is recycled (Flex Consumption
scale-in, a deployment, a crash). Two moments matter to the activity's code: the worker dies while the activity is
being delivered, before the function ran (`before`), or after it ran, with its outcome lost (`after`). devhost can
re-deliver at either, for chosen activities or at seeded-random points, so a suite can prove that running an
activity twice never does its outside effect twice.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

POINTS = ("before", "after")


@dataclass(frozen=True)
class Redelivery:
    """Which deliveries of which activities are lost; `times` bounds the re-deliveries of one scheduled task."""

    point: str = "after"
    activities: frozenset[str] | None = None  # None: every activity
    probability: float = 1.0
    seed: int = 0
    times: int = 1

    def __post_init__(self) -> None:
        if self.point not in POINTS:
            raise ValueError(f"redelivery point must be one of {', '.join(POINTS)}, not {self.point!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"redelivery probability must be between 0 and 1, not {self.probability}")

    def loses(self, point: str, name: str, instance_id: str, task_id: int, delivery: int) -> bool:
        """Whether delivery number `delivery` (0 first) of this task is lost at `point`.

        The random draw depends only on the seed and the task, not on the order tasks run in, so a run with
        concurrent activities loses the same deliveries as a sequential one.
        """
        if point != self.point or delivery >= self.times:
            return False
        if self.activities is not None and name not in self.activities:
            return False
        if self.probability >= 1.0:
            return True
        draw = random.Random(f"{self.seed}|{instance_id}|{task_id}|{delivery}").random()  # noqa: S311 - a seeded test schedule
        return draw < self.probability

    @staticmethod
    def from_env(text: str | None = None) -> Redelivery | None:
        """DEVHOST_REDELIVERY: `point[:probability[:seed]]`, e.g. `after:0.3:7`; unset or empty: none."""
        text = os.environ.get("DEVHOST_REDELIVERY", "") if text is None else text
        if not text.strip():
            return None
        parts = text.strip().split(":")
        try:
            probability = float(parts[1]) if len(parts) > 1 else 1.0
            seed = int(parts[2]) if len(parts) > 2 else 0
        except ValueError as exc:
            raise ValueError(f"DEVHOST_REDELIVERY must be point[:probability[:seed]], not {text!r}") from exc
        return Redelivery(point=parts[0], probability=probability, seed=seed)
