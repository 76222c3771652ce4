"""The app reaches the Functions storage account the way the host does: connection string or identity."""

from __future__ import annotations

import pytest

from pgflex_restore.errors import ConfigurationError
from pgflex_restore.storage import queue_client, storage_credential, table_service_client

IDENTITY = {"AzureWebJobsStorage__accountName": "pgflexstore", "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-0000000000c1"}


def test_identity_based_connection_uses_the_account_endpoints_and_one_credential() -> None:
    """No keys: the account name gives the endpoints, and every client shares one credential (one token cache)."""
    queue = queue_client("restore-requests-rejected", IDENTITY)
    table = table_service_client(IDENTITY)
    assert queue.url == "https://pgflexstore.queue.core.windows.net/restore-requests-rejected"
    assert table.url.startswith("https://pgflexstore.table.core.windows.net")
    assert storage_credential(IDENTITY) is storage_credential(dict(IDENTITY))
    assert type(storage_credential(IDENTITY)).__name__ == "ManagedIdentityCredential"


def test_explicit_service_uri_wins_over_the_account_name() -> None:
    """AzureWebJobsStorage__queueServiceUri (sovereign clouds, private endpoints) is used as given."""
    env = {**IDENTITY, "AzureWebJobsStorage__queueServiceUri": "https://q.example.internal/"}
    assert queue_client("q1", env).url == "https://q.example.internal/q1"


def test_missing_storage_configuration_names_the_setting() -> None:
    """Neither a connection string nor an account name: a configuration error that says what to set."""
    with pytest.raises(ConfigurationError, match="AzureWebJobsStorage__accountName"):
        queue_client("q1", {})
