"""Queue triggers fed from real Azure Storage queues (Azurite locally), with host.json's retry and poison rules."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import threading
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient
from azure.storage.queue import QueueMessage as StoredMessage

from devhost.bindings import Bindings
from devhost.indexer import FunctionInfo, HostSettings, resolve_setting

log = logging.getLogger("devhost")
HOST_VISIBILITY_SECONDS = 600  # how long a dequeued message stays hidden while the function runs


def resolve_connection(info: FunctionInfo, fallback: str | None, binding: dict[str, Any] | None = None) -> str:
    """The connection string behind the binding's `connection` app setting (Azurite's when it says so)."""
    setting = str((binding or info.trigger).get("connection") or "AzureWebJobsStorage")
    value = os.environ.get(setting) or os.environ.get(f"{setting}__queueServiceUri") or ""
    if (not value or value.strip().lower() == "usedevelopmentstorage=true") and fallback:
        return fallback
    if not value:
        raise ValueError(f"queue function {info.name}: app setting {setting} is not set")
    return value


class QueuePoller:
    """Polls one queue for one function: decode, invoke, delete; retry or move to `<queue>-poison` on failure."""

    def __init__(self, info: FunctionInfo, settings: HostSettings, connection_string: str,
                 bindings: Bindings) -> None:
        self.info = info
        self.settings = settings
        self.bindings = bindings
        self.queue_name = resolve_setting(str(info.trigger["queueName"]),
                                          what=f"queue function {info.name} queueName").lower()
        # The listener's own loop backs off after a failed poll, as the host's queue listener does; the SDK's
        # retries would only hold a poll (and the virtual clock with it) for minutes while storage is down.
        self.client = QueueClient.from_connection_string(connection_string, self.queue_name, retry_total=0,
                                                         connection_timeout=5, read_timeout=30)
        self.poison = QueueClient.from_connection_string(connection_string, f"{self.queue_name}-poison",
                                                         retry_total=0, connection_timeout=5, read_timeout=30)
        self.busy = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"devhost-queue-{self.queue_name}", daemon=True)

    def start(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.client.close()  # open keep-alive connections would hold Azurite's shutdown
        self.poison.close()

    def pending(self) -> bool:
        """Messages still in the queue, visible or waiting out a retry's visibility timeout."""
        if self.busy:
            return True
        try:
            count = self.client.get_queue_properties().approximate_message_count
        except Exception as exc:  # storage is down: nothing can be delivered now, so nothing is pending
            log.debug("queue %s unreachable: %s", self.queue_name, exc)
            return False
        return bool(count)

    def _loop(self) -> None:
        delay = 0.05
        while not self._stop.is_set():
            try:
                got = self.poll_once()
            except Exception as exc:
                log.warning("polling queue %s failed (%s); backing off", self.queue_name, type(exc).__name__)
                got = 0
            delay = 0.05 if got else min(delay * 2, 1.0, self.settings.max_polling_interval or 1.0)
            self._stop.wait(delay)

    def poll_once(self) -> int:
        self.busy = True
        try:
            pages = self.client.receive_messages(messages_per_page=self.settings.batch_size,
                                                 visibility_timeout=HOST_VISIBILITY_SECONDS).by_page()
            batch = list(next(pages, []))
            for message in batch:
                self._process(message)
            return len(batch)
        finally:
            self.busy = False

    def _process(self, message: StoredMessage) -> None:
        try:
            body = self._decode(str(message.content))
            msg = QueueMessage(id=message.id, body=body, dequeue_count=message.dequeue_count,
                               expiration_time=message.expires_on, insertion_time=message.inserted_on,
                               time_next_visible=message.next_visible_on,
                               pop_receipt=message.pop_receipt)  # type: ignore[no-untyped-call]
            self.bindings.invoke(self.info, msg)
        except Exception:
            log.exception("queue function %s failed on message %s (dequeue count %s)", self.info.name,
                          message.id, message.dequeue_count)
            self._failed(message)
            return
        self.client.delete_message(message)

    def _decode(self, content: str) -> bytes:
        if self.settings.message_encoding == "none":
            return content.encode("utf-8")
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"message is not valid Base64 (host.json messageEncoding is base64): {exc}") from exc

    def _failed(self, message: StoredMessage) -> None:
        if (message.dequeue_count or 0) >= self.settings.max_dequeue_count:
            with contextlib.suppress(ResourceExistsError):
                self.poison.create_queue()
            self.poison.send_message(message.content)
            self.client.delete_message(message)
            log.warning("moved message %s to %s-poison", message.id, self.queue_name)
        else:
            self.client.update_message(message, visibility_timeout=int(self.settings.visibility_timeout))
