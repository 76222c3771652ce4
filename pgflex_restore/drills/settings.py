"""The drill settings DESIGN.md's Settings does not carry yet: where results and alerts go.

``DRILL_RESULTS_TABLE`` (default ``restoredrills``) and ``DRILL_ALERTS_QUEUE`` (default ``restore-drill-alerts``),
read once and validated like the other settings, so a bad name fails at the first drill with the setting named.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pgflex_restore.errors import ConfigurationError

_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_QUEUE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")


@dataclass(frozen=True)
class DrillSettings:
    results_table: str = "restoredrills"
    alerts_queue: str = "restore-drill-alerts"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DrillSettings:
        """Validate; raise ConfigurationError naming every bad setting."""
        table = (env.get("DRILL_RESULTS_TABLE") or "").strip() or cls.results_table
        queue = (env.get("DRILL_ALERTS_QUEUE") or "").strip() or cls.alerts_queue
        problems: dict[str, str] = {}
        if not _TABLE.match(table):
            problems["DRILL_RESULTS_TABLE"] = f"{table!r} is not a table name (3-63 letters and digits, a letter first)"
        if not _QUEUE.match(queue):
            problems["DRILL_ALERTS_QUEUE"] = f"{queue!r} is not a queue name (3-63 lower-case letters, digits, hyphens)"
        if problems:
            raise ConfigurationError(problems)
        return cls(table, queue)


_cached: DrillSettings | None = None


def get_drill_settings() -> DrillSettings:
    """The process-wide DrillSettings, read from ``os.environ`` on first use."""
    global _cached  # noqa: PLW0603 - one cache per process, like get_settings
    if _cached is None:
        _cached = DrillSettings.from_env(os.environ)
    return _cached


def reset_drill_settings_cache() -> None:
    """Forget the cached DrillSettings (tests change the environment)."""
    global _cached  # noqa: PLW0603
    _cached = None
