"""Timer triggers: NCRONTAB (6 fields, seconds first) or TimeSpan schedules, on the host's clock."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter
from croniter import croniter

from devhost.bindings import Bindings
from devhost.clock import api_timestamp
from devhost.errors import IndexingError
from devhost.indexer import FunctionInfo, parse_timespan, resolve_setting

log = logging.getLogger("devhost")
PAST_DUE_TOLERANCE = timedelta(seconds=1)


class Schedule:
    """Next occurrences of an NCRONTAB expression ('{s} {m} {h} {dom} {mon} {dow}') or a TimeSpan interval."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.interval: timedelta | None = None
        fields = text.split()
        if re.fullmatch(r"(\d+\.)?\d+:\d+:\d+", text.strip()):
            self.interval = timedelta(seconds=parse_timespan(text))
        elif len(fields) not in (5, 6) or not croniter.is_valid(" ".join(fields[1:] + fields[:1])
                                                                if len(fields) == 6 else text):
            raise IndexingError(f"timer schedule {text!r} is not a valid NCRONTAB expression "
                                "(6 fields: second minute hour day month day-of-week)")
        self.fields = fields

    def next_after(self, when: datetime) -> datetime:
        if self.interval is not None:
            return when + self.interval
        expr = " ".join(self.fields[1:] + self.fields[:1]) if len(self.fields) == 6 else self.text
        nxt: datetime = croniter(expr, when).get_next(datetime)
        return nxt


@dataclass
class TimerEntry:
    info: FunctionInfo
    schedule: Schedule
    next_due: datetime
    last: datetime | None = None


class TimerTriggers:
    """Arms every timer function at start; fires the due ones when the worker asks."""

    def __init__(self, functions: dict[str, FunctionInfo], bindings: Bindings) -> None:
        self.functions = {n: f for n, f in functions.items() if f.trigger_type == "timerTrigger"}
        self.bindings = bindings
        self.entries: dict[str, TimerEntry] = {}

    def arm(self, now: datetime) -> None:
        """Resolve %Setting% schedules (failing like the host when one is unset) and compute first occurrences."""
        for name, info in self.functions.items():
            text = resolve_setting(str(info.trigger.get("schedule", "")), what=f"timer function {name} schedule")
            schedule = Schedule(text)
            self.entries[name] = TimerEntry(info, schedule, schedule.next_after(now))

    def startup_functions(self) -> list[str]:
        return [n for n, f in self.functions.items() if f.trigger.get("runOnStartup")]

    def next_due(self) -> datetime | None:
        return min((e.next_due for e in self.entries.values()), default=None)

    def due(self, now: datetime) -> list[str]:
        return sorted((n for n, e in self.entries.items() if e.next_due <= now),
                      key=lambda n: (self.entries[n].next_due, n))

    def fire(self, name: str, now: datetime, scheduled: bool = True) -> None:
        """Invoke one timer function; a scheduled firing advances its schedule past `now`."""
        entry = self.entries[name]
        past_due = scheduled and now - entry.next_due > PAST_DUE_TOLERANCE
        following = entry.schedule.next_after(now)
        # As the real scheduler reports it: Next is the occurrence this invocation was scheduled for (the value the
        # scheduler waited on), not the one after it; Last is the previous occurrence.
        payload = {"Schedule": {"AdjustForDST": True}, "IsPastDue": past_due, "ScheduleStatus": {
            "Last": api_timestamp(entry.last or now), "Next": api_timestamp(entry.next_due),
            "LastUpdated": api_timestamp(now)}}
        request = TimerRequestConverter.decode(meta.Datum(type="json", value=json.dumps(payload)),
                                               trigger_metadata=None)
        if scheduled:
            entry.next_due, entry.last = following, now
        try:
            self.bindings.invoke(entry.info, request)
        except Exception:
            log.exception("timer function %s failed", name)
