"""The restore request wire format: validation with field paths, defaults, and the round trip."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.errors import RequestValidationError
from pgflex_restore.ids import BackupInstanceId
from pgflex_restore.models import RecoveryPointChoice, RestoreRequest

BI = ("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/vault"
      "/backupInstances/pg-1")
URL = "https://acct.blob.core.windows.net/restores"
ALLOW = (URL, "http://127.0.0.1:10000/devstoreaccount1/restores")


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"backupInstance": BI, "target": {"containerUrl": URL, "filePrefix": "pg1"}}
    data.update(overrides)
    return data


def errors_of(data: object) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as info:
        RestoreRequest.from_dict(data, allowlist=ALLOW)
    return {e.path: e.code for e in info.value.errors}


def test_minimal_request_defaults() -> None:
    """Only backupInstance and target: latest point, Standard rehydration, P15D, not validate-only."""
    req = RestoreRequest.from_dict(body(), allowlist=ALLOW)
    assert req.backup_instance == BackupInstanceId.parse(BI)
    assert req.recovery_point == RecoveryPointChoice("latest")
    assert req.target_container_url == URL and req.file_prefix == "pg1"
    assert (req.rehydration_priority, req.rehydration_retention, req.validate_only) == ("Standard", "P15D", False)
    assert req.data_store is None and req.restore_location is None and req.request_id is None


def test_full_request_and_round_trip() -> None:
    """Every field parses; to_dict gives wire JSON that parses back to an equal request."""
    data = body(
        backupInstance={"subscriptionId": "sub", "resourceGroup": "rg", "vaultName": "vault",
                        "backupInstanceName": "pg-1"},
        recoveryPoint="latest",
        before="2026-11-01T03:00:00+01:00",
        target={"containerUrl": "HTTPS://ACCT.blob.core.windows.net/restores/", "filePrefix": "drill/pg1"},
        restoreLocation="WestEurope",
        dataStore="archivestore",
        rehydrationPriority="high",
        rehydrationRetentionDuration="p10d",
        validateOnly=True,
        requestId="req-1:a.b_c",
    )
    req = RestoreRequest.from_dict(data, allowlist=ALLOW)
    assert req.recovery_point == RecoveryPointChoice("before", None, datetime(2026, 11, 1, 2, tzinfo=UTC))
    assert req.target_container_url == URL
    assert (req.restore_location, req.data_store, req.rehydration_priority) == ("westeurope", "ArchiveStore", "High")
    assert req.rehydration_retention == "P10D" and req.validate_only and req.request_id == "req-1:a.b_c"
    wire = req.to_dict()
    assert wire["before"] == "2026-11-01T02:00:00Z" and wire["backupInstance"] == BI
    assert RestoreRequest.from_dict(wire, allowlist=ALLOW) == req


def test_recovery_point_by_id_and_full_id() -> None:
    """A recovery point id, or its full ARM id under the same instance."""
    req = RestoreRequest.from_dict(body(recoveryPoint="7fb2cddd-c5b3"), allowlist=ALLOW)
    assert req.recovery_point == RecoveryPointChoice.by_id("7fb2cddd-c5b3")
    assert req.to_dict()["recoveryPoint"] == "7fb2cddd-c5b3"
    full = RestoreRequest.from_dict(body(recoveryPoint=BI.upper().replace("/SUBSCRIPTIONS", "/subscriptions")
                                         + "/recoveryPoints/rp9"), allowlist=ALLOW)
    assert full.recovery_point.recovery_point_id == "rp9"


def test_default_file_prefix() -> None:
    """filePrefix defaults to the caller's value, else restore-<requestId>, else restore-<instance>."""
    no_prefix = body(target={"containerUrl": URL})
    assert RestoreRequest.from_dict({**no_prefix, "requestId": "r1"}, allowlist=ALLOW).file_prefix == "restore-r1"
    assert RestoreRequest.from_dict(no_prefix, allowlist=ALLOW, default_file_prefix="inst-9").file_prefix == "inst-9"
    assert RestoreRequest.from_dict({**no_prefix, "requestId": "r1"}, allowlist=ALLOW,
                                    default_file_prefix="restore-r1:x").file_prefix == "restore-r1-x"
    assert RestoreRequest.from_dict(no_prefix, allowlist=ALLOW).file_prefix == "restore-pg-1"
    with_colon = RestoreRequest.from_dict({**no_prefix, "requestId": "alert:42"}, allowlist=ALLOW)
    assert with_colon.file_prefix == "restore-alert-42"
    assert RestoreRequest.from_dict(no_prefix, allowlist=ALLOW, default_file_prefix="/..").file_prefix == "restore"


def test_loopback_target_allowed_when_listed() -> None:
    """The Azurite path-style URL works when on the allowlist."""
    req = RestoreRequest.from_dict(
        body(target={"containerUrl": "http://127.0.0.1:10000/devstoreaccount1/restores"}), allowlist=ALLOW)
    assert req.target_container_url == ALLOW[1]


def test_all_errors_reported_at_once() -> None:
    """Every bad field is reported in one error with its path."""
    data = {
        "backupInstance": "/subscriptions/x",
        "recoveryPoint": 5,
        "before": "yesterday",
        "target": {"containerUrl": "https://acct.blob.core.windows.net/c?sig=1", "filePrefix": "../x", "sas": 1},
        "restoreLocation": "West Europe!",
        "dataStore": "SnapshotStore",
        "rehydrationPriority": "Urgent",
        "rehydrationRetentionDuration": "7D",
        "validateOnly": "yes",
        "requestId": "has space",
        "befor": "typo",
    }
    found = errors_of(data)
    assert set(found) == {
        "backupInstance", "recoveryPoint", "before", "target.containerUrl", "target.filePrefix", "target.sas",
        "restoreLocation", "dataStore", "rehydrationPriority", "rehydrationRetentionDuration", "validateOnly",
        "requestId", "befor",
    }
    assert found["befor"] == "unknown" and found["target.sas"] == "unknown"


def test_raw_allowlist_entries_are_normalised() -> None:
    """An allowlist given in any case or with a trailing slash still matches; invalid entries never match."""
    req = RestoreRequest.from_dict(body(), allowlist=["HTTPS://ACCT.blob.core.windows.net/restores/", "junk"])
    assert req.target_container_url == URL


def test_target_not_on_allowlist_is_its_own_code() -> None:
    """A valid but unlisted container gets TargetNotAllowed, so HTTP can answer 403."""
    with pytest.raises(RequestValidationError) as info:
        RestoreRequest.from_dict(body(target={"containerUrl": "https://other.blob.core.windows.net/restores"}),
                                 allowlist=ALLOW)
    assert info.value.target_not_allowed
    assert info.value.errors[0].path == "target.containerUrl"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([], "request"),
        ({"target": {"containerUrl": URL}}, "backupInstance"),
        (body(backupInstance=7), "backupInstance"),
        (body(backupInstance={"subscriptionId": "s", "resourceGroup": "r", "vaultName": "v"}),
         "backupInstance.backupInstanceName"),
        (body(backupInstance={"subscriptionId": "s", "resourceGroup": "r", "vaultName": "v",
                              "backupInstanceName": "a b"}), "backupInstance"),
        (body(backupInstance={"subscriptionId": "s", "resourceGroup": "r", "vaultName": "v",
                              "backupInstanceName": "b", "extra": 1}), "backupInstance.extra"),
        (body(target=None), "target"),
        (body(target="https://x"), "target"),
        (body(target={"filePrefix": "x"}), "target.containerUrl"),
        (body(recoveryPoint=""), "recoveryPoint"),
        (body(recoveryPoint="rp 1"), "recoveryPoint"),
        (body(recoveryPoint="rp1", before="2026-01-01T00:00:00Z"), "before"),
        (body(before="2026-01-01T00:00:00"), "before"),
        (body(recoveryPoint="/subscriptions/x/recoveryPoints/y"), "recoveryPoint"),
        (body(recoveryPoint=BI.replace("pg-1", "pg-2") + "/recoveryPoints/rp"), "recoveryPoint"),
        (body(rehydrationRetentionDuration="PT0S"), "rehydrationRetentionDuration"),
        (body(rehydrationRetentionDuration=15), "rehydrationRetentionDuration"),
        (body(requestId="x" * 101), "requestId"),
    ],
)
def test_single_errors(data: object, path: str) -> None:
    """Each bad input names its field."""
    assert path in errors_of(data)


def test_null_optional_fields_mean_absent() -> None:
    """JSON null for an optional field is the same as leaving it out."""
    req = RestoreRequest.from_dict(body(recoveryPoint=None, before=None, dataStore=None), allowlist=ALLOW)
    assert req.recovery_point.mode == "latest"


def test_choice_invariants() -> None:
    """RecoveryPointChoice refuses inconsistent combinations and describes itself."""
    with pytest.raises(ValueError):
        RecoveryPointChoice("id")
    with pytest.raises(ValueError):
        RecoveryPointChoice("before")
    with pytest.raises(ValueError):
        RecoveryPointChoice("latest", "x")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert RecoveryPointChoice.latest(when) == RecoveryPointChoice("before", None, when)
    assert RecoveryPointChoice.latest().describe() == "latest recovery point"
    assert "2026-01-01T00:00:00Z" in RecoveryPointChoice.latest(when).describe()
    assert "rp1" in RecoveryPointChoice.by_id("rp1").describe()


@given(
    st.sampled_from(["latest", "rp-1", "abc.def"]),
    st.none() | st.sampled_from(["VaultStore", "ArchiveStore"]),
    st.booleans(),
    st.none() | st.from_regex(r"[A-Za-z0-9\-_.:]{1,20}", fullmatch=True),
)
def test_round_trip_property(point: str, store: str | None, validate: bool, request_id: str | None) -> None:
    """from_dict(to_dict(r)) == r for any valid request."""
    data = body(recoveryPoint=point, validateOnly=validate)
    if store:
        data["dataStore"] = store
    if request_id:
        data["requestId"] = request_id
    req = RestoreRequest.from_dict(data, allowlist=ALLOW)
    assert RestoreRequest.from_dict(req.to_dict(), allowlist=ALLOW) == req


def test_preflight_is_on_unless_the_request_turns_it_off() -> None:
    """``preflight`` defaults to true, is always written on the wire (the orchestrator runs it only when the plan
    says so), and must be a boolean."""
    assert RestoreRequest.from_dict(body(), allowlist=ALLOW).preflight is True
    off = RestoreRequest.from_dict(body(preflight=False), allowlist=ALLOW)
    assert off.preflight is False and off.to_dict()["preflight"] is False
    assert RestoreRequest.from_dict(off.to_dict(), allowlist=ALLOW) == off
    assert RestoreRequest.from_dict(body(), allowlist=ALLOW).to_dict()["preflight"] is True
    assert errors_of(body(preflight="no")) == {"preflight": "invalid"}
