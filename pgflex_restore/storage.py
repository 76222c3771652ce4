"""Clients for the Functions storage account, the same way the Functions host connects to it.

``AzureWebJobsStorage`` is a connection string locally (Azurite, ``UseDevelopmentStorage=true``); in Azure the
app uses identity-based connections (``AzureWebJobsStorage__accountName`` and friends, no keys). The app's own
writes (rejected queue messages, drill results) follow whichever form is configured.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pgflex_restore.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

CONNECTION = "AzureWebJobsStorage"


def _service_url(env: Mapping[str, str], service: str) -> str:
    explicit = env.get(f"{CONNECTION}__{service}ServiceUri")
    if explicit:
        return explicit.rstrip("/")
    account = env.get(f"{CONNECTION}__accountName")
    if not account:
        raise ConfigurationError({CONNECTION: (
            "not configured: set it to a connection string, or set "
            f"{CONNECTION}__accountName for an identity-based connection"
        )})
    return f"https://{account}.{service}.core.windows.net"


def storage_credential(env: Mapping[str, str] | None = None) -> Any:
    """The identity the storage connection names, one per process (so its token cache is shared).

    On App Service it is the app's own managed-identity credential (no azure-identity import); see identity.py.
    """
    from pgflex_restore.identity import CREDENTIAL_ENV

    env = os.environ if env is None else env
    managed = env.get(f"{CONNECTION}__credential", "").lower() == "managedidentity"
    client_id = env.get(f"{CONNECTION}__clientId") if managed else None
    # The variables that choose the credential are part of the cache key: a changed environment (a test, a fresh
    # emulator) gets a fresh credential.
    return _credential(managed, client_id, tuple((name, env[name]) for name in CREDENTIAL_ENV if env.get(name)))


@functools.lru_cache(maxsize=4)
def _credential(managed_identity: bool, client_id: str | None, identity_env: tuple[tuple[str, str], ...]) -> Any:
    from pgflex_restore.identity import default_credential, managed_identity_credential

    env = dict(identity_env)
    return managed_identity_credential(client_id or None, env) if managed_identity else default_credential(env)


def queue_client(queue_name: str, env: Mapping[str, str] | None = None) -> QueueClient:
    """A QueueClient for one queue of the Functions storage account (messages as plain text)."""
    from azure.storage.queue import QueueClient

    client: QueueClient = _connected(QueueClient, "queue", env, queue_name)
    return client


def table_service_client(env: Mapping[str, str] | None = None) -> TableServiceClient:
    """A TableServiceClient for the Functions storage account, connected like ``queue_client``."""
    from azure.data.tables import TableServiceClient

    client: TableServiceClient = _connected(TableServiceClient, "table", env)
    return client


def blob_service_client(env: Mapping[str, str] | None = None) -> BlobServiceClient:
    """A BlobServiceClient for the Functions storage account, connected like ``queue_client``."""
    from azure.storage.blob import BlobServiceClient

    client: BlobServiceClient = _connected(BlobServiceClient, "blob", env)
    return client


def _connected(client_class: Any, service: str, env: Mapping[str, str] | None, *args: str) -> Any:
    """``client_class`` for one service of the account: from the connection string when there is one (Azurite,
    keys), else at the service URL with the configured identity."""
    env = os.environ if env is None else env
    connection = env.get(CONNECTION)
    if connection:
        return client_class.from_connection_string(connection, *args)
    return client_class(_service_url(env, service), *args, credential=storage_credential(env))
