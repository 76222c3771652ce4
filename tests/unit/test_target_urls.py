"""Restore target container URLs: the checks and the normal form shared by settings and requests."""

from __future__ import annotations

import pytest

from pgflex_restore.target_urls import is_loopback_host, normalize_container_url


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("https://acct.blob.core.windows.net/restores", "https://acct.blob.core.windows.net/restores"),
        ("HTTPS://ACCT.Blob.Core.Windows.Net/restores/", "https://acct.blob.core.windows.net/restores"),
        ("https://acct.blob.core.windows.net:443/restores", "https://acct.blob.core.windows.net/restores"),
        ("https://acct.blob.core.usgovcloudapi.net/c-1", "https://acct.blob.core.usgovcloudapi.net/c-1"),
        ("https://acct.privatelink.blob.core.windows.net/abc", "https://acct.privatelink.blob.core.windows.net/abc"),
        ("http://127.0.0.1:10000/devstoreaccount1/restores", "http://127.0.0.1:10000/devstoreaccount1/restores"),
        ("http://localhost:10000/restores", "http://localhost:10000/restores"),
        ("http://[::1]:10000/devstoreaccount1/abc", "http://[::1]:10000/devstoreaccount1/abc"),
    ],
)
def test_normal_form(text: str, normal: str) -> None:
    """Scheme/host lower-cased, default port and trailing slash dropped."""
    assert normalize_container_url(text) == normal


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("ftp://acct.blob.core.windows.net/c", "https URL"),
        ("http://acct.blob.core.windows.net/restores", "must use https"),
        ("https://acct.blob.core.windows.net/restores?sv=2020&sig=abc", "SAS"),
        ("https://user:pw@acct.blob.core.windows.net/restores", "credentials"),
        ("https://example.com/restores", "not an Azure Blob Storage endpoint"),
        ("https://acct.blob.core.windows.net/", "exactly one container"),
        ("https://acct.blob.core.windows.net/a/b", "exactly one container"),
        ("https://acct.blob.core.windows.net/Upper", "not a valid container name"),
        ("https://acct.blob.core.windows.net/a--b", "not a valid container name"),
        ("http://127.0.0.1:10000/", "loopback container URL"),
        ("http://127.0.0.1:10000/BAD_ACCOUNT/c-1", "loopback container URL"),
        ("https://acct.blob.core.windows.net:99999/c", "not a valid URL"),
    ],
)
def test_rejections(text: str, needle: str) -> None:
    """Each bad URL is refused with a message saying why."""
    with pytest.raises(ValueError, match=needle):
        normalize_container_url(text)


def test_loopback_hosts() -> None:
    """127.0.0.0/8, ::1 and localhost only."""
    assert all(is_loopback_host(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "LOCALHOST"))
    assert not any(is_loopback_host(h) for h in (None, "", "10.0.0.1", "management.azure.com", "localhost.evil"))


def test_errors_never_repeat_a_sas_query() -> None:
    """Error texts are logged and returned to callers: a SAS signature in a bad URL must not appear in them."""
    import pytest

    from pgflex_restore.target_urls import normalize_container_url

    for bad in ("ftp://acct.blob.core.windows.net/c?sv=2024&sig=SECRETSIG", "https://[bad/c?sig=SECRETSIG"):
        with pytest.raises(ValueError) as caught:
            normalize_container_url(bad)
        assert "SECRETSIG" not in str(caught.value)
