"""Clients for the Functions storage account, the same way the Functions host connects to it.

``AzureWebJobsStorage`` is a connection string locally (Azurite, ``UseDevelopmentStorage=true``); in Azure the
app uses identity-based connections (``AzureWebJobsStorage__accountName`` and friends, no keys). The app's own
writes (rejected queue messages, drill results) follow whichever form is configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

CONNECTION = "AzureWebJobsStorage"


def _service_url(env: Mapping[str, str], service: str) -> str:
    explicit = env.get(f"{CONNECTION}__{service}ServiceUri")
    if explicit:
        return explicit.rstrip("/")
    account = env.get(f"{CONNECTION}__accountName")
    if not account:
        raise LookupError(
            f"{CONNECTION} is not configured: set it to a connection string, or set "
            f"{CONNECTION}__accountName for an identity-based connection"
        )
    return f"https://{account}.{service}.core.windows.net"


def _identity(env: Mapping[str, str]) -> Any:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if env.get(f"{CONNECTION}__credential", "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=env.get(f"{CONNECTION}__clientId"))
    return DefaultAzureCredential()


def queue_client(queue_name: str, env: Mapping[str, str] | None = None) -> QueueClient:
    """A QueueClient for one queue of the Functions storage account (messages as plain text)."""
    from azure.storage.queue import QueueClient

    env = os.environ if env is None else env
    connection = env.get(CONNECTION)
    if connection:
        return QueueClient.from_connection_string(connection, queue_name)
    return QueueClient(_service_url(env, "queue"), queue_name, credential=_identity(env))
