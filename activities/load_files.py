"""Load activities on storage: the extensions the restored dumps create, the loader's report, the ledger.

The dumps are read by range, the way drills verify them: a custom-format archive's table of contents is at its
start, so a few KiB tell which ``EXTENSION`` entries it has, however large the dump. The ledger of databases
the app created is the ``pgflexloads`` table in the Functions storage account (docs/loading.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df

from activities.payload import Payload
from clients import container_client, table_if_configured
from pgflex_restore.drills.pgdump import MAGIC, DumpFormatError, read_custom_archive
from pgflex_restore.drills.verify import HEAD_CACHE
from pgflex_restore.load_report import (
    LEDGER_TABLE,
    ledger_entities,
    ledger_partition,
    replaceable_from,
    report_blob_name,
    restored_database,
)

LOAD_READ_EXTENSIONS = "load_read_extensions"
LOAD_READ_REPORT = "load_read_report"
LOAD_LEDGER_READ = "load_ledger_read"
LOAD_LEDGER_RECORD = "load_ledger_record"
MAX_REPORT_BYTES = 16 * 1024 * 1024

log = logging.getLogger(__name__)

bp = df.Blueprint()


def read_extensions(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: containerUrl, prefix, databases (the source names to load, or None for all). Output: the
    extensions the dumps create, and per dump its database and extensions.

    A file is a database's by its name, as the loader reads it (``<prefix>_<database>.sql``). Files that are not
    custom-format archives (roles, plain SQL) are skipped; a malformed dump is reported, not raised: the
    loader's own checks fail the load at the right step with the right message.
    """
    container = container_client(payload["containerUrl"])
    prefix: str = payload["prefix"]
    wanted = set(payload["databases"]) if payload.get("databases") else None
    dumps: list[dict[str, Any]] = []
    needed: set[str] = set()
    for blob in container.list_blobs(name_starts_with=prefix):
        size = int(blob.size or 0)
        source = restored_database(blob.name, prefix)  # None: the report, or another restore's "<prefix>2_..."
        if source is None or size < len(MAGIC):
            continue
        head: bytes = container.download_blob(blob.name, offset=0, length=min(HEAD_CACHE, size)).readall()
        if not head.startswith(MAGIC):
            continue

        def read(offset: int, length: int, name: str = blob.name, first: bytes = head) -> bytes:
            if offset + length <= len(first):
                return first[offset:offset + length]
            data: bytes = container.download_blob(name, offset=offset, length=length).readall()
            return data

        try:
            archive = read_custom_archive(read, size)
        except DumpFormatError as exc:
            dumps.append({"file": blob.name, "problem": str(exc)})
            continue
        extensions = sorted({e.tag for e in archive.entries if e.desc == "EXTENSION" and e.tag})
        dumps.append({"file": blob.name, "database": source, "dumpedDatabase": archive.header.database,
                      "extensions": extensions})
        if wanted is None or source in wanted:
            needed.update(extensions)
    return {"ok": True, "extensions": sorted(needed), "dumps": dumps}


def read_report(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: containerUrl, prefix. Output: the loader's report, or None when it wrote none (or garbage)."""
    from azure.core.exceptions import ResourceNotFoundError

    name = report_blob_name(payload["prefix"])
    try:
        data = container_client(payload["containerUrl"]).download_blob(name, offset=0,
                                                                       length=MAX_REPORT_BYTES).readall()
    except ResourceNotFoundError:
        return {"ok": True, "report": None, "reportBlob": name}
    try:
        report = json.loads(data)
    except ValueError as exc:
        return {"ok": True, "report": None, "reportBlob": name, "problem": f"the report is not JSON: {exc}"}
    if not isinstance(report, dict):
        return {"ok": True, "report": None, "reportBlob": name, "problem": "the report is not a JSON object"}
    return {"ok": True, "report": report, "reportBlob": name}


def ledger_read(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: host. Output: ``replaceable``, the databases on that server this app created (name and oid)."""
    table = table_if_configured(LEDGER_TABLE)
    if table is None:
        log.warning("no Functions storage account: no ledger, so no database is replaceable")
        return {"ok": True, "replaceable": [], "ledger": "unavailable"}
    rows = table.query_entities("PartitionKey eq @host", parameters={"host": ledger_partition(payload["host"])})
    return {"ok": True, "replaceable": replaceable_from(rows)}


def ledger_record(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: host, created (the report's list), restoreId, at. Upserts one row per created database: a re-run
    writes the same rows again."""
    rows = ledger_entities(payload["host"], payload.get("created") or [], restore_id=payload["restoreId"],
                           created_at=payload["at"])
    table = table_if_configured(LEDGER_TABLE)
    if table is None:
        log.warning("no Functions storage account: %d created database(s) not recorded", len(rows))
        return {"ok": True, "recorded": 0, "ledger": "unavailable"}
    for row in rows:
        table.upsert_entity(row)
    return {"ok": True, "recorded": len(rows)}


@bp.activity_trigger(input_name="payload")
def load_read_extensions(payload: Payload) -> dict[str, Any]:
    return read_extensions(payload)


@bp.activity_trigger(input_name="payload")
def load_read_report(payload: Payload) -> dict[str, Any]:
    return read_report(payload)


@bp.activity_trigger(input_name="payload")
def load_ledger_read(payload: Payload) -> dict[str, Any]:
    return ledger_read(payload)


@bp.activity_trigger(input_name="payload")
def load_ledger_record(payload: Payload) -> dict[str, Any]:
    return ledger_record(payload)
