"""The contract every entry point applies to what callers send, before any model reads it.

HTTP bodies, queue messages and query parameters come from automation we do not control, and sometimes from
hostile or broken senders. Whatever arrives, the answer is a field error: never an exception that becomes a 500
or a poison message, and never an answer that grows with the input (an error quotes at most a short excerpt of a
value, and lists at most ``MAX_DETAILS`` problems), so a rejected record always fits a queue message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from .errors import FieldError, RequestValidationError

MAX_DOCUMENT_BYTES = 64 * 1024  # a queue message's limit; a restore request is well under 4 KiB
MAX_DEPTH = 32  # a restore request nests 3 deep, a common-schema alert about 7
EXCERPT_CHARS = 60
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
ASCII_DIGITS = re.compile(r"[0-9]{1,9}")


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short quoted form of a caller's value for error texts: ``'abc…' (12345 characters)`` when cut."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[: limit * 4]
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def read_document(raw: bytes | str, root: str) -> Any:
    """Parse a JSON document under the size, depth and syntax rules; RequestValidationError names ``root``.

    Strict JSON: no NaN or Infinity, no duplicate keys (which copy would win is a parser's choice, and a
    caller's typo'd second ``requestId`` must not silently decide which restore runs).
    """
    data = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _invalid(root, f"is {len(data)} bytes; at most {MAX_DOCUMENT_BYTES} are accepted", "tooLarge")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(root, f"is not UTF-8 text (byte {exc.start})", "encoding") from None
    if not text.strip():
        raise _invalid(root, "is empty: send a JSON object", "required")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise _invalid(root, f"nests deeper than {MAX_DEPTH} levels", "tooDeep") from None
    except _DuplicateKey as exc:
        raise _invalid(root, f"has the key {excerpt(exc.key)} twice in one object", "duplicateKey") from None
    except ValueError as exc:  # JSONDecodeError, and NaN/Infinity from _no_constant
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise _invalid(root, f"is not valid JSON{where}: {reason}", "json") from None
    if nesting_depth(document) > MAX_DEPTH:
        raise _invalid(root, f"nests deeper than {MAX_DEPTH} levels", "tooDeep")
    return document


def control_character_errors(document: Any) -> list[FieldError]:
    """A field error for each key or string holding a control character (a newline in an id passes ``$``)."""
    return [FieldError(path or "body", "contains a control character (newline, tab, NUL ...)", "controlCharacter")
            for path in _paths_with_control(document)]


def query_int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter in ASCII digits (``int()`` would take '²' and fail, or '٣' and accept)."""
    if raw is None or raw == "":
        return default
    if not ASCII_DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise _invalid(name, f"must be a whole number from {low} to {high}, not {excerpt(raw)}")
    return int(raw)


def query_choice(raw: str | None, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive); the first is the default."""
    if raw is None or raw == "":
        return choices[0]
    if raw.lower() not in choices:
        raise _invalid(name, f"must be one of {', '.join(choices)}, not {excerpt(raw)}")
    return raw.lower()


def _invalid(path: str, message: str, code: str = "invalid") -> RequestValidationError:
    return RequestValidationError([FieldError(path, message, code)])


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def nesting_depth(document: Any) -> int:
    """Nesting depth, without recursion (json.loads already refused what would overflow the stack)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _paths_with_control(document: Any) -> Iterator[str]:
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if CONTROL.search(node):
                yield path
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else str(key)
                if CONTROL.search(str(key)):
                    yield child_path
                else:
                    stack.append((child, child_path))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(node))
