"""Every response body the emulator sends is made only of properties the official swagger declares, with the
declared JSON types, for the api-version asked (a strict walk of $ref, allOf and objectType discriminators)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator import VirtualClock
from tests.emulator.emusupport import BI_PATH, BV_PATH, Arm, restore_body

TYPES = {"string": str, "boolean": bool, "integer": int, "number": (int, float), "array": list, "object": dict}


class StrictWalker:
    """Walks a JSON value against swagger definitions; collects every undeclared key or wrong type."""

    def __init__(self, spec_root: Path, version: str) -> None:
        document = json.loads((spec_root / version / "dataprotection.json").read_text())
        self.defs: dict[str, Any] = document["definitions"]
        self.problems: list[str] = []

    def chain(self, name: str) -> list[str]:
        result = [name]
        for part in self.defs[name].get("allOf", []):
            if part["$ref"].startswith("#/definitions/"):
                result += self.chain(part["$ref"].rsplit("/", 1)[1])
        return result

    def inherited(self, name: str) -> dict[str, Any]:
        """Properties of common-types bases (ProxyResource, TrackedResource in 2026-06-01) kept in another file."""
        external = [part["$ref"] for ancestor in self.chain(name) for part in self.defs[ancestor].get("allOf", [])
                    if not part["$ref"].startswith("#/definitions/")]
        if not external:
            return {}
        fields: dict[str, Any] = {key: {"type": "string"} for key in ("id", "name", "type")} | {"systemData": {}}
        if any(ref.endswith("/TrackedResource") for ref in external):
            fields |= {"location": {"type": "string"}, "tags": {"type": "object", "additionalProperties": {}}}
        return fields

    def concrete(self, name: str, value: Any) -> str:
        base = next((n for n in self.chain(name) if "discriminator" in self.defs[n]), None)
        if base is None or not isinstance(value, dict):
            return name
        tag = value.get(self.defs[base]["discriminator"])
        for candidate, schema in self.defs.items():
            if base in self.chain(candidate) and schema.get("x-ms-discriminator-value", candidate) == tag:
                return candidate
        self.problems.append(f"unknown discriminator value {tag!r} for {base}")
        return name

    def walk(self, schema: dict[str, Any], value: Any, path: str) -> None:
        if value is None:
            return
        ref = schema.get("$ref")
        if ref is not None:
            if not ref.startswith("#/definitions/"):
                return
            name = self.concrete(ref.rsplit("/", 1)[1], value)
            props: dict[str, Any] = self.inherited(name)
            for ancestor in self.chain(name):
                props.update(self.defs[ancestor].get("properties", {}))
            top = self.defs[name]
            if props or top.get("type") == "object":
                self.walk_object(props, top.get("additionalProperties"), value, path)
            else:
                self.walk(top, value, path)
            return
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            self.walk_object(schema.get("properties", {}), schema.get("additionalProperties"), value, path)
        elif kind in TYPES and not isinstance(value, TYPES[kind]):  # type: ignore[arg-type]
            self.problems.append(f"{path}: expected {kind}, got {type(value).__name__}")
        elif kind == "array":
            for index, item in enumerate(value):
                self.walk(schema.get("items", {}), item, f"{path}[{index}]")

    def walk_object(self, props: dict[str, Any], extra: Any, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected object")
            return
        for key, item in value.items():
            if key in props:
                self.walk(props[key], item, f"{path}.{key}")
            elif isinstance(extra, dict):
                self.walk(extra, item, f"{path}.{key}")
            elif not extra:
                self.problems.append(f"{path}.{key}: not declared")


@pytest.mark.parametrize("version", ["2021-07-01", "2026-06-01"])
def test_response_bodies_use_only_declared_properties(
    arm: Arm, clock: VirtualClock, spec_root: Path, version: str
) -> None:
    walker = StrictWalker(spec_root, version)

    def check(definition: str, body: Any) -> None:
        walker.walk({"$ref": f"#/definitions/{definition}"}, body, definition)

    check("BackupVaultResource", arm.get(BV_PATH, api_version=version).json())
    check("BackupInstanceResourceList", arm.get(f"{BV_PATH}/backupInstances", api_version=version).json())
    check("AzureBackupRecoveryPointResourceList",
          arm.get(f"{BI_PATH}/recoveryPoints", api_version=version).json())
    rp = arm.latest_rp()
    check("AzureBackupRecoveryPointResource", arm.get(f"{BI_PATH}/recoveryPoints/{rp}", api_version=version).json())
    answer = arm.post(f"{BI_PATH}/restore", api_version=version, json=restore_body(rp))
    check("OperationResource", arm.get(answer.headers["Azure-AsyncOperation"]).json())
    clock.advance(60)
    status = arm.get(answer.headers["Azure-AsyncOperation"]).json()
    check("OperationResource", status)
    check("OperationJobExtendedInfo", arm.get(answer.headers["Location"]).json())
    job_id = status["properties"]["jobId"]
    check("AzureBackupJobResource", arm.get(job_id, api_version=version).json())
    clock.advance(600)
    check("AzureBackupJobResourceList", arm.get(f"{BV_PATH}/backupJobs", api_version=version).json())
    failed = arm.post(f"{BI_PATH}/validateRestore", api_version=version,
                      json={"restoreRequestObject": restore_body("missing-point")})
    clock.advance(60)
    check("OperationResource", arm.get(failed.headers["Azure-AsyncOperation"]).json())
    check("CloudError", arm.get(f"{BV_PATH}/backupJobs/nope", api_version=version).json())
    assert walker.problems == []


def test_the_walker_notices_undeclared_keys_and_wrong_types(spec_root: Path) -> None:
    walker = StrictWalker(spec_root, "2026-06-01")
    walker.walk({"$ref": "#/definitions/AzureBackupJobResource"},
                {"id": "x", "properties": {"status": 5, "invented": True}}, "job")
    assert walker.problems == ["job.properties.status: expected string, got int",
                               "job.properties.invented: not declared"]
