"""Turn DataProtection response bodies into small frozen dataclasses that cross the durable boundary as JSON.

Every parser tolerates missing optional fields (the service and its examples leave many out) and keeps only
what the app uses; ``to_dict``/``from_dict`` round-trip so activities can return them as plain dicts.
Jobs live in ``jobs.py`` and CloudError in ``cloud_error.py``; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from .cloud_error import parse_cloud_error
from .jobs import Job, parse_job
from .timeutil import format_datetime, parse_datetime, parse_service_datetime
from .wire import camel_case

__all__ = [
    "BackupInstance",
    "DataStoreDetails",
    "Job",
    "OperationState",
    "OperationStatus",
    "RecoveryPoint",
    "parse_backup_instance",
    "parse_cloud_error",
    "parse_job",
    "parse_operation_result",
    "parse_operation_status",
    "parse_recovery_point",
]

OperationState = Literal["running", "succeeded", "failed", "canceled"]
_TERMINAL: dict[str, OperationState] = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
    "cancelled": "canceled",
}
_UNUSABLE_STATES = frozenset({"deleted", "deleteinprogress", "delete_in_progress", "failed", "invalid"})


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _dt_out(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def _dt_in(value: object) -> datetime | None:
    return parse_service_datetime(value)


def _props(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    props = resource.get("properties")
    return props if isinstance(props, Mapping) else {}


@dataclass(frozen=True)
class DataStoreDetails:
    """One copy of a recovery point (VaultStore, ArchiveStore, ...) and whether it can be restored from."""

    type: str
    state: str | None = None
    visible: bool | None = None
    creation_time: datetime | None = None
    expiry_time: datetime | None = None
    rehydration_status: str | None = None
    rehydration_expiry_time: datetime | None = None

    @property
    def usable(self) -> bool:
        """Visible (or not stated) and not deleted/failed: the service can restore from this copy."""
        state = (self.state or "").replace(" ", "").lower()
        return self.visible is not False and state not in _UNUSABLE_STATES

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "type": self.type,
            "state": self.state,
            "visible": self.visible,
            "creationTime": _dt_out(self.creation_time),
            "expiryTime": _dt_out(self.expiry_time),
            "rehydrationStatus": self.rehydration_status,
            "rehydrationExpiryTime": _dt_out(self.rehydration_expiry_time),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataStoreDetails:
        """Inverse of to_dict."""
        return cls(
            type=str(data["type"]),
            state=_str(data.get("state")),
            visible=data.get("visible") if isinstance(data.get("visible"), bool) else None,
            creation_time=_dt_in(data.get("creationTime")),
            expiry_time=_dt_in(data.get("expiryTime")),
            rehydration_status=_str(data.get("rehydrationStatus")),
            rehydration_expiry_time=_dt_in(data.get("rehydrationExpiryTime")),
        )


def _parse_store(item: Mapping[str, Any]) -> DataStoreDetails | None:
    kind = _str(item.get("type"))
    if kind is None:
        return None
    visible = item.get("visible")
    return DataStoreDetails(
        type=kind,
        state=_str(item.get("state")),
        visible=visible if isinstance(visible, bool) else None,
        creation_time=_dt_in(item.get("creationTime")),
        expiry_time=_dt_in(item.get("expiryTime")),
        rehydration_status=_str(item.get("rehydrationStatus")),
        rehydration_expiry_time=_dt_in(item.get("rehydrationExpiryTime")),
    )


@dataclass(frozen=True)
class RecoveryPoint:
    """A recovery point; ``id`` is the resource name, which is what restore requests call recoveryPointId."""

    id: str
    arm_id: str | None
    time: datetime
    type: str | None = None
    stores: tuple[DataStoreDetails, ...] = ()
    expiry_time: datetime | None = None
    state: str | None = None
    friendly_name: str | None = None

    def _has(self, store: str) -> bool:
        return any(s.type.lower() == store.lower() and s.usable for s in self.stores)

    @property
    def in_vault_store(self) -> bool:
        """A usable VaultStore copy exists (or the service listed no stores at all: VaultStore is its default)."""
        return not self.stores or self._has("VaultStore")

    @property
    def in_archive_store(self) -> bool:
        """A usable ArchiveStore copy exists."""
        return self._has("ArchiveStore")

    @property
    def archive_only(self) -> bool:
        """Only an ArchiveStore copy is usable: the restore needs rehydration."""
        return self.in_archive_store and not self.in_vault_store

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "armId": self.arm_id,
            "time": format_datetime(self.time),
            "type": self.type,
            "stores": [s.to_dict() for s in self.stores],
            "expiryTime": _dt_out(self.expiry_time),
            "state": self.state,
            "friendlyName": self.friendly_name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecoveryPoint:
        """Inverse of to_dict."""
        return cls(
            id=str(data["id"]),
            arm_id=_str(data.get("armId")),
            time=parse_datetime(str(data["time"])),
            type=_str(data.get("type")),
            stores=tuple(DataStoreDetails.from_dict(s) for s in data.get("stores") or []),
            expiry_time=_dt_in(data.get("expiryTime")),
            state=_str(data.get("state")),
            friendly_name=_str(data.get("friendlyName")),
        )


def parse_recovery_point(resource: Mapping[str, Any]) -> RecoveryPoint:
    """Parse an ``AzureBackupRecoveryPointResource``; raises ValueError without a name or time."""
    props = _props(resource)
    name = _str(resource.get("name")) or _str(props.get("recoveryPointId"))
    if name is None:
        raise ValueError("recovery point has neither name nor properties.recoveryPointId")
    raw_time = props.get("recoveryPointTime")
    if not isinstance(raw_time, str):
        raise ValueError(f"recovery point {name} has no recoveryPointTime")
    stores = [
        store
        for item in props.get("recoveryPointDataStoresDetails") or []
        if isinstance(item, Mapping) and (store := _parse_store(item)) is not None
    ]
    return RecoveryPoint(
        id=name,
        arm_id=_str(resource.get("id")),
        time=parse_datetime(raw_time),
        type=_str(props.get("recoveryPointType")),
        stores=tuple(stores),
        expiry_time=_dt_in(props.get("expiryTime")),
        state=_str(props.get("recoveryPointState")),
        friendly_name=_str(props.get("friendlyName")),
    )


@dataclass(frozen=True)
class OperationStatus:
    """An ``OperationResource`` from an Azure-AsyncOperation URL, with its status reduced to four states."""

    status: str
    state: OperationState
    job_id: str | None = None
    error: dict[str, Any] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    id: str | None = None

    @property
    def done(self) -> bool:
        """Terminal: succeeded, failed or canceled."""
        return self.state != "running"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "status": self.status,
            "state": self.state,
            "jobId": self.job_id,
            "error": self.error,
            "startTime": _dt_out(self.start_time),
            "endTime": _dt_out(self.end_time),
            "id": self.id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperationStatus:
        """Inverse of to_dict."""
        error = data.get("error")
        return cls(
            status=str(data["status"]),
            state=operation_state(str(data["status"])),
            job_id=_str(data.get("jobId")),
            error=dict(error) if isinstance(error, Mapping) else None,
            start_time=_dt_in(data.get("startTime")),
            end_time=_dt_in(data.get("endTime")),
            id=_str(data.get("id")),
        )


def operation_state(status: str) -> OperationState:
    """Succeeded/Failed/Canceled compared case-insensitively; anything else (Inprogress, Accepted...) runs."""
    return _TERMINAL.get(status.strip().lower(), "running")


def parse_operation_status(body: Mapping[str, Any]) -> OperationStatus:
    """Parse an OperationResource; a missing status counts as running (ARM says to keep polling)."""
    status = _str(body.get("status")) or "Unknown"
    props = _props(body)
    error = body.get("error")
    return OperationStatus(
        status=status,
        state=operation_state(status),
        job_id=_str(props.get("jobId")),
        error=dict(error) if isinstance(error, Mapping) and error else None,
        start_time=_dt_in(body.get("startTime")),
        end_time=_dt_in(body.get("endTime")),
        id=_str(body.get("id")),
    )


def parse_operation_result(body: Mapping[str, Any] | None) -> str | None:
    """The job id from an ``OperationJobExtendedInfo`` (full ARM id or bare name), or None."""
    if not isinstance(body, Mapping):
        return None
    job = _str(body.get("jobId"))
    if job is None:
        job = _str(_props(body).get("jobId"))
    return job


@dataclass(frozen=True)
class BackupInstance:
    """A protected data source in a vault; ``datasource_resource_id`` is the PostgreSQL server's ARM id."""

    arm_id: str
    name: str
    datasource_resource_id: str | None = None
    datasource_type: str | None = None
    friendly_name: str | None = None
    protection_status: str | None = None
    current_protection_state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {camel_case(key): value for key, value in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BackupInstance:
        """Inverse of to_dict."""
        return cls(
            arm_id=str(data.get("armId") or ""),
            name=str(data["name"]),
            datasource_resource_id=_str(data.get("datasourceResourceId")),
            datasource_type=_str(data.get("datasourceType")),
            friendly_name=_str(data.get("friendlyName")),
            protection_status=_str(data.get("protectionStatus")),
            current_protection_state=_str(data.get("currentProtectionState")),
        )


def parse_backup_instance(resource: Mapping[str, Any]) -> BackupInstance:
    """Parse a ``BackupInstanceResource``; the datasource comes from dataSourceInfo (set info as fallback)."""
    props = _props(resource)
    info = props.get("dataSourceInfo")
    info = info if isinstance(info, Mapping) else {}
    set_info = props.get("dataSourceSetInfo")
    set_info = set_info if isinstance(set_info, Mapping) else {}
    status = props.get("protectionStatus")
    arm_id = _str(resource.get("id")) or ""
    name = _str(resource.get("name")) or arm_id.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError("backup instance has neither id nor name")
    return BackupInstance(
        arm_id=arm_id,
        name=name,
        datasource_resource_id=_str(info.get("resourceID")) or _str(set_info.get("resourceID")),
        datasource_type=_str(info.get("datasourceType")) or _str(info.get("resourceType")),
        friendly_name=_str(props.get("friendlyName")),
        protection_status=_str(cast(Mapping[str, Any], status).get("status")) if isinstance(status, Mapping) else None,
        current_protection_state=_str(props.get("currentProtectionState")),
    )
