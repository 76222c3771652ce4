"""Queue messages the app does not start a restore for are kept, with the reason, where an operator finds them.

``<queue>-rejected``: messages that can never succeed (fix and resend them). ``<queue>-duplicates``: messages
that map to a restore that already exists (with the instance they matched). A record always fits a queue
message: when the original text would not fit beside the reason, it is kept whole as a blob in the
``<queue>-originals`` container and the record carries its name, size, SHA-256 and a short excerpt instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from pgflex_restore.inputs import excerpt
from pgflex_restore.storage import blob_service_client, queue_client

log = logging.getLogger(__name__)

# Azure Queue storage takes messages of at most 64 KiB; the rest is left for the SDK's framing.
MAX_RECORD_BYTES = 60_000
MAX_REASON_CHARS = 1_000


def keep(queue: str, kind: str, msg: func.QueueMessage, text: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Send ``{fields, original, messageId, ...}`` to ``<queue>-<kind>``; the record as sent."""
    record: dict[str, Any] = {
        **fields,
        "original": text,
        "messageId": msg.id,
        "dequeueCount": msg.dequeue_count,
        f"{kind.rstrip('s')}At": datetime.now(UTC).isoformat(),
    }
    if "reason" in record:
        record["reason"] = str(record["reason"])[:MAX_REASON_CHARS]
    body = json.dumps(record)
    if len(body.encode("utf-8")) > MAX_RECORD_BYTES:
        record.pop("original")
        record.update(_spill(queue, kind, msg, text))
        body = json.dumps(record)
    client = queue_client(f"{queue}-{kind}")
    with contextlib.suppress(Exception):  # exists already; any other problem shows on send
        client.create_queue()
    client.send_message(body)
    return record


def _spill(queue: str, kind: str, msg: func.QueueMessage, text: str) -> dict[str, Any]:
    """Keep the whole original as a blob; what the record says about it instead."""
    data = text.encode("utf-8", errors="surrogatepass")
    container = blob_service_client().get_container_client(f"{queue}-originals")
    with contextlib.suppress(Exception):
        container.create_container()
    name = f"{kind}/{msg.id}"
    container.upload_blob(name, data, overwrite=True)
    log.info("queue message %s kept as blob %s/%s (%d bytes)", msg.id, container.container_name, name, len(data))
    return {
        "originalBlob": f"{container.container_name}/{name}",
        "originalBytes": len(data),
        "originalSha256": hashlib.sha256(data).hexdigest(),
        "originalExcerpt": excerpt(text, 200),
    }
