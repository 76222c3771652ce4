"""The load's request bodies against the API descriptions of Microsoft.App 2025-07-01 and Microsoft.DBforPostgreSQL
2025-08-01 (strict: no field the service does not define), and the answers the app parses against theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgflex_restore.load_arm import (
    configuration_body,
    job_template,
    load_request,
    parse_configuration,
    parse_execution,
    start_body,
)
from tests.contract.swagger import SwaggerSchemas

JOB_RESOURCE = {"properties": {"template": {
    "containers": [{"name": "loader", "image": "acr.io/loader:1", "command": ["python", "-m", "loader"],
                    "resources": {"cpu": 1.0, "memory": "2Gi"}, "probes": [{"type": "Liveness"}],
                    "volumeMounts": [{"volumeName": "scratch", "mountPath": "/scratch"}],
                    "env": [{"name": "LOADER_PG_USER", "value": "loader"}, {"name": "S", "secretRef": "s"}]}],
    "initContainers": [{"name": "init", "image": "busybox", "args": ["true"]}],
    "volumes": [{"name": "scratch", "storageType": "EmptyDir"}]}}}


def _schemas(spec_root: Path, provider: str, version: str, name: str, *, strict: bool) -> SwaggerSchemas:
    path = spec_root / provider / version / name
    if not path.exists():
        pytest.skip(f"{path} is not derived yet (scripts/derive_api_description.py)")
    return SwaggerSchemas.load(path, strict=strict)


def test_the_start_body_is_a_job_execution_template(spec_root: Path) -> None:
    schemas = _schemas(spec_root, "Microsoft.App", "2025-07-01", "jobs.json", strict=True)
    document = load_request(run_id="r", container_url="https://a/c", prefix="p", host="h", load={"server": "/s"},
                            replaceable=[])
    body = start_body(job_template(JOB_RESOURCE), document)
    assert schemas.errors(body, "JobExecutionTemplate") == []


def test_an_execution_the_service_describes_parses(spec_root: Path) -> None:
    schemas = _schemas(spec_root, "Microsoft.App", "2025-07-01", "jobs.json", strict=False)
    answer = {"name": "loader-1", "id": "/x/executions/loader-1", "type": "Microsoft.App/jobs/executions",
              "properties": {"status": "Succeeded", "startTime": "2026-11-01T08:00:00Z",
                             "endTime": "2026-11-01T08:10:00Z",
                             "template": {"containers": [{"name": "loader", "image": "i", "env": [
                                 {"name": "LOAD_REQUEST", "value": "{\"runId\": \"r\"}"}]}]}}}
    assert schemas.errors(answer, "JobExecution") == []
    execution = parse_execution(answer)
    assert (execution.state, execution.run_id) == ("succeeded", "r")


def test_the_configuration_put_is_a_configuration_for_update(spec_root: Path) -> None:
    strict = _schemas(spec_root, "Microsoft.DBforPostgreSQL", "2025-08-01", "flexibleservers.json", strict=True)
    assert strict.errors(configuration_body("pg_trgm,hstore"), "ConfigurationForUpdate") == []
    loose = _schemas(spec_root, "Microsoft.DBforPostgreSQL", "2025-08-01", "flexibleservers.json", strict=False)
    answer = {"id": "/x/configurations/azure.extensions", "name": "azure.extensions", "properties": {
        "value": "pg_trgm", "allowedValues": "pg_trgm,hstore", "dataType": "Set", "source": "user-override"}}
    assert loose.errors(answer, "Configuration") == []
    assert parse_configuration(answer).allowed_values == ("pg_trgm", "hstore")
