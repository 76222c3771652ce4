"""The restore request every entry point accepts (HTTP body, queue message, CLI), and its validation.

One wire format, camelCase JSON, documented in README. Validation collects every problem with its field path
before failing, so a caller fixes a request in one round trip; unknown fields are refused because a typo
(``"befor"``) silently ignored would restore the wrong point.

Default ``target.filePrefix`` when absent: the ``default_file_prefix`` the caller passes (the triggers pass the
restore's instance id), else ``restore-<requestId>``, else ``restore-<backupInstanceName>``; characters an explicit
prefix may not use become ``-``. Never a timestamp, so a replayed request builds the same body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast

from .errors import TARGET_NOT_ALLOWED, FieldError, RequestValidationError
from .ids import BackupInstanceId, RecoveryPointId
from .inputs import control_character_errors, excerpt
from .load_spec import LoadParser, LoadSpec, normalize_load_target
from .target_urls import normalize_container_url
from .timeutil import format_datetime, parse_datetime, parse_iso_duration

RecoveryPointMode = Literal["latest", "id", "before"]
DataStore = Literal["VaultStore", "ArchiveStore"]
RehydrationPriority = Literal["Standard", "High"]

TOP_LEVEL_FIELDS = frozenset(
    {
        "backupInstance", "recoveryPoint", "before", "target", "restoreLocation", "dataStore",
        "rehydrationPriority", "rehydrationRetentionDuration", "validateOnly", "requestId", "load", "preflight",
    }
)
_TARGET_FIELDS = frozenset({"containerUrl", "filePrefix"})
_BI_PARTS = {
    "subscriptionId": "subscription_id",
    "resourceGroup": "resource_group",
    "vaultName": "vault_name",
    "backupInstanceName": "backup_instance_name",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-_.:]{1,100}\Z")
_POINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.:]{0,199}\Z")
_FILE_PREFIX = re.compile(r"^(?!.*//)(?!.*\.\./)[A-Za-z0-9][A-Za-z0-9\-_./]{0,199}\Z")
_LOCATION = re.compile(r"^[a-z][a-z0-9]{1,49}\Z")

T = TypeVar("T")


@dataclass(frozen=True)
class RecoveryPointChoice:
    """Which recovery point: the newest, a given id, or the newest at or before an instant (aware UTC)."""

    mode: RecoveryPointMode = "latest"
    recovery_point_id: str | None = None
    before: datetime | None = None

    def __post_init__(self) -> None:
        if self.mode == "id" and not self.recovery_point_id:
            raise ValueError("mode 'id' needs recovery_point_id")
        if self.mode == "before" and (self.before is None or self.before.tzinfo is None):
            raise ValueError("mode 'before' needs an aware datetime")
        if self.mode != "id" and self.recovery_point_id is not None:
            raise ValueError("recovery_point_id only goes with mode 'id'")

    @classmethod
    def latest(cls, before: datetime | None = None) -> RecoveryPointChoice:
        """Newest point, optionally at or before ``before``."""
        return cls("before", None, before.astimezone(UTC)) if before else cls("latest")

    @classmethod
    def by_id(cls, recovery_point_id: str) -> RecoveryPointChoice:
        """A specific point by its id (the recovery point resource name)."""
        return cls("id", recovery_point_id, None)

    def describe(self) -> str:
        """Human wording for logs and custom status."""
        if self.mode == "id":
            return f"recovery point {self.recovery_point_id}"
        if self.mode == "before" and self.before is not None:
            return f"latest recovery point at or before {format_datetime(self.before)}"
        return "latest recovery point"


@dataclass(frozen=True)
class RestoreRequest:
    """A validated restore request. Build with ``from_dict``; ``to_dict`` gives the wire JSON back."""

    backup_instance: BackupInstanceId
    recovery_point: RecoveryPointChoice
    target_container_url: str
    file_prefix: str
    restore_location: str | None = None
    data_store: DataStore | None = None
    rehydration_priority: RehydrationPriority = "Standard"
    rehydration_retention: str = "P15D"
    validate_only: bool = False
    request_id: str | None = None
    load: LoadSpec | None = None
    # Check the target storage account, the vault's role on it and the rest before validating (pgflex_restore/
    # preflight.py): a blocking finding ends the restore before anything is posted.
    preflight: bool = True

    @classmethod
    def from_dict(
        cls, data: object, *, allowlist: Sequence[str], default_file_prefix: str | None = None,
        load_allowlist: Sequence[str] = (),
    ) -> RestoreRequest:
        """Validate wire JSON; raise RequestValidationError with every problem found.

        ``allowlist`` holds normalised container URLs (``Settings.restore_target_allowlist``), ``load_allowlist``
        the servers a ``load`` section may name (``Settings.load_target_allowlist``; empty: every load refused).
        """
        return _Parser(allowlist, default_file_prefix, load_allowlist).parse(data)

    def to_dict(self) -> dict[str, Any]:
        """The wire JSON (camelCase); ``from_dict(to_dict())`` gives an equal request."""
        out: dict[str, Any] = {"backupInstance": str(self.backup_instance)}
        choice = self.recovery_point
        out["recoveryPoint"] = choice.recovery_point_id if choice.mode == "id" else "latest"
        if choice.mode == "before" and choice.before is not None:
            out["before"] = format_datetime(choice.before)
        out["target"] = {"containerUrl": self.target_container_url, "filePrefix": self.file_prefix}
        if self.restore_location is not None:
            out["restoreLocation"] = self.restore_location
        if self.data_store is not None:
            out["dataStore"] = self.data_store
        out["rehydrationPriority"] = self.rehydration_priority
        out["rehydrationRetentionDuration"] = self.rehydration_retention
        out["validateOnly"] = self.validate_only
        if self.request_id is not None:
            out["requestId"] = self.request_id
        if self.load is not None:
            out["load"] = self.load.to_dict()
        # Always written: the orchestrator runs the pre-flight only when the plan says so, so an instance started
        # before the field existed replays as it ran.
        out["preflight"] = self.preflight
        return out


class _Parser:
    """Collects FieldErrors while reading one request, so every problem is reported at once."""

    def __init__(self, allowlist: Sequence[str], default_file_prefix: str | None,
                 load_allowlist: Sequence[str] = ()) -> None:
        self.allowlist = frozenset(_normalized(allowlist))
        self.load_allowlist = frozenset(_normalized_load_targets(load_allowlist))
        self.default_file_prefix = default_file_prefix
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str, code: str = "invalid") -> None:
        self.errors.append(FieldError(path, message, code))

    def field(self, data: dict[str, Any], path: str, key: str, check: Callable[[Any], T]) -> T | None:
        if key not in data or data[key] is None:
            return None
        try:
            return check(data[key])
        except (ValueError, TypeError) as exc:
            self.fail(path, str(exc))
            return None

    def parse(self, data: object) -> RestoreRequest:
        if not isinstance(data, dict):
            raise RequestValidationError([FieldError("request", "the request must be a JSON object", "type")])
        self.errors.extend(control_character_errors(data))
        for key in sorted(set(data) - TOP_LEVEL_FIELDS):
            self.fail(key, f"unknown field {excerpt(key)}; allowed: {', '.join(sorted(TOP_LEVEL_FIELDS))}", "unknown")
        bi = self.backup_instance(data.get("backupInstance"))
        choice = self.recovery_point(data, bi)
        url, prefix = self.target(data.get("target"))
        location = self.field(data, "restoreLocation", "restoreLocation", _location)
        store = self.field(data, "dataStore", "dataStore", _enum("VaultStore", "ArchiveStore"))
        priority = self.field(data, "rehydrationPriority", "rehydrationPriority", _enum("Standard", "High"))
        retention = self.field(data, "rehydrationRetentionDuration", "rehydrationRetentionDuration", _retention)
        validate_only = self.field(data, "validateOnly", "validateOnly", _bool)
        request_id = self.field(data, "requestId", "requestId", _request_id)
        preflight = self.field(data, "preflight", "preflight", _bool)
        load = LoadParser(self.load_allowlist, self.fail).parse(data["load"]) if data.get("load") is not None else None
        if self.errors or bi is None or choice is None or url is None:
            raise RequestValidationError(self.errors or [FieldError("request", "invalid request")])
        if prefix is None:
            prefix = _safe_prefix(
                self.default_file_prefix
                or (f"restore-{request_id}" if request_id else f"restore-{bi.backup_instance_name}")
            )
        return RestoreRequest(
            backup_instance=bi,
            recovery_point=choice,
            target_container_url=url,
            file_prefix=prefix,
            restore_location=location,
            data_store=cast(DataStore | None, store),
            rehydration_priority=cast(RehydrationPriority, priority or "Standard"),
            rehydration_retention=retention or "P15D",
            validate_only=bool(validate_only),
            request_id=request_id,
            load=load,
            preflight=True if preflight is None else preflight,
        )

    def backup_instance(self, value: object) -> BackupInstanceId | None:
        if value is None:
            self.fail("backupInstance", "required: a backup instance ARM id or its four parts", "required")
            return None
        if isinstance(value, str):
            try:
                return BackupInstanceId.parse(value)
            except ValueError as exc:
                self.fail("backupInstance", str(exc))
                return None
        if not isinstance(value, dict):
            self.fail("backupInstance", "must be an ARM id string or an object with the four parts", "type")
            return None
        return self.backup_instance_parts(value)

    def backup_instance_parts(self, value: dict[str, Any]) -> BackupInstanceId | None:
        before = len(self.errors)
        for key in sorted(set(value) - set(_BI_PARTS)):
            self.fail(f"backupInstance.{key}", f"unknown field {excerpt(key)}", "unknown")
        for key in _BI_PARTS:
            if not isinstance(value.get(key), str) or not value[key].strip():
                self.fail(f"backupInstance.{key}", "required: a non-empty string", "required")
        if len(self.errors) > before:
            return None
        try:
            return BackupInstanceId.from_parts(*(value[k] for k in _BI_PARTS))
        except ValueError as exc:
            self.fail("backupInstance", str(exc))
            return None

    def recovery_point(self, data: dict[str, Any], bi: BackupInstanceId | None) -> RecoveryPointChoice | None:
        raw = data.get("recoveryPoint", "latest")
        before = self.field(data, "before", "before", parse_datetime)
        if raw is None:
            raw = "latest"
        if not isinstance(raw, str) or not raw.strip():
            self.fail("recoveryPoint", "must be \"latest\" or a recovery point id", "type")
            return None
        text = raw.strip()
        if text.lower() == "latest":
            if "before" in data and data["before"] is not None and before is None:
                return None
            return RecoveryPointChoice("before", None, before) if before else RecoveryPointChoice("latest")
        if data.get("before") is not None:
            self.fail("before", "only allowed with recoveryPoint \"latest\"", "conflict")
        point = self.point_id(text, bi)
        return RecoveryPointChoice.by_id(point) if point else None

    def point_id(self, text: str, bi: BackupInstanceId | None) -> str | None:
        if text.startswith("/"):
            try:
                rp = RecoveryPointId.parse(text)
            except ValueError as exc:
                self.fail("recoveryPoint", str(exc))
                return None
            if bi is not None and not rp.backup_instance.same_as(bi):
                self.fail("recoveryPoint", "the recovery point belongs to another backup instance", "conflict")
                return None
            text = rp.recovery_point_id
        if not _POINT_ID.match(text):
            self.fail("recoveryPoint", f"{excerpt(text)} is not a recovery point id")
            return None
        return text

    def target(self, value: object) -> tuple[str | None, str | None]:
        if value is None:
            self.fail("target", "required: {\"containerUrl\": ..., \"filePrefix\": ...}", "required")
            return None, None
        if not isinstance(value, dict):
            self.fail("target", "must be an object with containerUrl and optional filePrefix", "type")
            return None, None
        for key in sorted(set(value) - _TARGET_FIELDS):
            self.fail(f"target.{key}", f"unknown field {excerpt(key)}", "unknown")
        url: str | None = None
        raw_url = value.get("containerUrl")
        if not isinstance(raw_url, str) or not raw_url.strip():
            self.fail("target.containerUrl", "required: the https URL of a blob container", "required")
        else:
            try:
                url = normalize_container_url(raw_url)
            except ValueError as exc:
                self.fail("target.containerUrl", str(exc))
            else:
                if url not in self.allowlist:
                    self.fail(
                        "target.containerUrl",
                        f"{url} is not on RESTORE_TARGET_ALLOWLIST; restores may only write to allowed containers",
                        TARGET_NOT_ALLOWED,
                    )
                    url = None
        prefix = self.field(value, "target.filePrefix", "filePrefix", _file_prefix)
        return url, prefix


def _safe_prefix(text: str) -> str:
    """A derived file prefix in the characters an explicit one may use (``:`` and the like become ``-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9\-_./]", "-", text).replace("..", "-").strip("/")[:200]
    return cleaned if _FILE_PREFIX.match(cleaned) else "restore"


def _normalized(urls: Sequence[str]) -> list[str]:
    """Allowlist entries in normal form (Settings already normalises; raw lists from callers work too)."""
    out = []
    for url in urls:
        try:
            out.append(normalize_container_url(url))
        except ValueError:
            continue  # an invalid entry can never match a valid target
    return out


def _normalized_load_targets(entries: Sequence[str]) -> list[str]:
    """Load allowlist entries in normal form (Settings already normalises; an invalid entry never matches)."""
    out = []
    for entry in entries:
        try:
            out.append(normalize_load_target(entry))
        except ValueError:
            continue
    return out


def _enum(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, str):
            for option in allowed:
                if value.strip().lower() == option.lower():
                    return option
        raise ValueError(f"must be one of {', '.join(allowed)}")

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _request_id(value: Any) -> str:
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        raise ValueError("must be 1-100 characters from A-Z a-z 0-9 - _ . :")
    return value


def _file_prefix(value: Any) -> str:
    if not isinstance(value, str) or not _FILE_PREFIX.match(value):
        raise ValueError("must be 1-200 characters from A-Z a-z 0-9 - _ . / starting with a letter or digit")
    return value


def _location(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not _LOCATION.match(text):
        raise ValueError("must be an Azure region name such as westeurope")
    return text


def _retention(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("must be an ISO 8601 duration such as P15D")
    text = value.strip().upper()
    if parse_iso_duration(text).total_seconds() <= 0:
        raise ValueError("must be longer than zero")
    return text
