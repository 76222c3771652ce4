"""Test doubles for the client tests: a tiny TokenCredential (a stand-in for azure-identity, not for the code
under test) and a helper that points example URLs at the local server."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import AccessToken


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


def localize(url: str, base: str) -> str:
    """Point an example's management.azure.com URL at the local server, keeping path and query verbatim."""
    return url.replace("https://management.azure.com", base)
