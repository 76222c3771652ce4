"""The app's settings: read once from the environment, validated up front, then passed around frozen.

A typo in an app setting must show at start-up with the setting's name, not surface hours later as an odd
restore failure; so ``from_env`` checks everything and reports every bad setting in one error, function_app.py
validates once when the host loads the app (one error in the host log), and that outcome is kept: every later
call gets the same Settings, or the same error, without reading the environment again. The app still loads with
bad settings, so its HTTP routes can answer with that error instead of the host serving nothing.
"""

from __future__ import annotations

import logging
import math
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from .arm_url import parse_origin, shown
from .errors import ConfigurationError
from .ids import ContainerAppJobId, VaultId
from .load_spec import normalize_load_target
from .notify.targets import NotifyTarget, parse_notify_targets
from .pacing import ARM_BUCKETS, READS, WRITES, Bucket, parse_arm_budget
from .target_urls import is_loopback_host, normalize_container_url
from .timeutil import cron_expression, parse_duration_or_seconds

SUPPORTED_API_VERSIONS = ("2021-07-01", "2026-06-01")
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"

# The order settings are documented (and reported) in.
SETTING_NAMES = (
    "ARM_ENDPOINT", "DATAPROTECTION_API_VERSION", "AZURE_CLIENT_ID", "RESTORE_TARGET_ALLOWLIST", "RESTORE_TIMEOUT",
    "POLL_MIN_SECONDS", "POLL_MAX_SECONDS", "POLL_DEFAULT_SECONDS", "HTTP_CONNECT_TIMEOUT_SECONDS",
    "HTTP_READ_TIMEOUT_SECONDS", "RESTORE_REQUESTS_QUEUE", "RESTORE_VAULTS", "ALERT_RESTORE_TARGET",
    "DRILL_SCHEDULE", "DRILL_PLAN", "DRILL_RESULTS_TABLE", "DRILL_ALERTS_QUEUE", "MAX_TRANSIENT_RETRIES",
    "ARM_BUDGET", "NOTIFY_TARGETS", "NOTIFY_LINK_BASE", "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "LOAD_TARGET_ALLOWLIST", "LOAD_JOB",
)

T = TypeVar("T")
DEFAULT_ARM_BUDGET: tuple[Bucket, Bucket] | None = (ARM_BUCKETS[READS], ARM_BUCKETS[WRITES])


@dataclass(frozen=True)
class Settings:
    """Every setting the app reads; field docs are in DESIGN.md's settings table."""

    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    api_version: str = "2026-06-01"
    client_id: str | None = None
    restore_target_allowlist: tuple[str, ...] = ()
    restore_timeout: timedelta = timedelta(hours=24)
    poll_min_seconds: float = 5.0
    poll_max_seconds: float = 600.0
    poll_default_seconds: float = 30.0
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 60.0
    restore_requests_queue: str = "restore-requests"
    restore_vaults: tuple[VaultId, ...] = ()
    alert_restore_target: str | None = None
    drill_schedule: str = "0 0 3 * * *"
    drill_plan: str | None = None
    drill_results_table: str = "restoredrills"
    drill_alerts_queue: str = "restore-drill-alerts"
    max_transient_retries: int = 8
    # (reads, writes) token buckets the app paces its ARM calls to; None turns pacing off.
    arm_budget: tuple[Bucket, Bucket] | None = DEFAULT_ARM_BUDGET
    # Servers restores may be loaded into: canonical flexible server ARM paths and host names, lower-case.
    load_target_allowlist: tuple[str, ...] = ()
    # The loader's Container Apps job; None: every restore request with a load section is refused.
    load_job: ContainerAppJobId | None = None
    # Where restores and drills report their start and end (their URLs are secrets: see NotifyTarget).
    notify_targets: tuple[NotifyTarget, ...] = ()
    # The app's public URL, for absolute links in notifications; None: links are paths such as /api/restores/x.
    notify_link_base: str | None = None
    # Application Insights; None: no OpenTelemetry is exported (telemetry.py). Checked when first used, not here:
    # a bad one turns telemetry off with an error naming it, and never stops a restore.
    applicationinsights_connection_string: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Validate ``env`` (blank values count as unset); raise one ConfigurationError naming every bad setting."""
        problems: dict[str, str] = {}

        def read(name: str, parse: Callable[[str], T], default: T) -> T:
            raw = env.get(name)
            if raw is None or not raw.strip():
                return default
            try:
                return parse(raw.strip())
            except ValueError as exc:
                problems[name] = str(exc)
                return default

        no_urls: tuple[str, ...] = ()
        no_vaults: tuple[VaultId, ...] = ()
        no_targets: tuple[NotifyTarget, ...] = ()
        poll_min = read("POLL_MIN_SECONDS", _non_negative_float, 5.0)
        poll_max = read("POLL_MAX_SECONDS", _positive_float, 600.0)
        poll_default = read("POLL_DEFAULT_SECONDS", _positive_float, 30.0)
        settings = cls(
            arm_endpoint=read("ARM_ENDPOINT", _arm_endpoint, DEFAULT_ARM_ENDPOINT),
            api_version=read("DATAPROTECTION_API_VERSION", _api_version, "2026-06-01"),
            client_id=read("AZURE_CLIENT_ID", _client_id, None),
            restore_target_allowlist=read("RESTORE_TARGET_ALLOWLIST", _allowlist, no_urls),
            restore_timeout=read("RESTORE_TIMEOUT", parse_timeout, timedelta(hours=24)),
            poll_min_seconds=poll_min,
            poll_max_seconds=poll_max,
            poll_default_seconds=poll_default,
            http_connect_timeout=read("HTTP_CONNECT_TIMEOUT_SECONDS", _positive_float, 10.0),
            http_read_timeout=read("HTTP_READ_TIMEOUT_SECONDS", _positive_float, 60.0),
            restore_requests_queue=read("RESTORE_REQUESTS_QUEUE", _queue_name, "restore-requests"),
            restore_vaults=read("RESTORE_VAULTS", _vaults, no_vaults),
            alert_restore_target=read("ALERT_RESTORE_TARGET", normalize_container_url, None),
            drill_schedule=read("DRILL_SCHEDULE", _ncrontab, "0 0 3 * * *"),
            drill_plan=read("DRILL_PLAN", str, None),
            drill_results_table=read("DRILL_RESULTS_TABLE", _table_name, "restoredrills"),
            drill_alerts_queue=read("DRILL_ALERTS_QUEUE", _queue_name, "restore-drill-alerts"),
            max_transient_retries=read("MAX_TRANSIENT_RETRIES", _non_negative_int, 8),
            arm_budget=read("ARM_BUDGET", parse_arm_budget, DEFAULT_ARM_BUDGET),
            load_target_allowlist=read("LOAD_TARGET_ALLOWLIST", _load_targets, no_urls),
            load_job=read("LOAD_JOB", _load_job, None),
            notify_targets=read("NOTIFY_TARGETS", parse_notify_targets, no_targets),
            # On Azure the platform sets WEBSITE_HOSTNAME: the default base of links, unless one is configured.
            notify_link_base=read("NOTIFY_LINK_BASE", _link_base, _platform_link_base(env)),
            applicationinsights_connection_string=read("APPLICATIONINSIGHTS_CONNECTION_STRING", str, None),
        )
        poll_names = ("POLL_MIN_SECONDS", "POLL_DEFAULT_SECONDS", "POLL_MAX_SECONDS")
        if not any(n in problems for n in poll_names) and not poll_min <= poll_default <= poll_max:
            problems["POLL_DEFAULT_SECONDS"] = (
                "need POLL_MIN_SECONDS <= POLL_DEFAULT_SECONDS <= POLL_MAX_SECONDS, "
                f"got {poll_min} / {poll_default} / {poll_max}"
            )
        if problems:
            raise ConfigurationError({name: problems[name] for name in SETTING_NAMES if name in problems})
        return settings

    @property
    def http_timeout(self) -> tuple[float, float]:
        """``(connect, read)`` as requests wants it."""
        return (self.http_connect_timeout, self.http_read_timeout)

    @property
    def telemetry_enabled(self) -> bool:
        """Is OpenTelemetry exported (APPLICATIONINSIGHTS_CONNECTION_STRING set)?"""
        return bool(self.applicationinsights_connection_string)

    def target_allowed(self, container_url: str) -> bool:
        """Is this container URL on the allowlist (compared in normal form)?"""
        try:
            return normalize_container_url(container_url) in self.restore_target_allowlist
        except ValueError:
            return False


_cached: Settings | ConfigurationError | None = None


def get_settings() -> Settings:
    """The process-wide Settings, read from ``os.environ`` on first use."""
    global _cached  # noqa: PLW0603 - one cache per process is the point
    if _cached is None:
        try:
            _cached = Settings.from_env(os.environ)
        except ConfigurationError as exc:
            _cached = exc
    if isinstance(_cached, ConfigurationError):
        raise _cached
    return _cached


def validate_at_startup(log: logging.Logger) -> bool:
    """Read and check the settings once, when the app is loaded; a bad one is logged as one clear error."""
    try:
        get_settings()
    except ConfigurationError as exc:
        log.error("%s. Fix the app settings and restart the app; until then every restore is refused.", exc)
        return False
    return True


def reset_settings_cache() -> None:
    """Forget the cached Settings (tests change the environment)."""
    global _cached  # noqa: PLW0603
    _cached = None


def _arm_endpoint(text: str) -> str:
    """The client's strict grammar first (no userinfo, backslash, whitespace or non-ASCII): the token's origin."""
    value = text.rstrip("/")
    try:
        parse_origin(value)
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError(f"{shown(text)!r} is not a usable URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{shown(text)!r} is not an https URL such as https://management.azure.com")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost)")
    if parts.query or parts.fragment or parts.username:
        raise ValueError("the ARM endpoint must have no query, fragment or credentials")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"


def _link_base(text: str) -> str:
    """The app's public URL; errors never repeat it (a pasted URL may carry ?code=<function key>)."""
    value = text.rstrip("/")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("not an https URL such as https://<app>.azurewebsites.net")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("the link base must have no query, fragment or credentials (never a function key)")
    return value


def _platform_link_base(env: Mapping[str, str]) -> str | None:
    host = (env.get("WEBSITE_HOSTNAME") or "").strip()
    return f"https://{host}" if re.fullmatch(r"[A-Za-z0-9.-]{1,253}(?::\d{1,5})?", host) else None


def _api_version(text: str) -> str:
    if text not in SUPPORTED_API_VERSIONS:
        raise ValueError(f"{text!r} is not supported; use one of {', '.join(SUPPORTED_API_VERSIONS)}")
    return text


def _client_id(text: str) -> str:
    try:
        uuid.UUID(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a client id (a GUID)") from exc
    return text


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _allowlist(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for item in _split(text):
        try:
            out.append(normalize_container_url(item))
        except ValueError as exc:
            raise ValueError(f"entry {item!r}: {exc}") from exc
    return tuple(dict.fromkeys(out))


def _load_targets(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for item in _split(text):
        try:
            out.append(normalize_load_target(item))
        except ValueError as exc:
            raise ValueError(f"entry {item!r}: {exc}") from exc
    return tuple(dict.fromkeys(out))


def _load_job(text: str) -> ContainerAppJobId:
    try:
        return ContainerAppJobId.parse(text)
    except ValueError as exc:
        raise ValueError(f"not a Container Apps job ARM id (/subscriptions/.../providers/Microsoft.App/jobs/"
                         f"<name>): {exc}") from exc


def _vaults(text: str) -> tuple[VaultId, ...]:
    out: list[VaultId] = []
    for item in _split(text):
        try:
            out.append(VaultId.parse(item))
        except ValueError as exc:
            raise ValueError(f"entry {item!r}: {exc}") from exc
    return tuple(dict.fromkeys(out))


def parse_timeout(text: str) -> timedelta:
    """A deadline: ISO 8601 duration or seconds, longer than zero (RESTORE_TIMEOUT, the CLI's --timeout)."""
    value = parse_duration_or_seconds(text)
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a number") from exc
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a whole number") from exc
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _queue_name(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]", text):
        raise ValueError(f"{text!r} is not a valid queue name (3-63 lower-case letters, digits, single hyphens)")
    return text


def _table_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,62}", text):
        raise ValueError(f"{text!r} is not a valid table name (3-63 letters and digits, a letter first)")
    return text


def _ncrontab(text: str) -> str:
    cron_expression(text)
    return " ".join(text.split())
