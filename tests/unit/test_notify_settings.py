"""NOTIFY_TARGETS and NOTIFY_LINK_BASE: strict at load, and no error, repr or snapshot ever repeats a URL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pgflex_restore.errors import ConfigurationError
from pgflex_restore.notify.targets import MAX_TARGETS, NotifyTarget, parse_notify_targets, snapshot
from pgflex_restore.settings import Settings

SECRET = "T0SECRETPATH/B0SECRET/xyzSECRETtoken"
TEAMS = f"https://prod-12.westus.logic.azure.com:443/workflows/{SECRET}/triggers/manual/paths/invoke?sig=SIGSECRET99"
SLACK = f"https://hooks.slack.com/services/{SECRET}"
HOOK = f"https://ops.example.com/hooks/{SECRET}?token=QUERYSECRET42"
TOPIC = "https://orders.westeurope-1.eventgrid.azure.net/api/events"
EXAMPLE = [{"type": "webhook", "url": HOOK}, {"type": "teams", "url": TEAMS, "events": ["started", "ended"]},
           {"type": "slack", "url": SLACK, "on": ["drill"]}, {"type": "eventgrid", "endpoint": TOPIC}]


def settings(value: Any, **extra: str) -> Settings:
    text = value if isinstance(value, str) else json.dumps(value)
    return Settings.from_env({"NOTIFY_TARGETS": text, **extra})


def problem(value: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        settings(value)
    assert caught.value.settings == ("NOTIFY_TARGETS",)
    text = str(caught.value)
    for secret in (SECRET, "SIGSECRET99", "QUERYSECRET42", "hooks.slack.com/services"):
        assert secret not in text, text
    return caught.value.problems["NOTIFY_TARGETS"]


def test_the_documented_example_parses_with_its_defaults() -> None:
    targets = settings(EXAMPLE).notify_targets
    assert [t.type for t in targets] == ["webhook", "teams", "slack", "eventgrid"]
    assert [t.events for t in targets] == [("ended",), ("started", "ended"), ("ended",), ("ended",)]
    assert [t.on for t in targets] == [("restore", "drill"), ("restore", "drill"), ("drill",), ("restore", "drill")]
    assert [t.label for t in targets] == ["webhook ops.example.com", "teams prod-12.westus.logic.azure.com:443",
                                          "slack hooks.slack.com", "eventgrid orders.westeurope-1.eventgrid.azure.net"]


def test_unset_or_blank_means_no_targets_and_an_empty_list_is_fine() -> None:
    assert Settings.from_env({}).notify_targets == ()
    assert Settings.from_env({"NOTIFY_TARGETS": "  "}).notify_targets == ()
    assert settings([]).notify_targets == ()


def test_no_repr_shows_a_url() -> None:
    parsed = settings(EXAMPLE)
    for text in (repr(parsed), repr(parsed.notify_targets), str(parsed.notify_targets[1])):
        assert SECRET not in text and "SIGSECRET99" not in text and "QUERYSECRET42" not in text


def test_the_snapshot_orchestrations_get_has_no_url_and_only_its_kind() -> None:
    targets = settings(EXAMPLE).notify_targets
    restore = snapshot(targets, "restore")
    assert [t["index"] for t in restore] == [0, 1, 3]  # the Slack target is for drills only
    assert [t["index"] for t in snapshot(targets, "drill")] == [0, 1, 2, 3]
    assert set(restore[1]) == {"index", "label", "digest", "events"} and restore[1]["events"] == ["started", "ended"]
    dumped = json.dumps(restore)
    assert SECRET not in dumped and "SIGSECRET99" not in dumped and "QUERYSECRET42" not in dumped


def test_the_digest_changes_with_the_url_and_nothing_else_changes_it() -> None:
    one = NotifyTarget("webhook", "https://a.example/x/1")
    assert one.digest == NotifyTarget("webhook", "https://a.example/x/1").digest
    assert one.digest != NotifyTarget("webhook", "https://a.example/x/2").digest
    assert one.digest != NotifyTarget("webhook", "https://a.example/x/1", events=("started", "ended")).digest


@pytest.mark.parametrize(("value", "expected"), [
    ("[{", "not valid JSON"),
    ('{"type": "webhook"}', "expected a JSON list of targets, got a JSON object"),
    (["https://x.example/hook"], "entry 0: expected an object, got a JSON string"),
    ([{"type": "pagerduty", "url": HOOK}], "entry 0: type 'pagerduty' is not one of webhook, teams, slack, eventgrid"),
    ([{"type": 7, "url": HOOK}], "entry 0: type given is not one of"),
    ([{"type": "teams"}], "entry 0 (teams): 'url' is required"),
    ([{"type": "eventgrid", "url": TOPIC}], "entry 0 (eventgrid): type eventgrid takes 'endpoint', not 'url'"),
    ([{"type": "slack", "endpoint": SLACK}], "entry 0 (slack): type slack takes 'url', not 'endpoint'"),
    ([{"type": "slack", "url": SLACK, "channel": "#ops"}], "entry 0 (slack): unknown keys ['channel']"),
    ([{"type": "teams", "url": TEAMS.replace("https", "http")}], "'url' must use https (plain http only for loopback"),
    ([{"type": "teams", "url": f"ftp://x.example/{SECRET}"}], "'url' must be an https:// URL with a host"),
    ([{"type": "webhook", "url": f"https://user:pw@x.example/{SECRET}"}], "must not carry user credentials"),
    ([{"type": "webhook", "url": f"https://x.example/{SECRET}#frag"}], "must not have a #fragment"),
    ([{"type": "webhook", "url": f"https://x.example/{SECRET} x"}], "holds spaces, control or non-ASCII"),
    ([{"type": "webhook", "url": f"https://x.example:99999/{SECRET}"}], "'url' is not a valid URL"),
    ([{"type": "webhook", "url": "https://x.example/" + "a" * 2100}], "'url' is longer than 2048 characters"),
    ([{"type": "webhook", "url": ""}], "'url' must be a non-empty string"),
    ([{"type": "eventgrid", "endpoint": "https://t.westeurope-1.eventgrid.azure.net/api/other"}],
     "'endpoint' must be the topic endpoint, ending in /api/events"),
    ([{"type": "eventgrid", "endpoint": f"{TOPIC}?aeg-sas-key={SECRET}"}], "takes no query except api-version"),
    ([{"type": "webhook", "url": HOOK, "events": []}], "'events' must be a non-empty list"),
    ([{"type": "webhook", "url": HOOK, "events": "ended"}], "'events' must be a non-empty list"),
    ([{"type": "webhook", "url": HOOK, "events": ["finished"]}], "'events': 1 value(s) not among ['started', 'ended']"),
    ([{"type": "webhook", "url": HOOK, "events": ["ended", "ended"]}], "'events' lists a value twice"),
    ([{"type": "webhook", "url": HOOK, "on": ["backup"]}], "'on': 1 value(s) not among ['restore', 'drill']"),
    ([{"type": "webhook", "url": HOOK}, {"type": "webhook", "url": HOOK}],
     "entry 1 (webhook): the same target as entry 0"),
])
def test_every_bad_value_is_a_configuration_error_that_names_the_entry(value: Any, expected: str) -> None:
    assert expected in problem(value)


def test_every_bad_entry_is_reported_at_once() -> None:
    text = problem([{"type": "teams"}, {"type": "webhook", "url": HOOK}, {"type": "x"}])
    assert "entry 0 (teams)" in text and "entry 2:" in text and "entry 1" not in text


def test_too_many_targets() -> None:
    many = [{"type": "webhook", "url": f"https://x.example/{i}"} for i in range(MAX_TARGETS + 1)]
    assert f"at most {MAX_TARGETS} targets" in problem(many)


def test_plain_http_is_allowed_for_loopback_receivers_only() -> None:
    for host in ("127.0.0.1:8080", "localhost", "[::1]:9000"):
        target = parse_notify_targets(json.dumps([{"type": "webhook", "url": f"http://{host}/h/{SECRET}"}]))[0]
        assert target.label == f"webhook {host}"


def test_the_eventgrid_endpoint_may_name_its_api_version() -> None:
    target = parse_notify_targets(json.dumps([{"type": "eventgrid", "endpoint": f"{TOPIC}?api-version=2018-01-01"}]))
    assert target[0].url.endswith("api-version=2018-01-01")


def test_the_link_base_is_checked_and_defaults_to_the_platforms_host_name() -> None:
    assert Settings.from_env({}).notify_link_base is None
    assert Settings.from_env({"WEBSITE_HOSTNAME": "app1.azurewebsites.net"}).notify_link_base == \
        "https://app1.azurewebsites.net"
    configured = Settings.from_env({"WEBSITE_HOSTNAME": "app1.azurewebsites.net",
                                    "NOTIFY_LINK_BASE": "https://restore.contoso.com/"})
    assert configured.notify_link_base == "https://restore.contoso.com"
    for bad, text in (("http://restore.contoso.com", "plain http"), ("https://a.example/?code=KEY123", "no query"),
                      ("restore.contoso.com?code=KEY123", "not an https URL"), ("https://a:99999?code=KEY123", "URL")):
        with pytest.raises(ConfigurationError) as caught:
            Settings.from_env({"NOTIFY_LINK_BASE": bad})
        assert caught.value.settings == ("NOTIFY_LINK_BASE",) and text in str(caught.value)
        assert "KEY123" not in str(caught.value)
