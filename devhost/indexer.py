"""Index a v2-model app: the worker's own discovery and function-load code (devhost.worker), then host.json.

The host only ever talks to functions through this index, so everything the real worker would reject fails here,
with the worker's message, before any server starts. What devhost adds on its own (exactly one trigger, the
trigger types it can run) is a refusal of its own limits, named as such.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost import worker
from devhost.errors import IndexingError

TRIGGER_TYPES = ("httpTrigger", "queueTrigger", "timerTrigger", "orchestrationTrigger", "activityTrigger",
                 "entityTrigger")
CLIENT_BINDING_TYPES = ("durableClient", "orchestrationClient")
_SETTING = re.compile(r"%([^%]+)%")
DEFAULT_HUB_NAME = "TestHubName"


@dataclass
class FunctionInfo:
    """One indexed function: its name, trigger binding and the callable the worker would invoke."""

    name: str
    trigger_type: str
    trigger: dict[str, Any]
    bindings: list[dict[str, Any]]
    user_function: Callable[..., Any]
    client_params: list[str] = field(default_factory=list)
    loaded: Any = None  # the worker's FunctionInfo (input/output types, context, return binding)

    @property
    def trigger_param(self) -> str:
        return str(self.trigger["name"])


@dataclass
class HostSettings:
    """The parts of host.json devhost honours."""

    hub_name: str = DEFAULT_HUB_NAME
    route_prefix: str = "api"
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    batch_size: int = 16
    message_encoding: str = "base64"
    max_polling_interval: float = 60.0
    max_concurrent_activities: int = 10 * (os.cpu_count() or 1)  # the extension's default: 10 x processors
    raw: dict[str, Any] = field(default_factory=dict)


def resolve_setting(value: str, env: Mapping[str, str] | None = None, what: str = "setting") -> str:
    """Replace each %Name% with the app setting, failing like the host when one is missing."""
    source = os.environ if env is None else env

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in source:
            raise IndexingError(f"{what}: '%{name}%' does not resolve to a value (app setting {name} is not set)")
        return source[name]

    return _SETTING.sub(repl, value)


def parse_timespan(text: str) -> float:
    """Seconds in a .NET TimeSpan text ('00:00:30', '1.02:00:00')."""
    match = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)", text.strip())
    if not match:
        raise IndexingError(f"host.json: '{text}' is not a TimeSpan (d.hh:mm:ss)")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")


def resolve_hub_name(configured: Any, env: Mapping[str, str] | None = None) -> str:
    """The task hub name as the Durable extension settles it for the Azure Storage provider.

    `hubName` is resolved only as a whole `%Setting%` (the extension's TryResolveWholeString); an unset setting
    leaves the text as it is, which then fails validation, so a missing TASKHUB_NAME stops the host at start.
    A configured name must be a valid blob, container, table and queue name and at most 50 characters
    (AzureStorageOptions.ValidateHubName); only the default (WEBSITE_SITE_NAME, else TestHubName) is sanitized.
    """
    source = os.environ if env is None else env
    if configured is None:
        default = source.get("WEBSITE_SITE_NAME") or DEFAULT_HUB_NAME
        return _sanitized_default(default)
    name = str(configured)
    whole = _SETTING.fullmatch(name)
    if whole and whole.group(1) in source:
        name = source[whole.group(1)]
    if not _TABLE_NAME.fullmatch(name) or len(name) > 50:
        unset = f" (app setting {whole.group(1)} is not set)" if whole and whole.group(1) not in source else ""
        raise IndexingError(f"Task hub name '{name}' should contain only alphanumeric characters, start with a "
                            f"letter, and have length between 3 and 45.{unset}")
    return name


def _sanitized_default(name: str) -> str:
    """AzureStorageOptions.IsSanitizedHubName: letters and digits only, a leading 't' before a digit, 3-45 long."""
    kept = "".join(c for c in name if c.isalnum())
    if not kept:
        return "DefaultTaskHub"
    if kept[0].isdigit():
        kept = "t" + kept
    kept = kept[:45]
    return kept + "Hub" if len(kept) < 3 else kept


def load_host_settings(app_dir: Path | None) -> HostSettings:
    """Read host.json next to the app module (defaults when absent)."""
    settings = HostSettings()
    path = app_dir / "host.json" if app_dir else None
    if path is None or not path.is_file():
        return settings
    raw = json.loads(path.read_text(encoding="utf-8"))
    settings.raw = raw
    extensions = raw.get("extensions", {})
    durable = extensions.get("durableTask", {})
    settings.hub_name = resolve_hub_name(durable.get("hubName"))
    if "maxConcurrentActivityFunctions" in durable:
        settings.max_concurrent_activities = int(durable["maxConcurrentActivityFunctions"])
        if settings.max_concurrent_activities < 1:
            raise IndexingError("host.json: maxConcurrentActivityFunctions must be at least 1")
    settings.route_prefix = str(extensions.get("http", {}).get("routePrefix", "api")).strip("/")
    queues = extensions.get("queues", {})
    settings.max_dequeue_count = int(queues.get("maxDequeueCount", 5))
    settings.visibility_timeout = parse_timespan(queues.get("visibilityTimeout", "00:00:00"))
    settings.batch_size = min(int(queues.get("batchSize", 16)), 32)
    encoding = str(queues.get("messageEncoding", "base64")).lower()
    if encoding not in ("base64", "none"):
        raise IndexingError(f"host.json: messageEncoding must be base64 or none, not {encoding!r}")
    settings.message_encoding = encoding
    settings.max_polling_interval = parse_timespan(queues.get("maxPollingInterval", "00:01:00"))
    return settings


def import_app(module_name: str) -> tuple[Any, Path | None]:
    """Import `module_name` and find its app the way the worker does (exactly one FunctionRegister)."""
    worker.discover(module_name)
    app = worker.find_app(module_name)
    file = getattr(sys.modules[module_name], "__file__", None)
    return app, Path(file).resolve().parent if file else None


def index_app(app: Any) -> dict[str, FunctionInfo]:
    """Index the app's functions; reject duplicates and unknown triggers."""
    app.functions_bindings = None  # get_functions() is not idempotent: reset its duplicate tracker
    try:
        functions = app.get_functions()
    except ValueError as exc:
        raise IndexingError(f"the app does not index: {exc}") from exc
    loaded = worker.load(functions)
    index: dict[str, FunctionInfo] = {}
    seen: dict[str, str] = {}
    for function in functions:
        name = function.get_function_name()
        if name.lower() in seen:
            raise IndexingError(f"duplicate function name {name!r} (function names are case-insensitive)")
        seen[name.lower()] = name
        bindings = [json.loads(raw) for raw in function.get_raw_bindings()]
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1:
            raise IndexingError(f"function {name!r} must have exactly one trigger, has {len(triggers)}")
        trigger = triggers[0]
        if trigger["type"] not in TRIGGER_TYPES:
            raise IndexingError(f"function {name!r}: devhost does not support trigger type {trigger['type']!r}")
        clients = [str(b["name"]) for b in bindings if b.get("type") in CLIENT_BINDING_TYPES]
        index[name] = FunctionInfo(name=name, trigger_type=str(trigger["type"]), trigger=trigger,
                                   bindings=bindings, user_function=function.get_user_function(),
                                   client_params=clients, loaded=loaded[name])
    return index


def durable_name(info: FunctionInfo) -> str:
    """The name orchestrations call a function by: activity=/orchestration= setting, else the function name."""
    return str(info.trigger.get("activity") or info.trigger.get("orchestration") or info.name)
