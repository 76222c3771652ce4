"""Drills started by the timer: one run per occurrence, old drill files cleaned up and the cleanup recorded,
results over HTTP, and the dashboard rendered by a real headless Chromium (with earlier runs carrying issue 16's
record fields, written through the app's own record functions, and a hand-edited row of odd types)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from activities.drill_results import record_result, record_run
from devhost.azurite import Azurite
from orchestrations.drill import DRILL_RUN_ORCHESTRATION
from pgflex_restore.settings import reset_settings_cache
from tests.e2e.drill_stack import DrillStack, drill_stack
from tests.e2e.stack import backup_instance, server_id

CHROMIUM = Path("/usr/bin/chromium")
OLD_RUN, RECENT_RUN = "drill-20261020T030000Z", "drill-20261029T030000Z"  # 12 and 3 days before the clock


def seed_old_files(drills: DrillStack) -> None:
    container = BlobServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
        .get_container_client(drills.stack.container)
    for name in (f"drills/{OLD_RUN}/pg1/pg1_appdb.sql", f"drills/{OLD_RUN}/pg1/pg1_roles.sql",
                 f"drills/{RECENT_RUN}/pg1/pg1_appdb.sql", "drills/not-a-run/keep.sql", "elsewhere/keep.sql"):
        container.upload_blob(name, b"x" * 10)


def chromium(*args: str) -> str:
    """Run headless Chromium once with a throwaway profile; its stdout."""
    if not CHROMIUM.exists():
        pytest.fail("headless Chromium is missing: /usr/bin/chromium not found; install Debian's package with "
                    "`apt-get update && apt-get install -y chromium` (.ci/run must do this before `make test`)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=60, check=False, env={**os.environ, "HOME": profile},
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_colours(png: bytes) -> Counter[tuple[int, int, int]]:
    """Pixel counts per RGB colour of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, data, header = 8, b"", b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        header, data = (chunk, data) if kind == b"IHDR" else (header, data + chunk if kind == b"IDAT" else data)
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    size = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(data), width * size
    previous, counts = bytearray(stride), Counter[tuple[int, int, int]]()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b = line[i - size] if i >= size else 0, previous[i]
            c = previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        counts.update(zip(line[0::size], line[1::size], line[2::size], strict=True))
        previous = line
    return counts


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def drill_record(like: dict[str, Any], run: str, day: int, *, load: float, orders: int,
                 **extra: Any) -> dict[str, Any]:
    """An instance record as the issue-16 drill records it (contract C), for the server ``like`` names."""
    started = f"2026-10-{day}T03:00:00Z"
    phases = {"select": 4.0, "validate": 30.0, "restoreJob": 540.0, "load": load, "checks": 45.0}
    total = sum(phases.values())
    return {
        **{k: like[k] for k in ("backupInstance", "instanceName", "vault", "server")},
        "runId": run, "status": "passed", "reason": None, "message": "restored, loaded and checked",
        "startedAt": started, "finishedAt": f"2026-10-{day}T03:30:00Z",
        "recoveryPoint": {"id": f"rp-{day}", "time": f"2026-10-{day}T01:00:00Z"}, "pointAgeSeconds": 7200.0,
        "restoreDurationSeconds": 574.0, "databases": {"appdb": {"format": "custom"}},
        "phases": {**phases, "total": total},
        "rto": {"seconds": total, "target": 1800.0, "breached": total > 1800},
        "rpo": {"ageSeconds": 7200.0, "target": 86400.0, "breached": False},
        "checks": [{"name": "files", "outcome": "passed", "message": "2 files"},
                   {"name": "rowCounts", "outcome": "passed", "message": "no table lost rows"}],
        "tables": [{"database": "appdb", "schema": "public", "name": "order_items", "rows": orders * 3},
                   {"database": "appdb", "schema": "public", "name": "orders", "rows": orders},
                   {"database": "appdb", "schema": "public", "name": "customers", "rows": orders // 12}],
        "files": [{"name": "appdb.dump", "size": 4096, "sha256": "ab" * 32}],
        **extra,
    }


def write_history(drills: DrillStack, instances: list[dict[str, Any]]) -> None:
    """Two earlier runs with issue 16's fields, recorded by the app's own record functions (a third server's
    latest drill failed its row-count check), and an older run whose rows were edited into odd types."""
    pg3 = {**instances[0], "backupInstance": instances[0]["backupInstance"] + "-pg3", "instanceName": "pg3-bi",
           "server": "pg3"}
    for run, day, load, orders in (("drill-20261030T030000Z", 30, 420.0, 120_000),
                                   ("drill-20261031T030000Z", 31, 510.0, 131_000)):
        for like in [*instances, pg3]:
            extra: dict[str, Any] = {}
            if like is pg3 and day == 31:
                extra = {"status": "failed", "reason": "check-failed",
                         "message": "check rowCounts failed: appdb.public.orders went empty; restore it by hand",
                         "checks": [{"name": "rowCounts", "outcome": "failed",
                                     "message": "appdb.public.orders: 120000 -> 0 rows (went empty)"}]}
            record_result({"record": drill_record(like, run, day, load=load, orders=orders, **extra)})
        record_run({"summary": {"runId": run, "kind": "summary", "status": "failed" if day == 31 else "passed",
                                "startedAt": f"2026-10-{day}T03:00:00Z", "finishedAt": f"2026-10-{day}T03:31:00Z",
                                "total": 3, "passed": 3 - (day == 31), "failed": int(day == 31), "skipped": 0,
                                "cleanup": {"deletedFiles": 0}}})
    table = TableServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
        .get_table_client(drills.table)
    odd = "drill-20261029T030000Z"
    table.upsert_entity({"PartitionKey": odd, "RowKey": "summary", "kind": "summary",
                         "record": json.dumps({"runId": odd, "status": "passed", "passed": "many",
                                               "cleanup": "none", "evidence": 5})})
    table.upsert_entity({"PartitionKey": odd, "RowKey": "instance:odd:pg1", "kind": "instance",
                         "record": json.dumps({**{k: instances[0][k] for k in ("backupInstance", "server")},
                                               "runId": odd, "status": ["passed"], "startedAt": 20261029,
                                               "databases": 5, "phases": "fast", "tables": "many",
                                               "checks": {"rowCounts": "failed"}, "rto": [1]})})


def test_timer_runs_once_cleans_up_and_results_show_in_api_and_dashboard(
        azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An invalid plan is alerted and starts nothing; two firings of the timer start one run; files of runs older
    than the retention (and only those) are deleted and the deletion recorded; the results API and the
    Chromium-rendered dashboard show the run."""
    instances = {"pg1": backup_instance(), "pg2": backup_instance(serverId=server_id("pg2"),
                                                                   failures={"corruptDump": {"appdb": "truncated"}})}
    with drill_stack(azurite, instances) as drills:
        stack = drills.stack
        seed_old_files(drills)
        # An invalid plan starts nothing and is itself alerted.
        monkeypatch.setenv("DRILL_PLAN", json.dumps(drills.plan(concurrency=0)))
        reset_settings_cache()
        stack.host.run_timer_function("drill_timer")
        assert not [i for i in stack.host.instances() if i.name == DRILL_RUN_ORCHESTRATION]
        assert [(a["reason"], "concurrency" in a["message"]) for a in drills.alerts()] == [("invalid-plan", True)]
        plan_alert = drills.alerts()[0]  # the same format as every drill alert: consumers dedupe on alertId
        assert plan_alert["alertId"] and plan_alert["occurredAt"] and plan_alert["details"].startswith("/api/drills/")

        monkeypatch.setenv("DRILL_PLAN", json.dumps(drills.plan(retention="P7D")))
        reset_settings_cache()
        stack.host.run_timer_function("drill_timer")
        stack.host.run_timer_function("drill_timer")
        runs = [i for i in stack.host.instances() if i.name == DRILL_RUN_ORCHESTRATION]
        assert len(runs) == 1, [r.instance_id for r in runs]
        run_id = runs[0].instance_id
        assert run_id.startswith("drill-2026110")
        summary = stack.host.wait_for(run_id, timeout=30).output
        assert (summary["passed"], summary["failed"]) == (1, 1), summary

        # Retention: only the old run's files went, and the run recorded it.
        left = stack.blobs()
        assert not any(name.startswith(f"drills/{OLD_RUN}/") for name in left)
        kept = {f"drills/{RECENT_RUN}/pg1/pg1_appdb.sql", "drills/not-a-run/keep.sql", "elsewhere/keep.sql"}
        assert kept <= set(left)
        assert summary["cleanup"]["deletedFiles"] == 2 and summary["cleanup"]["deletedRuns"] == [OLD_RUN]
        assert drills.rows(run_id)["cleanup"]["deletedRuns"] == [OLD_RUN]

        # The results API.
        listed = requests.get(f"{stack.api}/drills", headers=stack.key, timeout=30)
        assert listed.status_code == 200 and listed.json()["runs"][0]["runId"] == run_id
        one = requests.get(f"{stack.api}/drills/{run_id}", headers=stack.key, timeout=30).json()
        assert one["runtimeStatus"] == "Completed" and one["summary"]["failed"] == 1
        assert {i["server"]: i["reason"] for i in one["instances"]} == {"pg1": None, "pg2": "dump-truncated"}
        assert one["cleanup"]["deletedFiles"] == 2
        assert requests.get(f"{stack.api}/drills/drill-nope", headers=stack.key, timeout=30).status_code == 404
        assert requests.get(f"{stack.api}/drills", timeout=30).status_code == 401

        # The dashboard, rendered by a real browser, over this run, two earlier runs with issue 16's fields and
        # a hand-edited run of odd types (which used to answer 500).
        write_history(drills, sorted(one["instances"], key=lambda i: str(i["server"])))
        page = requests.get(f"{stack.api}/drills/dashboard", headers=stack.key, timeout=30)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), page.text[:500]
        url = f"{stack.api}/drills/dashboard?code={stack.host.function_key}"
        dom = chromium("--dump-dom", url)
        assert "<h1>Restore drills</h1>" in dom
        assert "2 of 3 servers failed their latest drill" in dom
        assert run_id in dom and "dump-truncated" in dom
        assert ">rowCounts: appdb.public.orders: 120000 -&gt; 0 rows (went empty)</td>" in dom  # the failing check
        assert dom.count('<circle class="dot') == 16  # (2 + 6 drills with a point) x (point age, restore duration)
        assert 'id="age-chart"' in dom and 'id="duration-chart"' in dom
        assert dom.count('class="rto-chart"') == 3 and dom.count('class="rows-chart"') == 3
        assert dom.count('class="phase phase-load"') == 6  # two runs x three servers; this run has no phases
        assert dom.count('class="rto-target') == 6 and dom.count('class="table-trend"') == 9
        assert "appdb.public.order_items" in dom and "2.0 h (target 24.0 h)" in dom
        stored = drills.rows("drill-20261031T030000Z")["summary"]["evidence"]["hash"]
        assert stored[:16] in dom  # the runs table shows each run's evidence hash
        shot = tmp_path / "dashboard.png"
        chromium(f"--screenshot={shot}", "--window-size=1200,1800", url)
        png = shot.read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 20_000  # tables, text and charts painted, not a blank page
        colours = png_colours(png)
        # Painted, not just in the DOM: the validate and load phases' bars, the largest table's trend line and
        # the RTO target ticks each cover pixels of their own colour.
        for colour, least in (("#bf8700", 150), ("#1a7f37", 1000), ("#953800", 150), ("#b42318", 100)):
            assert colours[rgb(colour)] >= least, (colour, colours[rgb(colour)])
