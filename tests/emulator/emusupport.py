"""Shared helpers for the emulator tests: the scenario, a restore request body, and a raw ARM client."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import requests

from emulator import EmulatorServer

SUB = "11111111-2222-3333-4444-555555555555"
RG = "backup-rg"
VAULT = "pg-vault"
BI = "pg-prod"
LOCATION = "westeurope"
SERVER_ID = f"/subscriptions/{SUB}/resourceGroups/pg-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-prod"
CONTAINER_URL = "https://restoresacct.blob.core.windows.net/restores"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BV_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DataProtection/backupVaults/{VAULT}"
BI_PATH = f"{BV_PATH}/backupInstances/{BI}"
ARCHIVED_RP = "0f0e0d0c-0000-4000-8000-0000000000a1"

BASE_SCENARIO: dict[str, Any] = {
    "pageSize": 10,
    "subscriptions": {SUB: {"resourceGroups": {RG: {"vaults": {VAULT: {
        "location": LOCATION,
        "storageRoleAssignments": [CONTAINER_URL],
        "backupInstances": {
            BI: {
                "serverId": SERVER_ID,
                "databases": ["appdb", "reporting"],
                "recoveryPoints": {"count": 25, "every": "P1D", "latest": "2026-03-01T02:00:00Z"},
                "timings": {"validateSeconds": 20, "validateRetryAfter": 10, "restoreSeconds": 60,
                            "restoreRetryAfter": 30, "jobSeconds": 600},
            },
            "pg-archive": {
                "serverId": SERVER_ID.replace("pg-prod", "pg-archive"),
                "recoveryPoints": [
                    {"id": ARCHIVED_RP, "time": "2025-06-01T02:00:00Z", "stores": ["ArchiveStore"]},
                ],
            },
        },
    }}}}}},
}


def scenario(**instance_overrides: Any) -> dict[str, Any]:
    """The base scenario with keys of the main instance (pg-prod) replaced."""
    data = copy.deepcopy(BASE_SCENARIO)
    vault = data["subscriptions"][SUB]["resourceGroups"][RG]["vaults"][VAULT]
    vault["backupInstances"][BI].update(instance_overrides)
    return data


def restore_body(rp_id: str, *, prefix: str = "restore1", url: str = CONTAINER_URL) -> dict[str, Any]:
    """A PostgreSQL flexible server restore-as-files request, as the Learn walkthrough writes it."""
    return {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": rp_id,
        "sourceDataStoreType": "VaultStore",
        "sourceResourceId": SERVER_ID,
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": LOCATION,
            "targetDetails": {"url": url, "filePrefix": prefix, "restoreTargetLocationType": "AzureBlobs"},
        },
    }


class Arm:
    """Raw HTTP against the emulator with a real token from its identity endpoint."""

    def __init__(self, server: EmulatorServer, api_version: str = "2026-06-01") -> None:
        self.server = server
        self.api_version = api_version
        self.session = requests.Session()
        self.token = self.get_token()

    def get_token(self, resource: str = "https://management.azure.com") -> str:
        answer = requests.get(
            self.server.identity_endpoint,
            params={"api-version": "2019-08-01", "resource": resource},
            headers={"X-IDENTITY-HEADER": self.server.identity_header},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def request(self, method: str, path: str, *, api_version: str | None = None, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.server.url + path
        params = kwargs.pop("params", {})
        if "api-version=" not in url:
            params.setdefault("api-version", api_version or self.api_version)
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.session.request(method, url, params=params, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def latest_rp(self, instance: str = BI) -> str:
        answer = self.get(f"{BV_PATH}/backupInstances/{instance}/recoveryPoints")
        return str(answer.json()["value"][0]["name"])


