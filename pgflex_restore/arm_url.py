"""The one check that keeps the ARM bearer token on ARM: a URL gets the token only on ARM_ENDPOINT's exact origin.

A URL that came from a response (nextLink, Azure-AsyncOperation, Location) is untrusted. It is sent only when
it has no backslash, whitespace or control character, an ASCII host (the path may be Unicode, as a resource
group's name may), no userinfo, and its scheme, host and port equal ARM_ENDPOINT's exactly (a default port
counts as none; ``localhost``, ``127.0.0.1`` and ``127.0.0.2`` are three hosts). Parser differentials
(``http://a\\@b/``: host ``a`` to one parser, ``b`` to another) are closed twice: such URLs fail the strict
grammar first, and a URL is then accepted only when urllib.parse (what requests >= 2.32 connects by), urllib3's
parse_url (what requests 2.31 connected by) and a prepared ``requests.PreparedRequest`` all see that origin.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

import requests
from urllib3.util import parse_url

_DEFAULT_PORTS = {"https": 443, "http": 80}
_SHOWN_CHARS = 100
# scheme "://" authority, then nothing or a path / query / fragment.
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>[/?#].*)?\Z", re.DOTALL)
_USERINFO = re.compile(r"\A([^/?#]*//)[^/?#]*@")  # a password may be in it: never shown
# A DNS name or IPv4 address (letters, digits, '.', '-', '_'), or a bracketed IPv6 address without a zone id.
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?\Z")


class Origin(NamedTuple):
    """scheme, lower-case host (IPv6 without brackets) and port with the scheme's default filled in."""

    scheme: str
    host: str
    port: int


class OffArmUrl(ValueError):
    """A URL the token must not go to; ``part`` names what differed (scheme, host, port, userinfo, ...)."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(reason)
        self.part = part


def shown(url: object) -> str:
    """At most ~100 ASCII-escaped characters of the URL without its userinfo, query or fragment, safe for logs
    and messages (those may hold a password or a token; a hostile URL may hold newlines or be megabytes long)."""
    text = _USERINFO.sub(r"\1***@", re.split(r"[?#]", str(url), maxsplit=1)[0])
    cut = text[:_SHOWN_CHARS]
    return ascii(cut)[1:-1] + ("…" if len(text) > _SHOWN_CHARS else "")


def parse_origin(url: object) -> Origin:
    """The origin of an http(s) URL under the strict grammar; OffArmUrl (a ValueError) says why not."""
    if not isinstance(url, str) or not url:
        raise OffArmUrl("url", "the URL is empty or not text")
    if "\\" in url:
        raise OffArmUrl("backslash", "the URL contains a backslash (parsers disagree on where its host is)")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise OffArmUrl("whitespace", "the URL contains whitespace or control characters")
    found = _URL.match(url)
    if not found:
        raise OffArmUrl("url", "the URL is not scheme://host[:port]/...")
    scheme, authority = found["scheme"].lower(), found["authority"]
    if not authority.isascii():
        raise OffArmUrl("non-ASCII", "the URL's host part has non-ASCII characters (an IDN or look-alike host)")
    if scheme not in _DEFAULT_PORTS:
        raise OffArmUrl("scheme", f"the scheme {scheme[:10]!r} is not http or https")
    if "@" in authority:
        raise OffArmUrl("userinfo", "the URL carries userinfo ('user@' before its host)")
    hostport = _HOST_PORT.match(authority)
    if not hostport:
        raise OffArmUrl("host", "the URL's host[:port] is not a DNS name, an IP address or a valid port")
    host = hostport["host"].lower().strip("[]")
    if any(label.startswith("xn--") for label in host.split(".")):
        raise OffArmUrl("host", "the URL's host is an IDNA (xn--) name")
    port = int(hostport["port"]) if hostport["port"] is not None else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise OffArmUrl("port", f"the port {port} is out of range")
    origin = Origin(scheme, host, port)
    _same_for_every_parser(url, origin)
    return origin


def check_arm_url(url: object, arm: Origin) -> None:
    """Raise OffArmUrl unless ``url`` is on ARM's exact origin, as every parser on the way to the socket sees it."""
    origin = parse_origin(url)
    for index, part in enumerate(Origin._fields):
        if origin[index] != arm[index]:
            raise OffArmUrl(part, f"its {part} is not ARM_ENDPOINT's")


def _same_for_every_parser(url: str, origin: Origin) -> None:
    """Defence in depth: urllib.parse, urllib3 and a PreparedRequest must all agree with the strict grammar."""
    try:
        split = urlsplit(url)
        seen = [_origin_of(split.scheme, split.hostname, split.port)]
        parsed = parse_url(url)
        seen.append(_origin_of(parsed.scheme, parsed.host, parsed.port))
        prepared = requests.Request("GET", url).prepare().url or ""
        again = urlsplit(prepared)
        seen.append(_origin_of(again.scheme, again.hostname, again.port))
    except (ValueError, requests.RequestException) as exc:
        raise OffArmUrl("host", f"the URL does not parse alike everywhere ({type(exc).__name__})") from None
    if any(other != origin for other in seen):
        raise OffArmUrl("host", "URL parsers disagree on the URL's origin")


def _origin_of(scheme: str | None, host: str | None, port: int | None) -> Origin:
    name = (scheme or "").lower()
    return Origin(name, (host or "").lower().strip("[]"), port if port is not None else _DEFAULT_PORTS.get(name, -1))
