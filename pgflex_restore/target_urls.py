"""Restore target container URLs and loopback hosts: one checker shared by settings and the request model.

The allowlist and a request's target must be compared in the same normal form, or a harmless difference
(``HTTPS://ACCT...`` vs ``https://acct.../``) would refuse a legitimate restore, or worse, allow a wrong one.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .inputs import excerpt

# Public, sovereign and DNS-zone blob endpoints; private-link hosts end with these too.
BLOB_HOST_SUFFIXES = (
    ".blob.core.windows.net",
    ".blob.core.chinacloudapi.cn",
    ".blob.core.usgovcloudapi.net",
    ".blob.storage.azure.net",
)
_CONTAINER = re.compile(r"^(?=.{3,63}\Z)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]\Z")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}\Z")
_DEFAULT_PORTS = {"https": 443, "http": 80}


def without_query(url: str) -> str:
    """scheme://host/path only: a query may hold a SAS or a token, so it never reaches a log or a message."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and localhost: where the emulator and Azurite live, the only hosts allowed plain http."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_container_url(text: str) -> str:
    """Check a container URL and return it in normal form (lower-case scheme/host, no default port, no ``/``).

    Raises ValueError with a message meant for the caller who typed the URL.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("container URL is empty")
    value = text.strip()
    shown = value.split("?", 1)[0]  # never repeat a query string: it may be a SAS token, and errors get logged
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{excerpt(shown)} is not a valid URL") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host:
        raise ValueError(f"{excerpt(shown)} is not an https URL of a blob container")
    loopback = is_loopback_host(host)
    if scheme == "http" and not loopback:
        raise ValueError("the container URL must use https (plain http only for loopback emulators)")
    if parts.query:
        raise ValueError("do not put a SAS or any query in the URL; the vault writes with its managed identity")
    if parts.fragment or parts.username or parts.password:
        raise ValueError("the container URL must not carry a fragment or credentials")
    segments = _container_path(parts.path, host, loopback)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}/{'/'.join(segments)}"


def _container_path(path: str, host: str, loopback: bool) -> list[str]:
    """The path's segments: ``[container]``, or ``[account, container]`` on a loopback emulator."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    if loopback:
        if len(segments) not in (1, 2) or (len(segments) == 2 and not _ACCOUNT.match(segments[0])):
            raise ValueError("a loopback container URL is http(s)://host:port/[account/]container")
    else:
        if not host.endswith(BLOB_HOST_SUFFIXES):
            raise ValueError(f"{host} is not an Azure Blob Storage endpoint (*.blob.core.windows.net or sovereign)")
        if len(segments) != 1:
            raise ValueError(
                "the URL must name exactly one container: https://<account>.blob.core.windows.net/<container>"
            )
    if not _CONTAINER.match(segments[-1]):
        raise ValueError(
            f"{excerpt(segments[-1])} is not a valid container name "
            "(3-63 lower-case letters, digits and single hyphens)"
        )
    return segments
