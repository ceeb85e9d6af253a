"""No step of a share request waits for ever (art. 4, 11): each has a working-day limit, a
reminder before it, overdue marking, and a timer that acts when it passes. Driven with the fake
clock and the worker's sweep; the limits are the defaults of engine/rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from engine.sharing.models import DossierEntry
from engine.workflow.models import OutboxMessage
from tests.conftest import HUKOU
from tests.test_share_request_process import REFUSE, open_tasks

SECOND = timedelta(seconds=1)


def templates(actors, key):
    return actors.run(
        lambda s: [
            m.template
            for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if m.payload.get("business_key") == key
        ]
    )


def task(status, name, state="open"):
    rows = [t for t in status["tasks"] if t["task"] == name and t["state"] == state]
    assert rows, f"no {state} task {name}: {[(t['task'], t['state']) for t in status['tasks']]}"
    return rows[-1]


def due(status, name):
    return datetime.fromisoformat(task(status, name)["due_at"])


def kinds(status):
    return [e["kind"] for e in status["timeline"]]


def dossier(actors, key):
    def go(s):
        from engine.sharing.requests import instance_by_key

        inst = instance_by_key(s, key)
        rows = s.scalars(
            select(DossierEntry)
            .where(DossierEntry.instance_id == inst.id)
            .order_by(DossierEntry.id)
        )
        return [(e.kind, e.party) for e in rows]

    return actors.run(go)


def refused(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    return key


def negotiating(actors, requester_position=True):
    key = refused(actors)
    actors.complete("civil.clerk", key, "after_refusal", next_step="negotiate")
    if requester_position:
        actors.complete("civil.clerk", key, "requester_position", requester_position="确需变动类型")
    return key


def coordinating(actors, requester="civil.clerk", provider="pubsec.clerk", form=HUKOU):
    key = actors.request(requester, **form)
    actors.complete(provider, key, "provider_review", **REFUSE)
    actors.complete(requester, key, "after_refusal", next_step="negotiate")
    actors.complete(requester, key, "requester_position", requester_position="确需")
    actors.complete(
        provider, key, "provider_position", provider_position="不同意", negotiation_result="failed"
    )
    assert open_tasks(actors.status(key)) == ["coordinate"]
    return key


def pass_to(actors, clock, instant):
    clock.set(instant.isoformat())
    return actors.sweep()


# -- 决定是否协商 ------------------------------------------------------------------------------
def test_the_requester_has_five_working_days_to_decide_whether_to_negotiate(actors, clock):
    key = refused(actors)
    st = actors.status(key)
    assert open_tasks(st) == ["after_refusal"]
    # refused on Friday 2026-09-18: 5 working days, counting the make-up Sunday 09-20
    assert task(st, "after_refusal")["due_at"] == "2026-09-24T16:00:00+00:00"  # 24:00 on 09-24
    assert st["summary"]["decide_due"] == "2026-09-25T00:00:00+08:00"


def test_a_requester_who_does_not_decide_is_reminded_then_the_refusal_stands(actors, clock):
    key = refused(actors)
    deadline = due(actors.status(key), "after_refusal")
    assert pass_to(actors, clock, deadline - SECOND) == 1  # the reminder, two working days before
    st = actors.status(key)
    assert open_tasks(st) == ["after_refusal"]
    assert templates(actors, key)[-1] == "negotiation_decision_reminder"
    assert "deadline_reminder" in kinds(st)
    assert actors.sweep() == 0
    assert pass_to(actors, clock, deadline + SECOND) == 1
    st = actors.status(key)
    assert st["status"] == "completed"
    assert st["summary"]["decision"] == "refused" and st["summary"]["refusal_final"] is True
    assert task(st, "after_refusal", "cancelled")
    assert st["grants"] == []
    assert templates(actors, key)[-2:] == ["refusal_final", "refusal_final"]
    missed = [e for e in st["timeline"] if e["kind"] == "deadline_missed"]
    assert [e["detail"]["title"] for e in missed] == ["决定是否协商"]
    # the requester still reads why it was refused
    assert st["outcome"]["decision"] == "refused"
    assert st["outcome"]["reasons"] == REFUSE["review_reason"]


def test_a_decision_before_the_limit_cancels_its_timers(actors, clock):
    key = refused(actors)
    actors.complete("civil.clerk", key, "after_refusal", next_step="accept")
    clock.set("2026-12-31T00:00:00+08:00")
    assert actors.sweep() == 0
    assert actors.status(key)["status"] == "completed"


# -- 督办逾期答复 has its own limit --------------------------------------------------------------
def test_the_supervision_of_an_overdue_reply_is_itself_time_bound(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    reply_due = due(actors.status(key), "provider_review")
    pass_to(actors, clock, reply_due + SECOND)
    st = actors.status(key)
    assert open_tasks(st) == ["provider_review", "supervise"]
    supervision_due = due(st, "supervise")
    assert supervision_due > reply_due
    assert pass_to(actors, clock, supervision_due - SECOND) == 1
    assert templates(actors, key)[-1] == "supervision_reminder"
    assert pass_to(actors, clock, supervision_due + SECOND) == 1
    st = actors.status(key)
    assert st["summary"]["supervision_overdue"] is True
    assert open_tasks(st) == ["provider_review", "supervise"]  # still the authority's to do
    assert templates(actors, key)[-1] == "supervision_overdue"
    assert "deadline_overdue" in kinds(st)


# -- negotiation positions -----------------------------------------------------------------
def test_a_silent_requester_is_reminded_and_the_negotiation_goes_to_coordination(actors, clock):
    key = negotiating(actors, requester_position=False)
    deadline = due(actors.status(key), "requester_position")
    assert pass_to(actors, clock, deadline - SECOND) == 1
    assert templates(actors, key)[-1] == "negotiation_reminder"
    assert open_tasks(actors.status(key)) == ["requester_position"]
    assert pass_to(actors, clock, deadline + SECOND) == 1
    st = actors.status(key)
    assert open_tasks(st) == ["coordinate"]
    assert task(st, "requester_position", "cancelled")
    assert st["summary"]["negotiation_failed"] is True
    assert ("position_missed", "requester") in dossier(actors, key)
    assert "negotiation_missed" in templates(actors, key)


def test_a_silent_provider_is_reminded_and_its_missed_position_is_in_the_dossier(actors, clock):
    key = negotiating(actors)
    deadline = due(actors.status(key), "provider_position")
    assert pass_to(actors, clock, deadline - SECOND) == 1
    assert templates(actors, key)[-1] == "negotiation_reminder"
    assert pass_to(actors, clock, deadline + SECOND) == 1
    assert open_tasks(actors.status(key)) == ["coordinate"]
    assert ("position_missed", "provider") in dossier(actors, key)


# -- the coordinator's request for information ----------------------------------------------
def test_an_unanswered_information_request_is_missed_and_the_coordination_goes_on(actors, clock):
    key = coordinating(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="provider",
        info_question="请说明不予共享的法律依据",
        info_days="3",
    )
    deadline = due(actors.status(key), "provider_info")
    assert pass_to(actors, clock, deadline - SECOND) == 1
    assert templates(actors, key)[-1] == "coordination_info_reminder"
    assert pass_to(actors, clock, deadline + SECOND) == 1
    st = actors.status(key)
    assert open_tasks(st) == ["coordinate"]
    assert task(st, "provider_info", "cancelled")
    assert dossier(actors, key)[-2:] == [("info_request", "provider"), ("info_missed", "provider")]
    assert templates(actors, key)[-1] == "coordination_info_missed"


# -- 协调处理 itself ---------------------------------------------------------------------------
CITY = dict(
    resource_code="BM-YC-MZ/0001",
    info_items=["公民身份号码"],
    purpose="核查个体户经营者救助资格",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2026-12-31",
)


def test_an_overdue_city_coordination_is_supervised_by_the_region_authority(actors, clock):
    key = coordinating(actors, "yinchuan-samr.clerk", "yinchuan-civil.clerk", CITY)
    st = actors.status(key)
    assert task(st, "coordinate")["department"].zh == "银川市数据共享主管部门"
    deadline = due(st, "coordinate")
    assert pass_to(actors, clock, deadline - SECOND) == 1
    assert templates(actors, key)[-1] == "coordination_reminder"
    assert pass_to(actors, clock, deadline + SECOND) == 1
    st = actors.status(key)
    assert st["summary"]["coordination_overdue"] is True
    assert open_tasks(st) == ["coordinate", "supervise_coordination"]
    supervision = task(st, "supervise_coordination")
    assert supervision["department"].zh == "自治区数据共享主管部门"
    assert "coordination_overdue" in templates(actors, key)
    # the supervision has its own limit, reminder and overdue mark
    supervision_due = due(st, "supervise_coordination")
    assert pass_to(actors, clock, supervision_due - SECOND) == 1
    assert templates(actors, key)[-1] == "supervision_reminder"
    assert pass_to(actors, clock, supervision_due + SECOND) == 1
    assert actors.status(key)["summary"]["supervision_overdue"] is True
    # the region's coordinator closes the supervision; the city decides; the request completes
    actors.complete(
        "data.coord",
        key,
        "supervise_coordination",
        supervision_action="urged",
        supervision_note="已督促银川市尽快作出协调决定",
    )
    actors.complete(
        "yinchuan-data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="依据不足",
    )
    assert actors.status(key)["status"] == "completed"


def test_an_overdue_region_coordination_is_marked_overdue_without_a_level_above(actors, clock):
    key = coordinating(actors)
    deadline = due(actors.status(key), "coordinate")
    pass_to(actors, clock, deadline - SECOND)
    assert pass_to(actors, clock, deadline + SECOND) == 1
    st = actors.status(key)
    assert st["summary"]["coordination_overdue"] is True
    assert open_tasks(st) == ["coordinate"]
    assert "coordination_overdue" in templates(actors, key)
    assert "deadline_overdue" in kinds(st)


def test_an_overdue_coordination_is_supervised_once_however_often_it_asks_for_more(actors, clock):
    key = coordinating(actors, "yinchuan-samr.clerk", "yinchuan-civil.clerk", CITY)
    deadline = due(actors.status(key), "coordinate")
    pass_to(actors, clock, deadline - SECOND)
    pass_to(actors, clock, deadline + SECOND)
    # after the limit the coordinator asks for information, gets it, and is back at coordinate
    actors.complete(
        "yinchuan-data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="requester",
        info_question="请补充救助对象名单",
        info_days="5",
    )
    actors.complete("yinchuan-samr.clerk", key, "requester_info", info_answer="名单见附件")
    actors.sweep()
    st = actors.status(key)
    assert open_tasks(st) == ["coordinate", "supervise_coordination"]  # no second supervision
    assert templates(actors, key).count("coordination_overdue") == 1
    assert templates(actors, key).count("coordination_reminder") == 1
    assert due(st, "coordinate") == deadline  # the coordination keeps its limit


def test_a_coordination_that_asks_for_information_before_its_limit_is_still_bound_by_it(
    actors, clock
):
    key = coordinating(actors)
    deadline = due(actors.status(key), "coordinate")
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="requester",
        info_question="请补充",
        info_days="10",
    )
    actors.complete("civil.clerk", key, "requester_info", info_answer="已补充")
    assert pass_to(actors, clock, deadline + SECOND) == 1
    st = actors.status(key)
    assert st["summary"]["coordination_overdue"] is True
    assert templates(actors, key).count("coordination_overdue") == 1
