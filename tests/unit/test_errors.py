"""The error tree: retryability, advice, string form and the dict round trip across the durable boundary."""

from __future__ import annotations

import json

import pytest

from pgflex_restore.errors import (
    ApiError,
    AuthError,
    ConfigurationError,
    ConflictError,
    DataProtectionError,
    FieldError,
    NoRecoveryPointError,
    NotFoundError,
    RequestValidationError,
    ServerError,
    ThrottledError,
    TransportError,
    advice_for,
    api_error_class,
    is_retryable,
)


def _api(status: int, code: str = "Code", message: str = "msg", **kw: object) -> ApiError:
    return api_error_class(status)(status=status, code=code, message=message, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, ApiError), (401, AuthError), (403, AuthError), (404, NotFoundError), (409, ConflictError),
     (429, ThrottledError), (500, ServerError), (503, ServerError)],
)
def test_status_maps_to_subclass(status: int, cls: type[ApiError]) -> None:
    """Each status family has its own class."""
    assert type(_api(status)) is cls


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(408, "x", True), (429, "x", True), (500, "x", True), (502, "x", True), (400, "x", False),
     (403, "x", False), (404, "x", False), (409, "Conflict", False), (409, "AnotherOperationInProgress", True),
     (409, "UserErrorOperationInProgress", True), (409, "RetryableErrorDueToAnotherOperation", True)],
)
def test_retryability(status: int, code: str, retryable: bool) -> None:
    """408/429/5xx retry; 409 only when another operation is in progress; other 4xx fail fast."""
    assert is_retryable(status, code) is retryable
    assert _api(status, code).retryable is retryable


def test_str_has_code_message_and_ids() -> None:
    """str() carries what a support case needs."""
    err = _api(400, "UserErrorBad", "the body is bad", correlation_id="corr-1", request_id="req-1")
    text = str(err)
    assert "UserErrorBad" in text and "the body is bad" in text and "corr-1" in text and "req-1" in text


def test_authorization_failed_names_role_and_scope() -> None:
    """403 AuthorizationFailed advice names Backup Operator and the scope ARM quoted."""
    scope = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v"
    err = _api(403, "AuthorizationFailed", f"The client 'x' does not have authorization ... over scope '{scope}'")
    assert "Backup Operator" in err.advice and scope in err.advice


def test_storage_role_advice_names_role_and_account() -> None:
    """A validation failure about the vault identity's storage role names the role and the account scope."""
    account = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct"
    err = _api(
        400, "UserErrorMissingRequiredPermissions", "Validation failed",
        details=[{"code": "X", "message": f"The vault MSI lacks Storage Blob Data Contributor on {account}."}],
    )
    assert "Storage Blob Data Contributor" in err.advice and account in err.advice
    assert not err.retryable
    generic = advice_for(400, "X", "missing storage permission")
    assert "the target storage account" in generic


@pytest.mark.parametrize(
    ("status", "code", "message", "needle"),
    [
        (401, "ExpiredAuthenticationToken", "expired", "AZURE_CLIENT_ID"),
        (404, "ResourceNotFound", "gone", "backup instance id"),
        (409, "AnotherOperationInProgress", "busy", "another operation"),
        (409, "UserErrorFileExists", "exists", "filePrefix"),
        (429, "TooManyRequests", "slow down", "Retry-After"),
        (503, "ServiceUnavailable", "down", "correlation id"),
        (408, "Timeout", "slow", "transiently"),
        (400, "CrossSubscriptionRestoreDisabled", "CrossSubscription restore is disabled", "cross-subscription"),
        (400, "X", "AllowCrossTenantReplication must be true", "AllowCrossTenantReplication"),
        (400, "X", "something else", "fix the request"),
    ],
)
def test_advice_is_actionable(status: int, code: str, message: str, needle: str) -> None:
    """Every family of error says what to do."""
    assert needle in advice_for(status, code, message)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429, 500])
def test_api_error_dict_is_plain_json_with_every_field(status: int) -> None:
    """to_dict is JSON-able and keeps what the orchestrator and the result record read."""
    err = _api(status, "C", "m", target="t", details=[{"code": "d"}], request_id="r", correlation_id="c",
               retry_after="7")
    data = json.loads(json.dumps(err.to_dict()))
    assert data["type"] == type(err).__name__ and data["status"] == status and data["code"] == "C"
    assert (data["correlationId"], data["retryAfter"], data["retryable"]) == ("c", "7", err.retryable)


def test_transport_error_dict_says_whether_the_request_was_sent() -> None:
    """request_sent survives the boundary; transport errors are retryable."""
    for sent in (True, False):
        data = json.loads(json.dumps(TransportError("boom", request_sent=sent).to_dict()))
        assert data["type"] == "TransportError" and data["requestSent"] is sent and data["retryable"]


def test_configuration_error_names_every_setting() -> None:
    """One error lists all bad settings; .setting is the first."""
    err = ConfigurationError({"ARM_ENDPOINT": "bad", "POLL_MIN_SECONDS": "negative"})
    assert err.setting == "ARM_ENDPOINT" and err.settings == ("ARM_ENDPOINT", "POLL_MIN_SECONDS")
    assert "ARM_ENDPOINT" in str(err) and "POLL_MIN_SECONDS" in str(err)
    with pytest.raises(ValueError):
        ConfigurationError({})


def test_request_validation_error_shape() -> None:
    """to_dict is the ARM-style body; target_not_allowed only when every error is an allowlist refusal."""
    only_target = RequestValidationError([FieldError("target.containerUrl", "no", "TargetNotAllowed")])
    assert only_target.target_not_allowed
    mixed = RequestValidationError([FieldError("target.containerUrl", "no", "TargetNotAllowed"),
                                    FieldError("before", "bad")])
    assert not mixed.target_not_allowed
    body = mixed.to_dict()
    assert body["error"]["code"] == "InvalidRequest"
    assert body["error"]["details"][1] == {"field": "before", "message": "bad", "code": "invalid"}
    with pytest.raises(ValueError):
        RequestValidationError([])


def test_no_recovery_point_to_dict() -> None:
    """NoRecoveryPointError has a JSON form with its message."""
    err = NoRecoveryPointError("no recovery point at or before X; the oldest is Y")
    assert err.to_dict()["message"].startswith("no recovery point") and err.to_dict()["code"] == "NoRecoveryPoint"


def test_outcome_unknown() -> None:
    """Only errors after which a POST may have taken effect are ambiguous."""
    assert TransportError("x", request_sent=True).outcome_unknown
    assert not TransportError("x", request_sent=False).outcome_unknown
    assert [s for s in (400, 403, 404, 408, 409, 429, 500, 502, 503, 504) if _api(s).outcome_unknown] == [
        408, 500, 502, 504]
    assert not DataProtectionError("x").outcome_unknown
    assert _api(504).to_dict()["outcomeUnknown"] is True
