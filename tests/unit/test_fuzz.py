"""Arbitrary JSON never crashes the request model or the response parsers: they fail only in documented ways."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pgflex_restore.errors import ApiError, RequestValidationError
from pgflex_restore.models import TOP_LEVEL_FIELDS, RestoreRequest
from pgflex_restore.parsing import (
    parse_backup_instance,
    parse_cloud_error,
    parse_job,
    parse_operation_result,
    parse_operation_status,
    parse_recovery_point,
)

ALLOW = ("https://acct.blob.core.windows.net/restores",)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=12)
_keys = st.sampled_from(sorted(TOP_LEVEL_FIELDS | {"containerUrl", "filePrefix", "subscriptionId", "name", "x"}))
_field_values = _json | st.sampled_from([
    "latest", "2026-11-01T02:00:00Z", "https://acct.blob.core.windows.net/restores", "P15D", "VaultStore",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v/backupInstances/b",
])
_requests = st.dictionaries(_keys, _field_values | st.dictionaries(_keys, _field_values, max_size=4), max_size=8)


@settings(max_examples=120, deadline=None)
@given(_requests | _json)
def test_request_model_fails_only_with_validation_errors(data: Any) -> None:
    """Any JSON either parses into a request that round-trips or raises RequestValidationError."""
    try:
        request = RestoreRequest.from_dict(data, allowlist=ALLOW)
    except RequestValidationError as exc:
        assert exc.errors and all(e.message for e in exc.errors)
        return
    assert RestoreRequest.from_dict(request.to_dict(), allowlist=ALLOW) == request


_resource = st.fixed_dictionaries(
    {}, optional={"id": _json, "name": _json, "status": _json, "startTime": _json, "endTime": _json,
                  "error": _json, "jobId": _json,
                  "properties": st.dictionaries(st.sampled_from(
                      ["recoveryPointTime", "recoveryPointDataStoresDetails", "status", "duration", "extendedInfo",
                       "errorDetails", "dataSourceInfo", "protectionStatus", "jobId", "startTime", "x"]),
                      _json, max_size=6)})


@settings(max_examples=120, deadline=None)
@given(_resource)
def test_parsers_fail_only_with_value_errors(resource: dict[str, Any]) -> None:
    """Parsers return a result or raise ValueError; status and result parsers never raise."""
    parse_operation_status(resource)
    parse_operation_result(resource)
    for parser in (parse_recovery_point, parse_job, parse_backup_instance):
        try:
            parsed = parser(resource)
        except ValueError:
            continue
        type(parsed).from_dict(parsed.to_dict())


@given(st.integers(400, 599), _json | st.binary(max_size=40), st.dictionaries(st.text(max_size=8), st.text(max_size=8)))
def test_cloud_error_never_raises(status: int, body: Any, headers: dict[str, str]) -> None:
    """Any error response becomes an ApiError."""
    if not isinstance(body, bytes | str | dict | type(None)):
        body = str(body)
    assert isinstance(parse_cloud_error(status, body, headers), ApiError)
