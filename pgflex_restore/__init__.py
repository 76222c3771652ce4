"""The pure core: ARM ids, bodies, parsing, selection, polling, client. No Functions imports.

Modules, one job each:

- ``errors``     the exception tree (drawn in its docstring) and the advice each error gives
- ``ids``        ARM ids of vaults, backup instances, recovery points and jobs
- ``settings``   the frozen Settings read once from the environment
- ``models``     the restore request wire format and its validation
- ``targets``    restore target container URLs (shared by settings and models)
- ``bodies``     validateRestore / restore request bodies per api-version
- ``parsing``    response parsers (recovery points, operation status/result, backup instances; ``jobs`` for jobs,
                 ``cloud_error`` for error bodies)
- ``selection``  which recovery point and data store a request means
- ``polling``    wait times, backoff and deadlines (pure, replay-safe)
- ``timeutil``   ISO 8601 instants/durations and .NET TimeSpans
- ``lro``        handles of long-running operations (continuation tokens)
- ``client``     the Microsoft.DataProtection REST client (imports requests; azure-identity only lazily)
- ``load_spec``  a request's ``load`` section and the LOAD_TARGET_ALLOWLIST rules (docs/loading.md)
- ``load_arm``   the load's ARM shapes: server, azure.extensions, the loader job's start body and executions
- ``load_client`` the load's ARM calls (Microsoft.DBforPostgreSQL, Microsoft.App) on the client's transport
- ``load_report`` the loader's report in the result record, ``Load<Step>Failed`` errors, the ledger's rows
- ``openapi``    the HTTP API's OpenAPI 3.1 document (``openapi_schemas``, ``openapi_drills``: its schemas)
- ``telemetry_data`` what is exported as OpenTelemetry (names; a restore's spans, a drill's verdict), as data
- ``telemetry``  the export itself: Azure Monitor only with APPLICATIONINSIGHTS_CONNECTION_STRING, imported lazily

The names below are the stable surface; the client is not imported here so that ``import pgflex_restore``
stays free of ``requests``.
"""

from .errors import (
    ApiError,
    AuthError,
    ConfigurationError,
    ConflictError,
    DataProtectionError,
    FieldError,
    NoRecoveryPointError,
    NotFoundError,
    PgflexError,
    RequestValidationError,
    ServerError,
    ThrottledError,
    TransportError,
)
from .ids import BackupInstanceId, ContainerAppJobId, FlexibleServerId, RecoveryPointId, VaultId, job_guid
from .load_spec import LoadSpec
from .models import RecoveryPointChoice, RestoreRequest
from .polling import PollPolicy
from .settings import Settings, get_settings, reset_settings_cache

__all__ = [
    "ApiError",
    "AuthError",
    "BackupInstanceId",
    "ConfigurationError",
    "ConflictError",
    "ContainerAppJobId",
    "DataProtectionError",
    "FieldError",
    "FlexibleServerId",
    "LoadSpec",
    "NoRecoveryPointError",
    "NotFoundError",
    "PgflexError",
    "PollPolicy",
    "RecoveryPointChoice",
    "RecoveryPointId",
    "RequestValidationError",
    "RestoreRequest",
    "ServerError",
    "Settings",
    "ThrottledError",
    "TransportError",
    "VaultId",
    "get_settings",
    "job_guid",
    "reset_settings_cache",
]
