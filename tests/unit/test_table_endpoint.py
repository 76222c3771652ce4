"""Where the hot-path tables are and how they are signed for, from AzureWebJobsStorage as the host reads it."""

from __future__ import annotations

import base64

import pytest

from pgflex_restore.errors import ConfigurationError
from pgflex_restore.table_rest import TableEndpoint

KEY = base64.b64encode(b"secret").decode()


def test_a_connection_string_with_an_explicit_table_endpoint() -> None:
    text = f"DefaultEndpointsProtocol=http;AccountName=dev1;AccountKey={KEY};TableEndpoint=http://127.0.0.1:1/dev1/;"
    assert TableEndpoint.from_env({"AzureWebJobsStorage": text}) == TableEndpoint("http://127.0.0.1:1/dev1", "dev1",
                                                                                  b"secret")


def test_a_connection_string_for_a_cloud_account_and_the_development_shortcut() -> None:
    text = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn"
    assert TableEndpoint.from_env({"AzureWebJobsStorage": text}).url == "https://acct.table.core.chinacloudapi.cn"
    dev = TableEndpoint.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert (dev.url, dev.account) == ("http://127.0.0.1:10002/devstoreaccount1", "devstoreaccount1")


def test_identity_based_connections_sign_with_a_token() -> None:
    by_name = TableEndpoint.from_env({"AzureWebJobsStorage__accountName": "acct"})
    assert by_name == TableEndpoint("https://acct.table.core.windows.net", "acct", None)
    by_uri = TableEndpoint.from_env({"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net/"})
    assert by_uri == TableEndpoint("https://acct.table.core.windows.net", "acct", None)


def test_nothing_or_half_a_connection_string_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        TableEndpoint.from_env({})
    with pytest.raises(ConfigurationError, match="AccountKey"):
        TableEndpoint.from_env({"AzureWebJobsStorage": "AccountName=a"})
