"""The drill cleanup activity against real Azurite: run twice (its first outcome lost, as after a host recycle),
it still reports what was deleted, and it never touches what drills did not write."""

from __future__ import annotations

import os
import uuid

from azure.storage.blob import BlobServiceClient

from activities.drill_results import cleanup
from devhost.azurite import Azurite
from pgflex_restore.storage import CONNECTION

OLD, RECENT, CURRENT = "drill-20261101T030000Z", "drill-20261130T030000Z", "drill-20261203T030000Z"


def test_a_second_attempt_reports_what_the_first_deleted(azurite: Azurite) -> None:
    os.environ[CONNECTION] = azurite.connection_string
    os.environ["DRILL_RESULTS_TABLE"] = f"drills{uuid.uuid4().hex[:8]}"
    name = f"cleanup-{uuid.uuid4().hex[:8]}"
    container = BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    for blob in (f"drills/{OLD}/pg1/a.sql", f"drills/{OLD}/pg2/b.sql", f"drills/{RECENT}/pg1/a.sql",
                 f"drills/{CURRENT}/pg1/a.sql", "drills/not-a-run/x.sql", "elsewhere/y.sql"):
        container.upload_blob(blob, b"12345")
    payload = {"containerUrl": container.url, "runId": CURRENT, "now": "2026-12-03T03:00:00Z",
               "retentionSeconds": 7 * 86400}

    first = cleanup(payload)
    second = cleanup(payload)

    expected = {"deletedFiles": 2, "deletedBytes": 10, "deletedRuns": [OLD]}
    assert {k: first[k] for k in expected} == expected
    assert {k: second[k] for k in expected} == expected
    assert sorted(b.name for b in container.list_blobs()) == sorted([
        "drills/not-a-run/x.sql", f"drills/{CURRENT}/pg1/a.sql", f"drills/{RECENT}/pg1/a.sql", "elsewhere/y.sql"])
