"""Client-test helpers: a tiny TokenCredential and a client pointed at pytest-httpserver over a real socket."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from pytest_httpserver import HTTPServer

from pgflex_restore.client import DataProtectionClient


class FakeCredential:
    """Hands out a fixed token and counts calls; stands in for azure-identity (not the code under test)."""

    def __init__(self, value: str = "token-1") -> None:
        self.token = value
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append((scopes, kwargs))
        if kwargs.get("claims"):  # like azure-identity: claims bypass the cache and give a new token
            return AccessToken(f"{self.token}-claims", 4_102_444_800)
        return AccessToken(self.token, 4_102_444_800)


class TokenFactory:
    """Builds a new FakeCredential with the next token each time: token-2, token-3, ..."""

    def __init__(self) -> None:
        self.made: list[FakeCredential] = []

    def __call__(self) -> FakeCredential:
        cred = FakeCredential(f"token-{len(self.made) + 2}")
        self.made.append(cred)
        return cred


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def factory() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
def base(httpserver: HTTPServer) -> str:
    """The local server's origin, used as the ARM endpoint."""
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def make_client(base: str, credential: FakeCredential, factory: TokenFactory) -> Iterator[
        Callable[..., DataProtectionClient]]:
    made: list[DataProtectionClient] = []

    def build(api_version: str = "2026-06-01", **kw: Any) -> DataProtectionClient:
        kw.setdefault("timeout", (2.0, 2.0))
        kw.setdefault("credential_factory", factory)
        client = DataProtectionClient(kw.pop("endpoint", base), api_version, credential, **kw)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def example(spec_root: Path) -> Callable[[str, str], dict[str, Any]]:
    def load(version: str, name: str) -> dict[str, Any]:
        return dict(json.loads((spec_root / version / "examples" / name).read_text(encoding="utf-8")))

    return load


def localize(url: str, base: str) -> str:
    """Point an example's management.azure.com URL at the local server, keeping path and query verbatim."""
    return url.replace("https://management.azure.com", base)
