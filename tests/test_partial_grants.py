"""A grant narrower than the request — fewer info items, a later start or an earlier end — is a
grant in part (部分授权), whoever decided it: the provider, the parties in negotiation or the
coordinating authority. It reads so on the request page, in both parties' lists and the
authority's, in the CSV export and in the API (issue 12, item 1)."""

from __future__ import annotations

import pytest

from engine.sharing.grants import narrower_than_requested
from tests.conftest import HUKOU, NOT_SHARED
from tests.test_api import auth
from tests.test_coordination import to_coordination
from tests.test_request_lists import decide, statuses
from tests.test_share_request_process import REFUSE, SCOPE
from tests.test_web import Browser, app  # noqa: F401 - the fixture

FEWER_ITEMS = {**SCOPE, "granted_items": ["公民身份号码"]}
SHORTER = {**SCOPE, "granted_period_end": "2027-03-31"}  # HUKOU asks until 2027-09-30


def negotiated(actors, scope, form=HUKOU):
    """A request refused, then agreed in negotiation on ``scope``."""
    key = actors.request("civil.clerk", **form)
    if form is HUKOU:
        actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
        actors.complete("civil.clerk", key, "after_refusal", next_step="negotiate")
    actors.complete("civil.clerk", key, "requester_position", requester_position="仅需身份号码")
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_position",
        provider_position="同意仅提供身份号码，期限缩短",
        negotiation_result="agreed",
        **scope,
    )
    return key


def outcome(actors, key):
    st = actors.status(key)
    return (
        st["summary"]["decision"],
        st["outcome"]["decision"],
        [g["decision"] for g in st["grants"]],
    )


@pytest.mark.parametrize("scope", [FEWER_ITEMS, SHORTER], ids=["fewer-items", "shorter-period"])
def test_a_negotiated_grant_narrower_than_requested_is_granted_in_part(actors, scope):
    key = negotiated(actors, scope)
    assert outcome(actors, key) == ("granted_in_part", "granted_in_part", ["granted_in_part"])
    assert statuses(actors, "civil.clerk") == {key: "granted_in_part"}
    assert statuses(actors, "pubsec.clerk") == {key: "granted_in_part"}
    assert statuses(actors, "data.clerk", scope="level") == {key: "granted_in_part"}
    assert actors.status(key)["outcome"]["reasons"] == "同意仅提供身份号码，期限缩短"


def test_a_negotiated_grant_of_everything_asked_is_granted(actors):
    key = negotiated(actors, SCOPE)
    assert outcome(actors, key) == ("granted", "granted", ["granted"])
    assert statuses(actors) == {key: "granted"}


def test_a_not_shared_resource_agreed_in_part_is_granted_in_part(actors):
    scope = {
        "granted_items": ["案由"],
        "granted_period_start": "2026-11-01",
        "granted_period_end": "2026-12-31",
        "granted_purpose": "核查救助对象",
    }
    key = negotiated(actors, scope, NOT_SHARED)
    assert outcome(actors, key) == ("granted_in_part", "granted_in_part", ["granted_in_part"])


def test_a_coordinators_grant_of_fewer_items_is_granted_in_part(actors):
    key = to_coordination(actors)
    decide(actors, key, "grant", **FEWER_ITEMS)
    assert outcome(actors, key) == ("granted_in_part", "granted_in_part", ["granted_in_part"])
    assert statuses(actors) == {key: "granted_in_part"}


def test_a_providers_approval_of_a_shorter_period_is_granted_in_part(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SHORTER)
    assert outcome(actors, key) == ("granted_in_part", "granted_in_part", ["granted_in_part"])


def test_the_page_lists_csv_and_api_read_granted_in_part(app, actors):  # noqa: F811
    key = negotiated(actors, FEWER_ITEMS)
    civil = Browser(app, "civil.clerk")
    page = civil.get(f"/requests/{key}").get_data(as_text=True)
    assert "部分授权" in page and "已授权" not in page
    for who, path in (
        ("civil.clerk", "/requests/"),
        ("pubsec.clerk", "/requests/"),
        ("data.clerk", "/requests/?scope=level"),
    ):
        listed = Browser(app, who).get(path).get_data(as_text=True)
        row = listed.split(f'data-request="{key}"')[1].split("</tr>")[0]
        assert "部分授权" in row, who
    csv_text = civil.get("/requests/?format=csv").get_data(as_text=True)
    assert f"{key},部分授权," in csv_text
    in_part = civil.get("/requests/?status=granted_in_part").get_data(as_text=True)
    assert f'data-request="{key}"' in in_part
    assert f'data-request="{key}"' not in civil.get("/requests/?status=granted").get_data(
        as_text=True
    )
    api = app.test_client().get(f"/api/v1/requests/{key}", headers=auth("civil.clerk")).get_json()
    assert api["outcome"]["decision"] == "granted_in_part"
    assert [g["decision"] for g in api["grants"]] == ["granted_in_part"]


@pytest.mark.parametrize(
    ("granted", "in_part"),
    [
        ({}, False),
        (SCOPE, False),
        (FEWER_ITEMS, True),
        (SHORTER, True),
        ({**SCOPE, "granted_period_start": "2026-10-02"}, True),
    ],
)
def test_narrower_than_requested_compares_items_and_both_ends_of_the_period(granted, in_part):
    assert narrower_than_requested({**HUKOU, **granted}) is in_part
