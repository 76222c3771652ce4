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
from .ids import BackupInstanceId, RecoveryPointId, VaultId, job_guid
from .models import RecoveryPointChoice, RestoreRequest
from .polling import PollPolicy
from .settings import Settings, get_settings, reset_settings_cache

__all__ = [
    "ApiError",
    "AuthError",
    "BackupInstanceId",
    "ConfigurationError",
    "ConflictError",
    "DataProtectionError",
    "FieldError",
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
