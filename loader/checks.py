"""After a load: does every object of the dump exist, and does every table whose dump holds rows have rows. Pure:
the caller gives the TOC and what the catalog holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .toc import TocEntry

# TOC DESC -> the catalog kind the loader's catalog query reports for it.
KIND_OF_DESC = {"TABLE": "table", "FOREIGN TABLE": "table", "VIEW": "view", "MATERIALIZED VIEW": "matview",
                "SEQUENCE": "sequence", "INDEX": "index", "CONSTRAINT": "constraint", "FK CONSTRAINT": "constraint"}


@dataclass(frozen=True)
class CatalogObject:
    """What the target holds: kind, schema, and the name as the TOC tags it (constraints: ``table name``)."""

    kind: str
    schema: str
    name: str


def object_check(expected: Iterable[TocEntry], found: Iterable[CatalogObject]) -> dict[str, Any]:
    """The report's ``objects``: how many expected, how many found, and the missing ones."""
    present = {(o.kind, o.schema, o.name) for o in found}
    wanted = [e for e in expected if e.desc in KIND_OF_DESC]
    missing = [{"type": e.desc, "schema": e.schema, "name": e.tag} for e in wanted
               if (KIND_OF_DESC[e.desc], e.schema, e.tag) not in present]
    return {"expected": len(wanted), "found": len(wanted) - len(missing), "missing": missing}


def table_rows(tables: Iterable[TocEntry], rows: Mapping[tuple[str, str], int | None],
               has_data: Mapping[tuple[str, str], bool | None]) -> list[dict[str, Any]]:
    """The report's ``tables``: rows found per table, and whether its dump holds rows (None: not known)."""
    out = []
    for entry in tables:
        key = (entry.schema or "", entry.tag)
        out.append({"schema": entry.schema, "name": entry.tag, "rows": rows.get(key), "hasData": has_data.get(key)})
    return out


def empty_tables_with_data(tables: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Tables whose dump holds rows but that have none (or could not be counted) after the load."""
    return [t for t in tables if t.get("hasData") and not t.get("rows")]
