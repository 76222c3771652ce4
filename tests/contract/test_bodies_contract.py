"""Every body the app sends validates against the official swagger of both api-versions; wrong ones do not."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from pgflex_restore.bodies import build_restore_request, build_validate_request
from pgflex_restore.ids import BackupInstanceId
from pgflex_restore.models import RecoveryPointChoice, RestoreRequest
from pgflex_restore.parsing import DataStoreDetails, RecoveryPoint
from tests.contract.swagger import SwaggerSchemas

VERSIONS = ("2021-07-01", "2026-06-01")
BI = BackupInstanceId("s", "rg", "v", "pg-1")
SOURCE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _request(**kw: Any) -> RestoreRequest:
    values: dict[str, Any] = {"backup_instance": BI, "recovery_point": RecoveryPointChoice.latest(),
                              "target_container_url": "https://acct.blob.core.windows.net/restores",
                              "file_prefix": "pg1"}
    values.update(kw)
    return RestoreRequest(**values)


VARIANTS = {
    "vault": (_request(), ("VaultStore",)),
    "vault+location": (_request(restore_location="westeurope"), ("VaultStore",)),
    "archive-only": (_request(rehydration_priority="High", rehydration_retention="P10D"), ("ArchiveStore",)),
    "archive-asked": (_request(data_store="ArchiveStore"), ("VaultStore", "ArchiveStore")),
    "no-stores-listed": (_request(), ()),
}


def _body(version: str, variant: str, source: str | None = SOURCE) -> dict[str, Any]:
    req, stores = VARIANTS[variant]
    point = RecoveryPoint("rp1", None, T0, stores=tuple(DataStoreDetails(s) for s in stores))
    return build_restore_request(req, point, api_version=version, source_resource_id=source)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_restore_body_valid(schemas: dict[str, SwaggerSchemas], version: str, variant: str) -> None:
    """TriggerRestore's body parameter accepts every restore body we build."""
    spec = schemas[version]
    body = _body(version, variant)
    assert spec.errors(body, spec.body_definition("BackupInstances_TriggerRestore")) == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_validate_body_valid(schemas: dict[str, SwaggerSchemas], version: str, variant: str) -> None:
    """ValidateForRestore's body parameter accepts the wrapped body."""
    spec = schemas[version]
    wrapped = build_validate_request(_body(version, variant))
    assert spec.errors(wrapped, spec.body_definition("BackupInstances_ValidateForRestore")) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_operation_body_definitions_are_the_expected_ones(schemas: dict[str, SwaggerSchemas], version: str) -> None:
    """The spec's operations take the definitions the bodies are built for."""
    spec = schemas[version]
    assert spec.body_definition("BackupInstances_TriggerRestore") == "AzureBackupRestoreRequest"
    assert spec.body_definition("BackupInstances_ValidateForRestore") == "ValidateRestoreRequestObject"


def _mutations(version: str) -> dict[str, dict[str, Any]]:
    good = _body(version, "vault")
    out: dict[str, dict[str, Any]] = {}
    wrong_type = copy.deepcopy(good)
    wrong_type["objectType"] = "AzureBackupRecoveryPointBasedRestoreRequestX"
    out["wrong objectType"] = wrong_type
    wrong_target = copy.deepcopy(good)
    wrong_target["restoreTargetInfo"]["objectType"] = "RestoreFilesTarget"
    out["wrong target objectType"] = wrong_target
    no_prefix = copy.deepcopy(good)
    del no_prefix["restoreTargetInfo"]["targetDetails"]["filePrefix"]
    out["missing filePrefix"] = no_prefix
    no_point = copy.deepcopy(good)
    del no_point["recoveryPointId"]
    out["missing recoveryPointId"] = no_point
    bad_store = copy.deepcopy(good)
    bad_store["sourceDataStoreType"] = "TapeStore"
    out["unknown data store"] = bad_store
    bad_option = copy.deepcopy(good)
    bad_option["restoreTargetInfo"]["recoveryOption"] = "Overwrite"
    out["unknown recoveryOption"] = bad_option
    typo = copy.deepcopy(good)
    typo["restoreTargetInfo"]["targetDetails"]["filePrefx"] = "x"
    out["unknown field"] = typo
    rehydrate_missing = copy.deepcopy(good)
    rehydrate_missing["objectType"] = "AzureBackupRestoreWithRehydrationRequest"
    out["rehydration without priority"] = rehydrate_missing
    return out


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mutation", sorted(_mutations("2026-06-01")))
def test_validator_rejects_wrong_bodies(schemas: dict[str, SwaggerSchemas], version: str, mutation: str) -> None:
    """Negative controls: the validator really rejects broken bodies (so the positives mean something)."""
    spec = schemas[version]
    body = _mutations(version)[mutation]
    assert spec.errors(body, "AzureBackupRestoreRequest"), f"{mutation} was accepted by {version}"


@pytest.mark.parametrize(
    ("field_path", "value"),
    [(("sourceResourceId",), SOURCE),
     (("identityDetails",), {"useSystemAssignedIdentity": True}),
     (("restoreTargetInfo", "targetDetails", "targetResourceArmId"), "/subscriptions/s/x")],
)
def test_2026_only_fields_rejected_by_2021(schemas: dict[str, SwaggerSchemas], field_path: tuple[str, ...],
                                           value: Any) -> None:
    """Fields that only 2026-06-01 defines are valid there and refused by 2021-07-01."""
    body = _body("2026-06-01", "vault", source=None)
    node = body
    for key in field_path[:-1]:
        node = node[key]
    node[field_path[-1]] = value
    assert schemas["2026-06-01"].errors(body, "AzureBackupRestoreRequest") == []
    assert schemas["2021-07-01"].errors(body, "AzureBackupRestoreRequest")


def test_2021_body_never_carries_2026_fields(schemas: dict[str, SwaggerSchemas]) -> None:
    """Built for 2021-07-01 with a source id, the body still validates there (the id is left out)."""
    body = _body("2021-07-01", "archive-only")
    assert "sourceResourceId" not in body
    assert schemas["2021-07-01"].errors(body, "AzureBackupRestoreRequest") == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "name",
    ["BackupInstanceOperations/TriggerRestoreAsFiles.json", "BackupInstanceOperations/TriggerRestore.json",
     "BackupInstanceOperations/TriggerRestoreWithRehydration.json", "BackupInstanceOperations/ValidateRestore.json"],
)
def test_official_request_examples_validate(schemas: dict[str, SwaggerSchemas], example: Any, version: str,
                                            name: str) -> None:
    """Positive control: the spec's own request examples pass the strict validator."""
    data = example(version, name)
    spec = schemas[version]
    operation = "BackupInstances_ValidateForRestore" if "Validate" in name else "BackupInstances_TriggerRestore"
    assert spec.errors(data["parameters"]["parameters"], spec.body_definition(operation)) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_files_example_has_the_shape_we_build(example: Any, version: str) -> None:
    """Our vault-store body has the same keys as the official restore-as-files example (minus source id)."""
    official = example(version, "BackupInstanceOperations/TriggerRestoreAsFiles.json")["parameters"]["parameters"]
    ours = _body(version, "vault+location", source=None)

    def keys(node: Any, prefix: str = "") -> set[str]:
        if not isinstance(node, dict):
            return set()
        return {f"{prefix}{k}" for k in node} | {p for k, v in node.items() for p in keys(v, f"{prefix}{k}.")}

    assert keys(ours) <= keys(official) | {"sourceResourceId"}
    assert official["restoreTargetInfo"]["objectType"] == ours["restoreTargetInfo"]["objectType"]
