"""The one naming style of every JSON that crosses the durable boundary or leaves the app: camelCase, as the public
API and the ARM payloads already are. Python attributes stay snake_case; ``to_dict`` forms use these names."""

from __future__ import annotations


def camel_case(name: str) -> str:
    """``start_time`` -> ``startTime``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
