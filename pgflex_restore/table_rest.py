"""A few Table storage calls over plain HTTP, for the rows read and written on every ARM call's path.

The ARM budget (pacing.py) is consulted before every ARM call, the first one of a cold worker included. The
Tables SDK would bring azure-core and its pipeline into that first call (about 0.08 s of imports, which alone
breaks the cold-start goal); these four calls need only ``requests``, which the app imports anyway, and a
pooled session. Authentication is the connection string's account key (Shared Key, as the SDK signs it) or the
app's identity (a bearer token for Azure Storage), the two ways the Functions host connects AzureWebJobsStorage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from .errors import ConfigurationError
from .storage import CONNECTION, storage_credential

API_VERSION = "2019-02-02"
STORAGE_SCOPE = "https://storage.azure.com/.default"
_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class TableConflict(Exception):
    """The write lost a race: the row exists already (insert) or changed since it was read (replace)."""


@dataclass(frozen=True)
class TableEndpoint:
    """Where the account's Table service is and how to sign for it (``key`` None: bearer token)."""

    url: str
    account: str
    key: bytes | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TableEndpoint:
        """From AzureWebJobsStorage: a connection string, or the identity-based ``__tableServiceUri`` /
        ``__accountName`` settings. :raises ConfigurationError: neither is set."""
        connection = env.get(CONNECTION)
        if connection:
            return cls._from_connection_string(connection)
        explicit = env.get(f"{CONNECTION}__tableServiceUri")
        account = env.get(f"{CONNECTION}__accountName")
        if explicit:
            host = urlsplit(explicit).hostname or ""
            return cls(explicit.rstrip("/"), account or host.split(".")[0])
        if account:
            return cls(f"https://{account}.table.core.windows.net", account)
        raise ConfigurationError({CONNECTION: "not configured: set a connection string or "
                                              f"{CONNECTION}__accountName for an identity-based connection"})

    @classmethod
    def _from_connection_string(cls, text: str) -> TableEndpoint:
        parts = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in text.split(";") if p.strip())}
        if parts.get("usedevelopmentstorage", "").lower() == "true":
            return cls(f"http://127.0.0.1:10002/{_DEV_ACCOUNT}", _DEV_ACCOUNT, base64.b64decode(_DEV_KEY))
        account = parts.get("accountname")
        if not account or not parts.get("accountkey"):
            raise ConfigurationError({CONNECTION: "a connection string needs AccountName and AccountKey"})
        url = parts.get("tableendpoint") or (f"{parts.get('defaultendpointsprotocol', 'https')}://{account}.table."
                                              f"{parts.get('endpointsuffix', 'core.windows.net')}")
        return cls(url.rstrip("/"), account, base64.b64decode(parts["accountkey"]))


class TableRest:
    """Get, insert and conditionally replace entities of one table (created on first use)."""

    def __init__(self, endpoint: TableEndpoint, table: str, session: requests.Session | None = None,
                 credential: Any = None, timeout: tuple[float, float] = (5, 15)) -> None:
        self.endpoint = endpoint
        self.table = table
        self.session = session or requests.Session()
        self.timeout = timeout
        self._credential = credential if credential is not None or endpoint.key else storage_credential()
        self._created = False

    # -- the calls ----------------------------------------------------------------------------------------

    def get(self, partition: str, row: str) -> tuple[dict[str, Any], str] | None:
        """(entity, etag), or None when the row does not exist."""
        response = self._send("GET", self._entity_path(partition, row))
        if response.status_code == 404:
            if _error_code(response) == "TableNotFound":
                self._create_table()
            return None
        _check(response, 200)
        return response.json(), response.headers.get("ETag", "")

    def insert(self, entity: Mapping[str, Any]) -> None:
        """:raises TableConflict: the row exists already."""
        response = self._send("POST", f"/{self.table}", entity, {"Prefer": "return-no-content"})
        if response.status_code == 404 and _error_code(response) == "TableNotFound":
            self._create_table()
            response = self._send("POST", f"/{self.table}", entity, {"Prefer": "return-no-content"})
        if response.status_code == 409:
            raise TableConflict(_error_code(response))
        _check(response, 201, 204)

    def replace(self, entity: Mapping[str, Any], etag: str) -> None:
        """Replace the row only if it is unchanged since it was read with ``etag``. :raises TableConflict:"""
        path = self._entity_path(str(entity["PartitionKey"]), str(entity["RowKey"]))
        response = self._send("PUT", path, entity, {"If-Match": etag})
        if response.status_code in (404, 412):
            raise TableConflict(_error_code(response))
        _check(response, 204)

    # -- plumbing -----------------------------------------------------------------------------------------

    def _create_table(self) -> None:
        if not self._created:
            response = self._send("POST", "/Tables", {"TableName": self.table}, {"Prefer": "return-no-content"})
            if response.status_code != 409:  # TableAlreadyExists: another worker made it
                _check(response, 201, 204)
            self._created = True

    def _entity_path(self, partition: str, row: str) -> str:
        def key(value: str) -> str:
            return quote(value.replace("'", "''"), safe="")

        return f"/{self.table}(PartitionKey='{key(partition)}',RowKey='{key(row)}')"

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None,
              extra: Mapping[str, str] | None = None) -> requests.Response:
        url = self.endpoint.url + path
        data = json.dumps(body).encode() if body is not None else b""
        headers = {
            "x-ms-date": formatdate(usegmt=True),
            "x-ms-version": API_VERSION,
            "Accept": "application/json;odata=nometadata",
            "DataServiceVersion": "3.0;NetFx",
            **({"Content-Type": "application/json"} if body is not None else {}),
            **(extra or {}),
        }
        headers["Authorization"] = self._authorization(method, url, headers)
        return self.session.request(method, url, data=data or None, headers=headers, timeout=self.timeout)

    def _authorization(self, method: str, url: str, headers: Mapping[str, str]) -> str:
        if self.endpoint.key is None:
            return f"Bearer {self._credential.get_token(STORAGE_SCOPE).token}"
        # Shared Key for the Table service: verb, Content-MD5, Content-Type, date, then /account/path.
        resource = f"/{self.endpoint.account}{urlsplit(url).path}"
        text = "\n".join([method, "", headers.get("Content-Type", ""), headers["x-ms-date"], resource])
        signature = hmac.new(self.endpoint.key, text.encode(), hashlib.sha256).digest()
        return f"SharedKey {self.endpoint.account}:{base64.b64encode(signature).decode()}"


def _error_code(response: requests.Response) -> str:
    try:
        error = response.json().get("odata.error", {})
        return str(error.get("code") or response.headers.get("x-ms-error-code") or response.status_code)
    except ValueError:
        return str(response.headers.get("x-ms-error-code") or response.status_code)


def _check(response: requests.Response, *ok: int) -> None:
    if response.status_code not in ok:
        raise requests.HTTPError(f"Table storage answered {response.status_code} {_error_code(response)}",
                                 response=response)
