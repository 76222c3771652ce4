"""A drill run's evidence document and its hash chain (docs/drills.md, "Evidence").

One document per run: every server's point, phase timings, RTO/RPO, checks, file hashes and verdict, plus the
previous run's hash. Its SHA-256 over a canonical JSON form is stored in the run's summary row when the run is
recorded, so a row edited or deleted later no longer rebuilds to the stored hash, and a run removed from the
middle breaks the chain. Pure: rows in, a document out; every value read from storage may have any type (rows
are edited by hand, older runs lack fields) and is normalised, never trusted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .records import too_deep

SCHEMA = "pgflex-restore/drill-evidence/v1"
UNHASHED = ("hash", "verification")  # the verification is added beside the document, outside the hashed part
PHASES = ("select", "validate", "restoreJob", "load", "checks", "total")
DOCUMENT_KEYS = {"schema", "runId", "startedAt", "finishedAt", "servers", "previous", "hash"}
CSV_COLUMNS = ("runId", "hash", "server", "backupInstance", "verdict", "reason", "recoveryPointId",
               "recoveryPointTime", "pointAgeSeconds", *(f"{p}Seconds" for p in PHASES), "rtoSeconds",
               "rtoTarget", "rtoBreached", "rpoTarget", "rpoBreached", "check", "outcome", "message")


class EvidenceError(ValueError):
    """A saved document is not a drill evidence document (not JSON, wrong schema, a key missing)."""


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The bytes the hash is taken over: sorted keys, no whitespace, UTF-8; ``hash`` and ``verification`` out."""
    body = {k: v for k, v in document.items() if k not in UNHASHED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def document_hash(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | int | None:
    """A finite JSON number, or None (booleans, strings, NaN and infinities are not figures)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):  # a JSON integer too big for a float is no figure either
        return value if abs(value) < 2**53 else None
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """A JSON value with non-finite numbers turned to None, so the canonical form is always valid JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return dict(_plain(value)) if isinstance(value, Mapping) else {}


def _measure(value: Any, keys: Sequence[str]) -> dict[str, Any] | None:
    """An ``rto``/``rpo`` item, or None for a record without one (older runs)."""
    if not isinstance(value, Mapping):
        return None
    return {k: (bool(value[k]) if k == "breached" else _number(value[k])) for k in keys if k in value}


def server_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """One instance record as the evidence keeps it."""
    point = record.get("recoveryPoint")
    phases = record.get("phases")
    files = record.get("files")
    checks = record.get("checks")
    return {
        "server": _text(record.get("server")),
        "backupInstance": _text(record.get("backupInstance")),
        "recoveryPoint": {"id": _text(point.get("id")), "time": _text(point.get("time")),
                          "ageSeconds": _number(record.get("pointAgeSeconds"))}
        if isinstance(point, Mapping) else None,
        "phases": {k: _number(phases[k]) for k in PHASES if k in phases} if isinstance(phases, Mapping) else {},
        "rto": _measure(record.get("rto"), ("seconds", "target", "breached")),
        "rpo": _measure(record.get("rpo"), ("ageSeconds", "target", "breached")),
        "checks": [_dict(c) for c in checks if isinstance(c, Mapping)] if isinstance(checks, list) else [],
        "files": [{"name": _text(f.get("name")), "bytes": _number(f.get("bytes", f.get("size"))),
                   "sha256": _text(f.get("sha256"))}
                  for f in files if isinstance(f, Mapping)] if isinstance(files, list) else [],
        "verdict": _text(record.get("status")),
        "reason": _text(record.get("reason")),
    }


def previous_link(run_id: Any, hash_: Any) -> dict[str, str] | None:
    """The ``previous`` member: the earlier run's id and stored hash, or None for the first run of a chain."""
    if isinstance(run_id, str) and run_id and isinstance(hash_, str) and hash_:
        return {"runId": run_id, "hash": hash_}
    return None


def build_document(summary: Mapping[str, Any], instances: Iterable[Mapping[str, Any]],
                   previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's evidence document with its hash; instances in a stable order, whatever order the rows came in."""
    servers = sorted((server_entry(r) for r in instances if isinstance(r, Mapping)),
                     key=lambda s: (str(s["backupInstance"]), str(s["server"]), json.dumps(s, sort_keys=True)))
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "runId": _text(summary.get("runId")),
        "startedAt": _text(summary.get("startedAt")),
        "finishedAt": _text(summary.get("finishedAt")),
        "servers": servers,
        "previous": previous_link(previous.get("runId"), previous.get("hash")) if previous else None,
    }
    document["hash"] = document_hash(document)
    return document


def verification(stored_hash: str | None, rebuilt: Mapping[str, Any]) -> dict[str, Any]:
    """Verified only when a hash was stored at recording time and the rows still rebuild to it."""
    rebuilt_hash = str(rebuilt["hash"])
    return {"verified": bool(stored_hash) and stored_hash == rebuilt_hash, "storedHash": stored_hash,
            "rebuiltHash": rebuilt_hash}


def check_document(document: Any) -> None:
    """Raise EvidenceError unless ``document`` has the v1 shape (the hash itself is checked by verify_chain)."""
    if not isinstance(document, dict):
        raise EvidenceError("not a JSON object")
    if document.get("schema") != SCHEMA:
        raise EvidenceError(f"schema is {document.get('schema')!r}, expected {SCHEMA!r}")
    missing = sorted(DOCUMENT_KEYS - set(document))
    if missing:
        raise EvidenceError(f"missing {', '.join(missing)}")
    if not isinstance(document["runId"], str) or not isinstance(document["servers"], list):
        raise EvidenceError("runId must be a string and servers a list")
    if not isinstance(document["hash"], str):
        raise EvidenceError("hash must be a string")
    previous = document["previous"]
    if previous is not None and not (isinstance(previous, dict) and isinstance(previous.get("runId"), str)
                                     and isinstance(previous.get("hash"), str)):
        raise EvidenceError("previous must be null or {\"runId\", \"hash\"}")


def verify_chain(documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """The problems of saved documents, given oldest first: each hash, then each link to the document before.

    Documents must already pass check_document. An empty list means valid.
    """
    problems: list[str] = []
    for index, document in enumerate(documents):
        actual = document_hash(document)
        if actual != document["hash"]:
            problems.append(f"run {document['runId']}: hash mismatch: the document says {document['hash']}, "
                            f"its content hashes to {actual} (the document or a record in it was edited)")
        if index:
            before = documents[index - 1]
            link = document["previous"] or {}
            if link.get("runId") != before["runId"] or link.get("hash") != before["hash"]:
                problems.append(
                    f"run {document['runId']}: broken chain: its previous run is "
                    f"{link.get('runId')} with hash {link.get('hash')}, but the document before it is run "
                    f"{before['runId']} with hash {before['hash']} (a run is missing between them, or was edited)")
    return problems


def _figure(value: Any) -> str:
    """A cell. Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading quote; numbers,
    negative ones included, stay numbers. A check's message may hold user SQL or a server's error text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(document: Mapping[str, Any]) -> str:
    """RFC 4180 CSV (CRLF, quoted as needed): one row per server and check, a server without checks one row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for server in document.get("servers") or []:
        point = server.get("recoveryPoint") or {}
        phases, rto, rpo = server.get("phases") or {}, server.get("rto") or {}, server.get("rpo") or {}
        head = [document.get("runId"), document.get("hash"), server.get("server"), server.get("backupInstance"),
                server.get("verdict"), server.get("reason"), point.get("id"), point.get("time"),
                point.get("ageSeconds"), *(phases.get(p) for p in PHASES), rto.get("seconds"), rto.get("target"),
                rto.get("breached"), rpo.get("target"), rpo.get("breached")]
        checks = server.get("checks") or [{}]
        for check in checks:
            row = [*head, check.get("name"), check.get("outcome"), check.get("message")]
            writer.writerow([_figure(v) for v in row])
    return out.getvalue()


# Rows of the results table (Table entities) as the evidence reads them: the summary row keeps the run's hash.
SUMMARY_ROW, INSTANCE_PREFIX = "summary", "instance:"
HASH_COLUMN, PREVIOUS_RUN_COLUMN, PREVIOUS_HASH_COLUMN = "evidenceHash", "evidencePreviousRunId", \
    "evidencePreviousHash"


def _row_record(entity: Mapping[str, Any]) -> dict[str, Any]:
    raw = entity.get("record")
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        data = None
    # A record nested beyond what records.py reads is unreadable there, and left out of the evidence here.
    return data if isinstance(data, dict) and not too_deep(data) else {}


def run_fields(summary_entity: Mapping[str, Any]) -> dict[str, Any]:
    """runId, startedAt and finishedAt of a summary row: its columns first (they survive the record's trimming)."""
    record = _row_record(summary_entity)
    return {"runId": summary_entity.get("PartitionKey"),
            **{k: summary_entity.get(k) or record.get(k) for k in ("startedAt", "finishedAt")}}


def stored_evidence(summary_entity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``evidence`` a summary row stored when the run was recorded, or None (older runs, not recorded yet)."""
    recorded = _row_record(summary_entity).get("evidence")
    recorded = recorded if isinstance(recorded, Mapping) else {}
    hash_ = summary_entity.get(HASH_COLUMN) or recorded.get("hash")
    if not isinstance(hash_, str) or not hash_:
        return None
    previous_run = summary_entity.get(PREVIOUS_RUN_COLUMN) or recorded.get("previousRunId")
    previous_hash = summary_entity.get(PREVIOUS_HASH_COLUMN) or recorded.get("previousHash")
    return {"hash": hash_, "previousRunId": previous_run if isinstance(previous_run, str) else None,
            "previousHash": previous_hash if isinstance(previous_hash, str) else None}


def evidence_columns(evidence: Mapping[str, Any]) -> dict[str, str]:
    return {HASH_COLUMN: str(evidence["hash"]), PREVIOUS_RUN_COLUMN: str(evidence.get("previousRunId") or ""),
            PREVIOUS_HASH_COLUMN: str(evidence.get("previousHash") or "")}


def instance_records(entities: Iterable[Mapping[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """The instance records of one run among table rows (the JSON column as stored, trimmed or not)."""
    return [_row_record(e) or {k: v for k, v in e.items() if k not in ("PartitionKey", "RowKey", "record")}
            for e in entities
            if e.get("PartitionKey") == run_id and str(e.get("RowKey", "")).startswith(INSTANCE_PREFIX)]


def newest_earlier_evidence(entities: Iterable[Mapping[str, Any]], run_id: str) -> dict[str, str] | None:
    """The link to the newest run before ``run_id`` (run ids sort by time) that stored a hash."""
    earlier = [(str(e.get("PartitionKey")), stored_evidence(e)) for e in entities
               if e.get("RowKey") == SUMMARY_ROW and str(e.get("PartitionKey")) < run_id]
    hashed = [(run, ev["hash"]) for run, ev in earlier if ev]
    if not hashed:
        return None
    run, hash_ = max(hashed)
    return {"runId": run, "hash": hash_}
