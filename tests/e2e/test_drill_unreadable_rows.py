"""Drill rows the app cannot read (issue 17 item 6): malformed rows written into the real results table (Azurite)
beside a real drill run. The dashboard answers 200 and lists each as unreadable with its key and what is wrong,
escaped and bounded; the JSON routes that read rows through records.py answer 200 with the same stand-ins.
"""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient

from devhost.azurite import Azurite
from pgflex_restore.table_rest import TableEndpoint, TableRest
from tests.e2e.drill_stack import DrillStack, drill_stack
from tests.e2e.stack import backup_instance

pytestmark = pytest.mark.one_mode

QUICK = {"validateSeconds": 2, "validateRetryAfter": 5, "restoreSeconds": 2, "restoreRetryAfter": 5,
         "jobSeconds": 90}
ODD, DEEP, TYPED = "drill-20261031T030000Z", "drill-20261030T030000Z", "drill-20261029T030000Z"
LONG_KEY = "instance:v:" + "k" * 240


def good(run: str, name: str, **extra: Any) -> str:
    return json.dumps({"runId": run, "backupInstance": f"/bi/{name}", "instanceName": name, "server": name,
                       "status": "passed", "startedAt": "2026-10-31T03:00:00Z", **extra})


# RowKey -> (columns of the row, what the dashboard must say is wrong; None: the row reads, odd values and all)
ODD_ROWS: dict[str, tuple[dict[str, Any], str | None]] = {
    "summary": ({"kind": "summary", "record": "not json {" + "x" * 5000}, "the record column is not JSON"),
    "instance:v:number-status": ({"kind": "instance", "record": good(ODD, "n", status=5)},
                                 "its status is a number 5, expected passed or failed or skipped"),
    "instance:v:number-name": ({"kind": "instance", "record": good(ODD, "x", backupInstance=7, instanceName=None)},
                               "its backupInstance and instanceName are a number 7 and missing"),
    "instance:v:no-columns": ({"server": "pg-bare"}, "no record column, and the row's own status is missing"),
    "instance:v:array": ({"kind": "instance", "record": "[1, 2]"}, "the record column holds a list in JSON"),
    "instance:v:record-number": ({"kind": "instance", "record": 12}, "the record column holds a number 12"),
    "instance:v:script": ({"kind": "instance", "record": good(ODD, "s", status="<script>alert(1)</script>")},
                          "its status is text '<script>alert(1)</script>'"),
    LONG_KEY: ({"kind": "instance", "record": good(ODD, "l", runId=["drill"])}, "its runId is a list"),
    "instance:v:odd-figures": ({"kind": "instance", "record": good(ODD, "pg-odd", pointAgeSeconds="old",
                                                                   phases="fast", startedAt=20261031)}, None),
}


def write_rows(drills: DrillStack) -> None:
    """The odd run's rows through the Tables SDK; a record nested thousands deep and figures beyond any float in
    a run of their own (the evidence leaves out what it cannot read); and, in a
    third, columns whose declared OData type their value does not match (which the SDK cannot decode), written
    as plain HTTP because the SDK would never write them."""
    table = TableServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
        .get_table_client(drills.table)
    for key, (columns, _) in ODD_ROWS.items():
        table.upsert_entity({"PartitionKey": ODD, "RowKey": key, **columns})
    table.upsert_entity({"PartitionKey": DEEP, "RowKey": "summary", "kind": "summary",
                         "record": json.dumps({"runId": DEEP, "status": "passed", "total": 1})})
    table.upsert_entity({"PartitionKey": DEEP, "RowKey": "instance:v:deep", "kind": "instance",
                         "record": "[" * 5000 + "]" * 5000})
    table.upsert_entity({"PartitionKey": DEEP, "RowKey": "instance:v:huge", "kind": "instance",
                         "record": good(DEEP, "pg-huge", pointAgeSeconds=10**400, phases={"load": 10**400})})
    table.upsert_entity({"PartitionKey": TYPED, "RowKey": "summary", "kind": "summary",
                         "record": json.dumps({"runId": TYPED, "status": "failed", "total": 2})})
    rest = TableRest(TableEndpoint.from_env({"AzureWebJobsStorage": drills.stack.azurite.connection_string}),
                     drills.table)
    rest.insert({"PartitionKey": TYPED, "RowKey": "instance:v:typed-column", "kind": "instance",
                 "totalBytes@odata.type": "Edm.Int64", "totalBytes": "lots", "record": good(TYPED, "pg-typed")})
    rest.insert({"PartitionKey": TYPED, "RowKey": "instance:v:typed-status", "kind": "instance",
                 "status@odata.type": "Edm.DateTime", "status": "yesterday"})


def get(drills: DrillStack, path: str) -> requests.Response:
    return requests.get(f"{drills.stack.api}/{path}", headers=drills.stack.key, timeout=30)


def test_malformed_rows_show_as_unreadable_and_answer_no_500(azurite: Azurite) -> None:
    with drill_stack(azurite, {"pg1": backup_instance(timings=QUICK)}) as drills:
        real = drills.run(drills.plan())
        write_rows(drills)

        page = get(drills, "drills/dashboard")
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), page.text[:500]
        html = page.text
        assert "<script" not in html
        # The real run still shows: its server's latest drill, and the run itself.
        assert real["runId"] in html and ">pg1</td>" in html
        # The rows that read, with figures of the wrong type or beyond any float, are drawn without those figures.
        assert ">pg-odd</td>" in html and ">pg-huge</td>" in html and ">pg-typed</td>" in html
        section = re.search(r'<table id="unreadable">.*?</table>', html)
        assert section, "no unreadable rows listed"
        cells = re.findall(r"<tr><td><code>(.*?)</code></td><td><span class=\"unreadable\">unreadable</span></td>"
                           r"<td>(.*?)</td></tr>", section.group(0))
        listed = {unescape(row): unescape(problem) for row, problem in cells}
        wanted = {f"{ODD}/{key}": problem for key, (_, problem) in ODD_ROWS.items() if problem}
        wanted[f"{DEEP}/instance:v:deep"] = "the record column is not JSON (RecursionError"
        wanted[f"{TYPED}/instance:v:typed-status"] = "no record column, and the row's own status is text 'yesterday'"
        long_row = next(row for row in listed if row.startswith(f"{ODD}/instance:v:kkk"))
        assert long_row.endswith("\u2026") and len(long_row) <= 200  # bounded, as every cell is
        listed[f"{ODD}/{LONG_KEY}"] = listed.pop(long_row)
        assert set(listed) == set(wanted), sorted(set(listed) ^ set(wanted))
        for row, problem in wanted.items():
            assert listed[row].startswith(problem), (row, listed[row])
            assert len(listed[row]) <= 300
        assert f"{len(wanted)} rows could not be read" in html

        # The JSON routes read rows through records.py: the same rows come back as stand-ins, not a 500.
        runs = get(drills, "drills")
        assert runs.status_code == 200, runs.text[:500]
        by_run = {r["runId"]: r for r in runs.json()["runs"]}
        assert by_run[real["runId"]]["status"] == "passed"
        assert by_run[ODD]["status"] == "unreadable"
        assert by_run[ODD]["unreadable"]["problem"].startswith("the record column is not JSON")
        for run_id in (ODD, DEEP):
            one = get(drills, f"drills/{run_id}")
            assert one.status_code == 200, one.text[:500]
            unread = [i["unreadable"]["row"] for i in one.json()["instances"] if i["status"] == "unreadable"]
            assert unread and all(row.startswith(f"{run_id}/") for row in unread)
        assert get(drills, f"drills/{ODD}").json()["summary"]["status"] == "unreadable"
        for run_id in (ODD, DEEP, TYPED):
            for form in ("json", "csv"):
                reply = get(drills, f"drills/{run_id}/evidence?format={form}")
                assert reply.status_code == 200, (run_id, form, reply.text[:300])
        assert get(drills, f"drills/{TYPED}").status_code == 200  # columns of the wrong OData type read as text
