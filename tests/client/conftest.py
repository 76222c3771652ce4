"""Client-test fixtures: a client pointed at pytest-httpserver over a real socket, and the example loader."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pgflex_restore.client import DataProtectionClient
from tests.client.dp_fakes import FakeCredential, TokenFactory


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
