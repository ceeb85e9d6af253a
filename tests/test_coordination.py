"""Coordination (art. 4, 11): information requests with working-day deadlines, meetings, a binding
decision with reasons; the dossier and the coordinators' dashboard."""

from __future__ import annotations

import pytest

from engine.errors import ValidationFailed
from engine.sharing.dispute_board import board_for
from engine.sharing.disputes import dossier
from engine.sharing.requests import instance_by_key
from tests.conftest import HUKOU
from tests.test_share_request_process import REFUSE, SCOPE, open_tasks


def to_coordination(actors, requester="civil.clerk", provider="pubsec.clerk", form=HUKOU):
    """A request refused, negotiated without agreement and escalated to the authority."""
    key = actors.request(requester, **form)
    actors.complete(provider, key, "provider_review", **REFUSE)
    actors.complete(requester, key, "after_refusal", next_step="negotiate")
    actors.complete(
        requester, key, "requester_position", requester_position="低保核定确需户籍变动类型"
    )
    actors.complete(
        provider,
        key,
        "provider_position",
        provider_position="变动类型涉及个人隐私",
        negotiation_result="failed",
    )
    assert open_tasks(actors.status(key)) == ["coordinate"]
    return key


def test_coordinator_asks_the_provider_and_the_answer_lands_in_the_dossier(actors, clock):
    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="provider",
        info_question="请说明变动类型涉及哪些隐私字段",
        info_days="5",
    )
    st = actors.status(key)
    task = [t for t in st["tasks"] if t["task"] == "provider_info"][0]
    assert task["state"] == "open" and task["department"].zh == "自治区公安厅"
    assert (
        task["due_at"] == "2026-09-24T16:00:00+00:00"
    )  # 5 working days after Friday 09-18: the make-up Sunday 09-20, then 21–24
    actors.complete(
        "pubsec.clerk", key, "provider_info", info_answer="变动类型含迁出原因，属敏感信息"
    )
    assert open_tasks(actors.status(key)) == ["coordinate"]
    d = actors.run(lambda s: dossier(s, instance_by_key(s, key), actors.clock))
    assert [(e.kind, e.party, e.text) for e in d["entries"]] == [
        ("info_request", "provider", "请说明变动类型涉及哪些隐私字段"),
        ("info_answer", "provider", "变动类型含迁出原因，属敏感信息"),
    ]
    assert d["provider_reasons"] == REFUSE["review_reason"]
    assert (
        d["requester_position"] == "低保核定确需户籍变动类型"
        and d["provider_position"] == "变动类型涉及个人隐私"
    )
    assert d["resource"].code == "JC-RK/0002" and d["requester_basis"] == HUKOU["legal_basis"]


def test_coordinator_asks_the_requester_and_records_a_meeting_then_decides(actors):
    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="requester",
        info_question="请提供低保核定的法定依据",
        info_days="3",
    )
    assert [
        t["department"].zh for t in actors.status(key)["tasks"] if t["task"] == "requester_info"
    ] == ["自治区民政厅"]
    actors.complete(
        "civil.clerk", key, "requester_info", info_answer="《社会救助暂行办法》第十一条"
    )
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "data.coord",
            key,
            "coordinate",
            coordination_action="record_meeting",
            meeting_date="2026-09-22",
        )
    assert sorted(d["field"] for d in err.value.details) == ["meeting_attendees", "meeting_minutes"]
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="record_meeting",
        meeting_date="2026-09-22",
        meeting_attendees="民政厅、公安厅、数据共享主管部门",
        meeting_minutes="双方同意仅共享迁入地以外的信息项",
    )
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="grant_in_part",
        coordination_reasons="低保核定确需，迁入地不予共享",
        coordination_conditions="仅限低保核定",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    st = actors.status(key)
    assert st["status"] == "completed" and [
        (g["basis"], g["info_items"]) for g in st["grants"]
    ] == [("coordinated", ["公民身份号码"])]
    d = actors.run(lambda s: dossier(s, instance_by_key(s, key), actors.clock))
    assert [e.kind for e in d["entries"]] == ["info_request", "info_answer", "meeting", "decision"]
    assert d["entries"][2].details == {
        "meeting_date": "2026-09-22",
        "attendees": "民政厅、公安厅、数据共享主管部门",
    }


def test_a_late_answer_shows_as_a_missed_deadline(actors, clock):
    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="provider",
        info_question="请说明理由",
        info_days="3",
    )
    clock.set("2026-10-12T10:00:00+08:00")
    actors.complete("pubsec.clerk", key, "provider_info", info_answer="迟到的答复")
    d = actors.run(lambda s: dossier(s, instance_by_key(s, key), actors.clock))
    answered = [s for s in d["steps"] if s.title == "提供部门补充材料"][0]
    assert answered.met is False
    positions = [s for s in d["steps"] if s.title == "提供部门答复协商意见"][0]
    assert positions.met is True


def test_decision_needs_reasons(actors):
    key = to_coordination(actors)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "data.coord",
            key,
            "coordinate",
            coordination_action="decide",
            coordination_decision="uphold",
        )
    assert [d["field"] for d in err.value.details] == ["coordination_reasons"]


def test_earlier_cases_between_the_same_departments_are_in_the_dossier(actors):
    first = actors.request("civil.clerk", **HUKOU)
    key = to_coordination(actors)
    d = actors.run(lambda s: dossier(s, instance_by_key(s, key), actors.clock))
    assert first in [i.business_key for i in d["earlier"]]


def test_dashboard_counts_open_disputes_by_age_and_decisions(actors, clock):
    decided = to_coordination(actors)
    clock.set("2026-09-22T10:00:00+08:00")
    actors.complete(
        "data.coord",
        decided,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="依据不足",
    )
    clock.set("2026-09-18T10:00:00+08:00")
    to_coordination(actors)
    clock.set("2026-10-12T10:00:00+08:00")
    board = actors.run(lambda s: board_for(s, actors.clock, actors.user(s, "data.coord")))
    assert board.level == "region"
    assert [r.age for r in board.rows] == [
        12
    ]  # 09-18 → 10-12: 09-20 (made up), 21–24, 28–30, 10-08, 10-09, 10-10 (made up), 10-12
    assert board.by_age == {"0-5": 0, "6-10": 0, "11-20": 1, ">20": 0}
    assert (
        board.decided_this_year == 1 and board.median_days_to_decide == 3
    )  # 09-18 → 09-22: 20th, 21st, 22nd


def _city_dispute(actors):
    """A dispute between two of Yinchuan's departments: the city's authority coordinates it."""
    form = dict(
        resource_code="BM-YC-MZ/0001",
        info_items=["公民身份号码", "保障类别"],
        purpose="核对就业援助对象的低保身份",
        scenario="YYCJ006",
        legal_basis="《就业促进法》第五十二条",
        period_start="2026-10-01",
        period_end="2027-09-30",
    )
    return to_coordination(actors, "yinchuan-hrss.clerk", "yinchuan-civil.clerk", form)


def test_authorities_read_dossiers_of_their_level_and_below_never_above(actors):
    from engine.errors import Forbidden
    from engine.sharing.coordination import dossier_for

    city = _city_dispute(actors)
    region = to_coordination(actors)

    def read(user, key):
        return actors.run(
            lambda s: dossier_for(s, actors.clock, actors.user(s, user), key).instance.business_key
        )

    assert read("yinchuan-data.coord", city) == city  # its own
    assert read("data.coord", city) == city  # the level above oversees it
    for user, key in (("yinchuan-data.coord", region), ("xingqing-data.coord", city)):
        with pytest.raises(Forbidden):  # a dispute of a level above the reader
            read(user, key)
