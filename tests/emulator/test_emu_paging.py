"""Recovery point paging (absolute nextLink with $skipToken) and the CLI's $filter time window."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.emulator.emusupport import BI_PATH, Arm


def _all_pages(arm: Arm, params: dict[str, str] | None = None) -> tuple[list[dict], list[str]]:
    answer = arm.get(f"{BI_PATH}/recoveryPoints", params=dict(params or {}))
    assert answer.status_code == 200
    body = answer.json()
    items, links = list(body["value"]), []
    while body.get("nextLink"):
        links.append(body["nextLink"])
        body = arm.get(body["nextLink"]).json()
        items += body["value"]
    return items, links


def test_pages_follow_absolute_next_links_with_a_skip_token(arm: Arm) -> None:
    items, links = _all_pages(arm)
    assert len(items) == 25 and len(links) == 2
    assert len({i["name"] for i in items}) == 25
    times = [i["properties"]["recoveryPointTime"] for i in items]
    assert times == sorted(times, reverse=True)
    assert times[0] == "2026-03-01T02:00:00.0000000Z"
    split = urlsplit(links[0])
    assert f"{split.scheme}://{split.netloc}" == arm.server.url
    query = parse_qs(split.query)
    assert query["api-version"] == ["2026-06-01"] and query["$skipToken"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("startDate eq '2026-02-20T00:00:00.0000000Z' and endDate eq '2026-02-25T00:00:00.0000000Z'", 5),
        ("startDate eq '2026-02-27T00:00:00.0000000Z'", 3),
        ("endDate eq '2026-02-05T02:00:00.0000000Z'", 1),
        ("startDate eq '2027-01-01T00:00:00.0000000Z'", 0),
    ],
)
def test_filter_by_time_window_as_the_cli_writes_it(arm: Arm, flt: str, expected: int) -> None:
    items, _ = _all_pages(arm, {"$filter": flt})
    assert len(items) == expected


def test_filter_survives_into_next_links(arm: Arm) -> None:
    flt = "startDate eq '2026-02-10T00:00:00.0000000Z'"
    items, links = _all_pages(arm, {"$filter": flt})
    assert len(items) == 20 and len(links) == 1
    assert parse_qs(urlsplit(links[0]).query)["$filter"] == [flt]


@pytest.mark.parametrize("flt", ["startDate gt", "color eq 'red'", "startDate eq 'yesterday'"])
def test_bad_filters_are_400(arm: Arm, flt: str) -> None:
    answer = arm.get(f"{BI_PATH}/recoveryPoints", params={"$filter": flt})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "UserErrorInvalidFilter"


def test_bad_skip_token_is_400(arm: Arm) -> None:
    answer = arm.get(f"{BI_PATH}/recoveryPoints", params={"$skipToken": "%%%"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidSkipToken"


def test_recovery_point_shape_per_api_version(arm: Arm) -> None:
    new = arm.get(f"{BI_PATH}/recoveryPoints").json()["value"][0]
    old = arm.get(f"{BI_PATH}/recoveryPoints", api_version="2021-07-01").json()["value"][0]
    assert new["type"] == "Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints"
    assert new["properties"]["recoveryPointState"] == "Completed" and "expiryTime" in new["properties"]
    assert "recoveryPointState" not in old["properties"] and "expiryTime" not in old["properties"]
    store = new["properties"]["recoveryPointDataStoresDetails"][0]
    assert store["type"] == "VaultStore" and store["state"] == "COMMITTED"
    single = arm.get(f"{BI_PATH}/recoveryPoints/{new['name']}").json()
    assert single == new
