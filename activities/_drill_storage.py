"""Storage clients the drills use: the drill container (Blob), the results table, the alert queue.

The drill container is read with the app's own (shared) identity, except when it lives in the
Functions storage account and that account is configured by connection string (Azurite locally): then the
connection string's key is the app's credential. Tables and queues live in the Functions storage account,
connected the same way the Functions host connects (``AzureWebJobsStorage``).
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from activities._arm import app_credential
from pgflex_restore.settings import get_settings
from pgflex_restore.storage import CONNECTION, queue_client, table_service_client
from pgflex_restore.targets import normalize_container_url

if TYPE_CHECKING:
    from azure.data.tables import TableClient
    from azure.storage.blob import ContainerClient
    from azure.storage.queue import QueueClient

__all__ = ["alerts_queue", "container_client", "results_table"]

_ensured: set[str] = set()


def container_client(container_url: str) -> ContainerClient:
    """A ContainerClient for a drill container URL, authenticated as the app."""
    from azure.storage.blob import BlobServiceClient, ContainerClient

    wanted = normalize_container_url(container_url)
    connection = os.environ.get(CONNECTION)
    if connection:
        service = BlobServiceClient.from_connection_string(connection)
        name = wanted.rsplit("/", 1)[-1]
        if normalize_container_url(f"{service.url.rstrip('/')}/{name}") == wanted:
            return service.get_container_client(name)
    return ContainerClient.from_container_url(wanted, credential=app_credential(get_settings()))


def results_table(name: str) -> TableClient:
    """The drill results table (created on first use)."""
    from azure.core.exceptions import ResourceExistsError

    service = table_service_client()
    key = f"table:{name}:{service.url}"
    if key not in _ensured:
        with contextlib.suppress(ResourceExistsError):
            service.create_table(name)
        _ensured.add(key)
    return service.get_table_client(name)


def alerts_queue(name: str) -> QueueClient:
    """The alert queue (created on first use); messages are plain JSON text."""
    from azure.core.exceptions import ResourceExistsError

    client = queue_client(name)
    key = f"queue:{name}:{client.url}"
    if key not in _ensured:
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        _ensured.add(key)
    return client


def forget_created() -> None:
    """Tests use fresh Azurite accounts: forget which tables and queues exist."""
    _ensured.clear()
