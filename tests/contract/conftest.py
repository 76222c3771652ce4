"""Contract fixtures: the official swagger of each supported api-version, loaded once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.contract.swagger import SwaggerSchemas

API_VERSIONS = ("2021-07-01", "2026-06-01")


@pytest.fixture(scope="session")
def schemas(spec_root: Path) -> dict[str, SwaggerSchemas]:
    """Strict (closed-object) schemas per api-version, for request bodies."""
    return {v: SwaggerSchemas.load(spec_root / v / "dataprotection.json") for v in API_VERSIONS}


@pytest.fixture(scope="session")
def loose_schemas(spec_root: Path) -> dict[str, SwaggerSchemas]:
    """Open-object schemas per api-version, for responses (services may add fields)."""
    return {v: SwaggerSchemas.load(spec_root / v / "dataprotection.json", strict=False) for v in API_VERSIONS}


@pytest.fixture(scope="session")
def example(spec_root: Path) -> Any:
    """Load an x-ms-example file: example(version, "JobCRUD/GetJob.json")."""

    def load(version: str, name: str) -> dict[str, Any]:
        return dict(json.loads((spec_root / version / "examples" / name).read_text(encoding="utf-8")))

    return load
