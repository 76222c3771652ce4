"""Properties of every input model: whatever arrives, the answer is a value or a bounded, field-naming error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgflex_restore.alerts import AlertError, is_alert, parse_alert
from pgflex_restore.drills.plan import PlanError, parse_plan
from pgflex_restore.errors import MAX_DETAILS, FieldError, RequestValidationError
from pgflex_restore.inputs import MAX_DEPTH, MAX_DOCUMENT_BYTES, query_choice, query_int, read_document
from pgflex_restore.models import RestoreRequest

ALLOW = ("https://acct.blob.core.windows.net/restores",)
BI = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v/backupInstances/b"
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=12)
SETTINGS = settings(max_examples=150, derandomize=True, deadline=None)


def _bounded(exc: RequestValidationError) -> None:
    body = exc.to_dict()["error"]
    assert len(json.dumps(body)) < 20_000
    assert all(d["field"] and len(d["field"]) <= 120 and len(d["message"]) <= 400 for d in body["details"])
    assert len(body["details"]) <= MAX_DETAILS


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_a_document_parses_or_names_the_root(raw: bytes | str) -> None:
    try:
        read_document(raw, "body")
    except RequestValidationError as exc:
        assert [e.path for e in exc.errors] == ["body"]
        _bounded(exc)


@pytest.mark.parametrize("text, code", [
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "tooDeep"), ("[" * 60_000, "tooDeep"),
    ('{"a": 1, "a": 2}', "duplicateKey"), ('{"a": NaN}', "json"), ("", "required"), ("x" * (MAX_DOCUMENT_BYTES + 1),
                                                                                       "tooLarge"),
])
def test_documents_the_contract_refuses(text: str, code: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        read_document(text, "message")
    assert caught.value.errors[0].code == code and caught.value.errors[0].path == "message"


@SETTINGS
@given(st.dictionaries(st.sampled_from(["backupInstance", "recoveryPoint", "before", "requestId", "target", "load",
                                        "validateOnly", "x"]), _json, max_size=6))
def test_the_restore_request_parses_or_lists_bounded_field_errors(data: dict[str, Any]) -> None:
    data.setdefault("backupInstance", BI)
    data.setdefault("target", {"containerUrl": ALLOW[0]})
    try:
        RestoreRequest.from_dict(data, allowlist=ALLOW)
    except RequestValidationError as exc:
        _bounded(exc)


@SETTINGS
@given(st.text(min_size=1, max_size=20).filter(lambda t: any(c < " " or c in "\x7f\u2028\u2029" for c in t)),
       st.sampled_from(["requestId", "recoveryPoint", "filePrefix", "backupInstance"]))
def test_a_control_character_anywhere_is_refused_with_its_field(bad: str, field: str) -> None:
    data: dict[str, Any] = {"backupInstance": BI, "target": {"containerUrl": ALLOW[0], "filePrefix": "p"},
                            "requestId": "r1", "recoveryPoint": "rp1"}
    if field == "filePrefix":
        data["target"]["filePrefix"] = "p" + bad
        path = "target.filePrefix"
    else:
        data[field] = data[field] + bad
        path = field
    with pytest.raises(RequestValidationError) as caught:
        RestoreRequest.from_dict(data, allowlist=ALLOW)
    assert path in {e.path for e in caught.value.errors}


@SETTINGS
@given(st.text(max_size=12))
def test_query_integers_take_ascii_digits_only(raw: str) -> None:
    try:
        value = query_int(raw, "limit", 30, 1, 500)
    except RequestValidationError as exc:
        assert exc.errors[0].path == "limit"
        return
    assert 1 <= value <= 500 and (raw == "" or raw.isascii())


@SETTINGS
@given(st.text(max_size=12))
def test_query_choices_are_exact(raw: str) -> None:
    try:
        assert query_choice(raw, "format", ("json", "csv")) in ("json", "csv")
    except RequestValidationError as exc:
        assert exc.errors[0].path == "format"


@SETTINGS
@given(st.fixed_dictionaries({"schemaId": st.just("azureMonitorCommonAlertSchema")}, optional={
    "data": st.fixed_dictionaries({}, optional={"essentials": st.dictionaries(st.sampled_from(
        ["alertId", "alertRule", "monitorCondition", "alertTargetIDs", "firedDateTime"]), _json, max_size=5)})}))
def test_an_alert_parses_or_fails_with_an_alert_error(message: dict[str, Any]) -> None:
    assert is_alert(message)
    try:
        alert = parse_alert(message)
    except AlertError:
        return
    assert alert.restore_id.startswith("alert-") and len(alert.restore_id) <= 80
    assert all(c.isalnum() or c == "-" for c in alert.restore_id)


@SETTINGS
@given(_json)
def test_a_drill_plan_parses_or_fails_with_a_plan_error(data: Any) -> None:
    try:
        parse_plan(data)
    except PlanError as exc:
        assert str(exc)


def test_field_errors_are_bounded_and_printable() -> None:
    error = FieldError("k" * 10_000_000 + "\n", "m" * 1_000_000)
    assert len(error.path) <= 120 and len(error.message) <= 400 and "\n" not in error.path
    many = RequestValidationError([FieldError(f"f{i}", "bad") for i in range(10_000)])
    assert len(many.to_dict()["error"]["details"]) == MAX_DETAILS
    assert many.to_dict()["error"]["omittedDetails"] == 10_000 - MAX_DETAILS and len(str(many)) < 2_000
