"""本部门申请 and an authority's list of its levels: statuses derived from what is stored,
visibility, filters, search, paging at a constant cost, CSV export (issue 12, item 9)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from engine.errors import Forbidden, ValidationFailed
from engine.sharing.request_list import Filters, export_csv, requests_of
from engine.workflow import history
from tests.conftest import HUKOU, NOT_SHARED
from tests.test_coordination import to_coordination
from tests.test_share_request_process import REFUSE, SCOPE

UNCONDITIONAL = dict(
    resource_code="JC-RK/0001",
    info_items=["姓名", "公民身份号码"],
    purpose="核验申请人身份",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2026-12-31",
)
YINCHUAN = dict(
    resource_code="BM-YC-MZ/0001",
    info_items=["公民身份号码"],
    purpose="核查个体户经营者救助资格",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2026-12-31",
)


def listed(actors, username, page=1, **filters):
    return actors.run(
        lambda s: requests_of(s, actors.clock, actors.user(s, username), Filters(**filters), page)
    )


def statuses(actors, username="civil.clerk", **filters):
    return {r.business_key: r.status for r in listed(actors, username, **filters).rows}


def decide(actors, key, decision, **extra):
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision=decision,
        coordination_reasons="低保核定属法定职责，所需信息项必要",
        **extra,
    )


def test_a_submitted_request_is_in_progress_for_both_parties(actors):
    key = actors.request("civil.clerk", **HUKOU)
    assert statuses(actors, "civil.clerk") == {key: "in_progress"}
    assert statuses(actors, "pubsec.clerk") == {key: "in_progress"}


def test_a_request_past_its_reply_deadline_is_overdue(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-10T00:00:01+08:00")  # the reply was due at 24:00 on 2026-10-09
    assert statuses(actors) == {key: "overdue"}
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    assert statuses(actors) == {key: "granted"}


def test_unconditional_and_approved_requests_are_granted(actors):
    direct = actors.request("civil.clerk", **UNCONDITIONAL)
    approved = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", approved, "provider_review", review_decision="approve", **SCOPE)
    assert statuses(actors) == {direct: "granted", approved: "granted"}


def test_approval_in_part_is_granted_in_part(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_review",
        review_decision="approve_in_part",
        review_reason="变动类型涉及个人隐私，仅提供身份号码",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    assert statuses(actors) == {key: "granted_in_part"}


def test_a_refusal_is_refused_while_the_requester_decides_and_after(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    assert statuses(actors) == {key: "refused"}
    actors.complete("civil.clerk", key, "after_refusal", next_step="accept")
    assert statuses(actors) == {key: "refused"}


def test_negotiation_then_agreement(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    actors.complete("civil.clerk", key, "after_refusal", next_step="negotiate")
    assert statuses(actors) == {key: "negotiating"}
    actors.complete("civil.clerk", key, "requester_position", requester_position="仅需身份号码")
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_position",
        provider_position="同意仅提供身份号码",
        negotiation_result="agreed",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    assert statuses(actors) == {key: "granted_in_part"}  # fewer items than requested


def test_a_not_shared_resource_is_negotiated_at_once(actors):
    key = actors.request("civil.clerk", **NOT_SHARED)
    assert statuses(actors) == {key: "negotiating"}


def test_coordination_then_each_decision(actors):
    granted, in_part, upheld = (to_coordination(actors) for _ in range(3))
    assert set(statuses(actors).values()) == {"coordinating"}
    decide(actors, granted, "grant", **SCOPE)
    decide(actors, in_part, "grant_in_part", **{**SCOPE, "granted_items": ["公民身份号码"]})
    decide(actors, upheld, "uphold")
    assert statuses(actors) == {
        granted: "granted",
        in_part: "granted_in_part",
        upheld: "refused",
    }


def test_rows_name_the_counterpart_resource_and_dates(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    (row,) = listed(actors, "civil.clerk").rows
    assert (row.business_key, row.role, row.counterpart.zh) == (key, "requester", "自治区公安厅")
    assert (row.resource_code, row.resource_name) == ("JC-RK/0002", "户籍变动信息")
    assert row.submitted_at == clock.now()
    assert row.next_due.isoformat() == "2026-10-09T16:00:00+00:00"
    (row,) = listed(actors, "pubsec.clerk").rows
    assert (row.role, row.counterpart.zh) == ("provider", "自治区民政厅")


def test_other_departments_do_not_see_the_request(actors):
    actors.request("civil.clerk", **HUKOU)
    assert listed(actors, "yinchuan-civil.clerk").rows == []


def test_an_authority_sees_its_level_and_the_levels_below(actors):
    region = actors.request("civil.clerk", **HUKOU)
    city = actors.request("yinchuan-samr.clerk", **YINCHUAN)
    assert set(statuses(actors, "data.clerk", scope="level")) == {region, city}
    assert set(statuses(actors, "yinchuan-data.clerk", scope="level")) == {city}
    # and may open what it sees; a city authority not the region's requests
    assert actors.run(
        lambda s: history.instance_for(s, actors.user(s, "data.clerk"), city).business_key
    )
    with pytest.raises(Forbidden):
        actors.run(lambda s: history.instance_for(s, actors.user(s, "yinchuan-data.clerk"), region))


def test_only_an_authority_may_list_levels(actors):
    with pytest.raises(Forbidden):
        listed(actors, "civil.clerk", scope="level")


def test_filters_by_status_direction_counterpart_and_dates(actors, clock):
    sent = actors.request("civil.clerk", **UNCONDITIONAL)
    clock.set("2026-09-21T10:00:00+08:00")
    waiting = actors.request("civil.clerk", **HUKOU)
    assert list(statuses(actors, status="granted")) == [sent]
    assert list(statuses(actors, status="in_progress")) == [waiting]
    assert statuses(actors, direction="received") == {}
    assert list(statuses(actors, "pubsec.clerk", direction="received")) == [waiting, sent]
    assert list(statuses(actors, submitted_from="2026-09-21")) == [waiting]
    assert list(statuses(actors, submitted_to="2026-09-18")) == [sent]
    pubsec = listed(actors, "pubsec.clerk").rows[0]
    assert pubsec.counterpart.zh == "自治区民政厅"
    civil_id = actors.run(lambda s: actors.user(s, "civil.clerk").department_id)
    assert list(statuses(actors, "pubsec.clerk", counterpart=civil_id)) == [waiting, sent]
    assert statuses(actors, "pubsec.clerk", counterpart=civil_id + 1000) == {}


@pytest.mark.parametrize("q", ["000002", "jc-rk/0002", "户籍变动"])
def test_search_finds_by_key_code_name_or_counterpart(actors, clock, q):
    actors.request("civil.clerk", **UNCONDITIONAL)
    clock.set("2026-09-21T10:00:00+08:00")
    key = actors.request("civil.clerk", **HUKOU)
    assert key.endswith("000002")
    assert list(statuses(actors, q=q)) == [key]


def test_search_takes_wildcards_literally(actors):
    actors.request("civil.clerk", **HUKOU)
    assert statuses(actors, q="%") == {} and statuses(actors, q="_") == {}


def test_search_finds_by_counterpart_name(actors):
    key = actors.request("civil.clerk", **HUKOU)
    assert list(statuses(actors, q="公安厅")) == [key]
    assert list(statuses(actors, "pubsec.clerk", q="民政")) == [key]
    assert statuses(actors, q="银川") == {}


@pytest.mark.parametrize(
    "bad, field",
    [
        (dict(status="done"), "status"),
        (dict(scope="everything"), "scope"),
        (dict(submitted_from="2026-13-01"), "submitted_from"),
        (dict(q="x\x00"), "q"),
        (dict(q="x" * 101), "q"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(actors, bad, field):
    with pytest.raises(ValidationFailed) as err:
        listed(actors, "civil.clerk", **bad)
    assert [d["field"] for d in err.value.details] == [field]


def test_pages_are_newest_first(actors, clock):
    keys = []
    for n in range(23):
        clock.set(f"2026-09-18T10:{n:02d}:00+08:00")
        keys.append(actors.request("civil.clerk", **UNCONDITIONAL))
    first, second = listed(actors, "civil.clerk"), listed(actors, "civil.clerk", page=2)
    assert (first.total, first.pages, second.page) == (23, 2, 2)
    assert [r.business_key for r in first.rows + second.rows] == keys[::-1]


def statements(session_factory, clock, username, **filters):
    """SQL statements one page of the list costs."""
    seen = []
    with session_factory() as s:
        user = history_user(s, username)
        assert user.department.name  # signed in: the user and department are loaded
        engine = s.get_bind()
        listen = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listen)
        try:
            page = requests_of(s, clock, user, Filters(**filters))
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    return len(seen), page


def history_user(session, username):
    from engine.directory import user_by_name

    return user_by_name(session, username)


def test_a_page_costs_the_same_statements_for_ten_and_many_requests(actors, session_factory, clock):
    for _ in range(10):
        actors.request("civil.clerk", **UNCONDITIONAL)
    few, page = statements(session_factory, clock, "civil.clerk", status="granted")
    assert page.total == 10
    for _ in range(30):
        actors.request("civil.clerk", **HUKOU)
    many, page = statements(session_factory, clock, "civil.clerk")
    assert page.total == 40 and len(page.rows) == 20
    assert few == many == 2  # the capped count and the page
    level, page = statements(session_factory, clock, "data.clerk", scope="level")
    assert page.total == 40
    assert level == 2 + 1  # and the authorities under the user's (one query with a subquery)


def test_csv_export_has_the_filtered_rows_with_labels(actors):
    actors.request("civil.clerk", **UNCONDITIONAL)
    key = actors.request("civil.clerk", **HUKOU)
    text = actors.run(
        lambda s: export_csv(
            s, actors.clock, actors.user(s, "civil.clerk"), Filters(status="in_progress")
        )
    )
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Business key,Status,Requesting department")
    assert lines[1:] == [  # names in the reader's language (the tests': English)
        f"{key},In progress,Department of Civil Affairs,Public Security Department,JC-RK/0002,户籍变动信息,"
        "2026-09-18T10:00+08:00,2026-09-18T10:00+08:00,2026-10-10T00:00+08:00"
    ]


def test_csv_export_keeps_a_formula_in_a_name_as_text(actors):
    key = actors.request("civil.clerk", **HUKOU)

    def rename(s):
        instance = history.instance_by_key(s, key)
        instance.summary = {**instance.summary, "resource_name": '=HYPERLINK("http://x")'}

    actors.run(rename)
    text = actors.run(
        lambda s: export_csv(s, actors.clock, actors.user(s, "civil.clerk"), Filters())
    )
    assert ',"\'=HYPERLINK(""http://x"")",' in text
