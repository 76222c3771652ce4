"""Opt-in: memoize the SDK's history-timestamp parser.

Every episode replays the whole history, and the SDK parses every event's Timestamp with dateutil, which is most
of an episode's CPU time. The parse is a pure function of the string and datetimes are immutable, so caching it
changes no behaviour, only speed. Off by default: benchmarks of orchestrator CPU should see the real cost.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

_MODULE = "azure.durable_functions.models.history.HistoryEvent"
_lock = threading.Lock()
_users = 0
_original: Callable[..., Any] | None = None


def enable() -> None:
    """Install the memoized parser (reference-counted across hosts)."""
    global _users, _original  # noqa: PLW0603 - one process-wide patch, counted across hosts
    import azure.durable_functions  # noqa: F401 - loads the module patched below

    module: Any = sys.modules[_MODULE]
    with _lock:
        if _users == 0:
            _original = module.dt_parse
            module.dt_parse = functools.lru_cache(maxsize=1 << 16)(_original)
        _users += 1


def disable() -> None:
    """Remove it when the last host that asked for it stops."""
    global _users  # noqa: PLW0603 - see enable()
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0 and _original is not None:
            module: Any = sys.modules[_MODULE]
            module.dt_parse = _original
