"""share_request and negotiation driven through every path with a fake clock (art. 11, 12, 23)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import Conflict, ValidationFailed
from engine.i18n import Label
from engine.oversight.models import Breach
from engine.sharing.models import Grant
from engine.workflow.models import HumanTask, OutboxMessage
from tests.conftest import HUKOU, NOT_SHARED

SCOPE = dict(
    granted_items=["公民身份号码", "变动类型"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定城乡低保对象户籍状况",
)
REFUSE = dict(review_decision="refuse", review_reason="申请的信息项超出低保核定所需范围")


def open_tasks(status):
    return sorted(t["task"] for t in status["tasks"] if t["state"] == "open")


# what the engine's services write about tasks and breaches beside the processes' own messages
SERVICE_EVENTS = {
    "task_offered",
    "task_claimed",
    "task_assigned",
    "task_unclaimed",
    "breach_recorded",
    "appeal_decided",
}


def outbox(actors, key):
    """The messages the process wrote for the instance, in order."""
    return actors.run(
        lambda s: [
            m.template
            for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if m.payload.get("business_key") == key and m.template not in SERVICE_EVENTS
        ]
    )


def test_unconditional_resource_is_granted_at_once_with_scope_and_purpose(actors):
    key = actors.request(
        "civil.clerk",
        resource_code="JC-RK/0001",
        info_items=["姓名", "公民身份号码"],
        purpose="核验申请人身份",
        scenario="YYCJ006",
        legal_basis="《社会救助暂行办法》",
        period_start="2026-10-01",
        period_end="2026-12-31",
    )
    st = actors.status(key)
    assert st["status"] == "completed"
    assert st["tasks"] == []
    assert st["grants"] == [
        {
            "id": st["grants"][0]["id"],
            "info_items": ["姓名", "公民身份号码"],
            "period_start": "2026-10-01",
            "period_end": "2026-12-31",
            "purpose": "核验申请人身份",
            "scenario": "YYCJ006",  # the request's application scenario (art. 12)
            "scenario_name": Label("城乡低保对象认定", "Minimum living allowance eligibility"),
            "usage": {"checks": 0, "items": 0, "refusals": 0},
            "basis": "unconditional",
            "granted_at": st["grants"][0]["granted_at"],
            "decision": "granted",
            "reasons": None,
            "conditions": None,
            "decided_by": None,  # the catalog's share type decided, not an official
            "revoked_at": None,
            "revoke_reason": None,
        }
    ]
    assert outbox(actors, key) == ["request_granted"]


def test_conditional_request_waits_for_the_provider_with_a_ten_working_day_deadline(actors):
    key = actors.request("civil.clerk", **HUKOU)
    st = actors.status(key)
    assert st["status"] == "running"
    assert open_tasks(st) == ["provider_review"]
    task = st["tasks"][0]
    assert task["department"].zh == "自治区公安厅"
    assert task["due_at"] == "2026-10-09T16:00:00+00:00"  # 24:00 of 2026-10-09 in Asia/Shanghai
    assert st["reply_deadline"]["due_date"] == "2026-10-09"


def test_provider_approves_with_scope(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    st = actors.status(key)
    assert st["status"] == "completed"
    assert st["summary"]["decision"] == "granted"
    assert [(g["basis"], g["info_items"], g["period_end"]) for g in st["grants"]] == [
        ("approved", ["公民身份号码", "变动类型"], "2027-09-30")
    ]
    assert st["tasks"][0]["completed_by"].zh == "自治区公安厅经办人"


def test_provider_approves_in_part_with_reasons(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_review",
        review_decision="approve_in_part",
        review_reason="变动类型涉及个人隐私，仅提供身份号码",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    st = actors.status(key)
    assert [(g["basis"], g["info_items"]) for g in st["grants"]] == [("partial", ["公民身份号码"])]


def test_an_approval_in_part_that_withholds_nothing_is_refused_and_nothing_is_stored(actors):
    key = actors.request("civil.clerk", **HUKOU)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "pubsec.clerk",
            key,
            "provider_review",
            review_decision="approve_in_part",
            review_reason="部分同意",
            **SCOPE,  # every item, the whole period: that is a full grant
        )
    assert err.value.details[0]["field"] == "granted_items"
    st = actors.status(key)
    assert st["grants"] == [] and st["tasks"][0]["state"] == "open"


def test_approval_cannot_grant_items_that_were_not_requested(actors):
    key = actors.request("civil.clerk", **HUKOU)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "pubsec.clerk",
            key,
            "provider_review",
            review_decision="approve",
            **{**SCOPE, "granted_items": ["迁入地"]},
        )
    assert err.value.details[0]["field"] == "granted_items"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_refusal_without_reason_is_rejected_and_nothing_is_stored(actors, reason):
    key = actors.request("civil.clerk", **HUKOU)
    form = (
        {"review_decision": "refuse"}
        if reason is None
        else {"review_decision": "refuse", "review_reason": reason}
    )
    with pytest.raises(ValidationFailed) as err:
        actors.complete("pubsec.clerk", key, "provider_review", **form)
    assert "review_reason" in [d["field"] for d in err.value.details]
    st = actors.status(key)
    assert open_tasks(st) == ["provider_review"]
    assert st["tasks"][0]["assignee"] is None
    assert [e["kind"] for e in st["timeline"]] == ["started"]


def test_refusal_then_requester_accepts(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    assert outbox(actors, key)[-1] == "request_refused"
    actors.complete("civil.clerk", key, "after_refusal", next_step="accept")
    st = actors.status(key)
    assert st["status"] == "completed"
    assert st["summary"]["decision"] == "refused"
    assert st["grants"] == []


def test_refusal_then_negotiation_agreed_grants(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    actors.complete("civil.clerk", key, "after_refusal", next_step="negotiate")
    assert open_tasks(actors.status(key)) == ["requester_position"]
    actors.complete(
        "civil.clerk",
        key,
        "requester_position",
        requester_position="仅需身份号码核验户籍",
        proposed_items=["公民身份号码"],
    )
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_position",
        provider_position="同意仅提供身份号码",
        negotiation_result="agreed",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    st = actors.status(key)
    assert st["status"] == "completed"
    assert [(g["basis"], g["info_items"]) for g in st["grants"]] == [
        ("negotiated", ["公民身份号码"])
    ]


def _to_coordination(actors, key):
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    actors.complete("civil.clerk", key, "after_refusal", next_step="negotiate")
    actors.complete(
        "civil.clerk", key, "requester_position", requester_position="低保核定确需变动类型"
    )
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_position",
        provider_position="不同意提供变动类型",
        negotiation_result="failed",
    )
    st = actors.status(key)
    assert open_tasks(st) == ["coordinate"]
    coordinate = [t for t in st["tasks"] if t["task"] == "coordinate"][0]
    assert coordinate["department"].zh == "自治区数据共享主管部门"


def test_negotiation_failed_then_coordination_grants(actors):
    key = actors.request("civil.clerk", **HUKOU)
    _to_coordination(actors, key)
    with pytest.raises(ValidationFailed):  # a binding decision needs reasons
        actors.complete(
            "data.coord",
            key,
            "coordinate",
            coordination_action="decide",
            coordination_decision="grant",
            **SCOPE,
        )
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="grant",
        coordination_reasons="低保核定属法定职责，所需信息项必要",
        **SCOPE,
    )
    st = actors.status(key)
    assert st["status"] == "completed"
    assert [g["basis"] for g in st["grants"]] == ["coordinated"]
    assert outbox(actors, key)[-2:] == ["request_granted", "coordination_decided"]


def test_coordination_upholds_the_refusal(actors):
    key = actors.request("civil.clerk", **HUKOU)
    _to_coordination(actors, key)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="变动类型涉及敏感信息，现有依据不足",
    )
    st = actors.status(key)
    assert st["status"] == "completed"
    assert st["grants"] == []
    assert st["summary"]["negotiation_outcome"] == "refused"


def test_only_a_coordinator_of_the_authority_may_decide(actors):
    key = actors.request("civil.clerk", **HUKOU)
    _to_coordination(actors, key)
    from engine.errors import Forbidden

    with pytest.raises(Forbidden):
        actors.complete(
            "data.clerk",
            key,
            "coordinate",
            coordination_action="decide",
            coordination_decision="uphold",
            coordination_reasons="x" * 5,
        )


def test_negotiation_without_agreement_in_time_goes_to_coordination(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    clock.set("2026-09-21T09:00:00+08:00")
    actors.complete("civil.clerk", key, "after_refusal", next_step="negotiate")
    actors.complete(
        "civil.clerk", key, "requester_position", requester_position="低保核定确需变动类型"
    )
    # 10th working day after Monday 09-21: National Day skipped, make-up Saturday 10-10 counted → 10-12.
    clock.set("2026-10-12T23:59:00+08:00")
    assert actors.sweep() == 1  # the reminder, two working days before; not yet the deadline
    assert open_tasks(actors.status(key)) == ["provider_position"]
    assert actors.sweep() == 0
    clock.set("2026-10-13T00:00:01+08:00")
    assert actors.sweep() == 1
    st = actors.status(key)
    assert open_tasks(st) == ["coordinate"]
    assert [t["state"] for t in st["tasks"] if t["task"] == "provider_position"] == ["cancelled"]


def test_not_shared_resource_opens_a_negotiation_directly(actors):
    key = actors.request("civil.clerk", **NOT_SHARED)
    assert key.startswith("XS-2026-")
    assert open_tasks(actors.status(key)) == ["requester_position"]


def test_silent_provider_gets_a_reminder_then_overdue_breach_and_supervision(actors, clock):
    """Submitted Friday 2026-09-18: the 10 working days run over Mid-Autumn and National Day,
    counting the make-up Sunday 09-20; due at 24:00 on 2026-10-09."""
    key = actors.request("civil.clerk", **HUKOU)
    # 8th working day ends 2026-09-30: the reminder fires after it, 2 working days before the deadline.
    clock.set("2026-09-30T23:00:00+08:00")
    assert actors.sweep() == 0
    clock.set("2026-10-01T00:00:01+08:00")
    assert actors.sweep() == 1
    assert outbox(actors, key) == ["reply_reminder"]
    assert open_tasks(actors.status(key)) == ["provider_review"]
    # Holidays: nothing is due on 10-08 either.
    clock.set("2026-10-09T23:59:59+08:00")
    assert actors.sweep() == 0
    clock.set("2026-10-10T00:00:01+08:00")
    assert actors.sweep() == 1
    assert actors.sweep() == 0  # exactly once
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert open_tasks(st) == ["provider_review", "supervise"]  # the provider's task stays open
    assert [(b["department"].zh, b["kind"], b["article"]) for b in st["breaches"]] == [
        ("自治区公安厅", "reply_overdue", "第二十三条（二）")
    ]
    supervise = [t for t in st["tasks"] if t["task"] == "supervise"][0]
    assert supervise["department"].zh == "自治区数据共享主管部门"
    assert outbox(actors, key) == ["reply_reminder", "reply_overdue", "supervision_opened"]
    evidence = actors.run(lambda s: s.scalars(select(Breach)).one().evidence)
    assert evidence["deadline"]["due_date"] == "2026-10-09"
    assert ["2026-09-20", "调休上班（2026-10-06 休息）"] in evidence["deadline"]["make_up_days"]
    # A late answer still completes the request; the supervision stays for the authority.
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    actors.complete(
        "data.coord", key, "supervise", supervision_action="urged", supervision_note="已电话催办"
    )
    st = actors.status(key)
    assert st["status"] == "completed"
    assert len(st["grants"]) == 1


def test_answer_before_the_reminder_cancels_both_timers(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    clock.set("2026-12-31T00:00:00+08:00")
    assert actors.sweep() == 0
    assert outbox(actors, key) == ["request_granted"]


def test_same_level_authority_of_two_city_departments_is_the_city_authority(actors):
    key = actors.request(
        "yinchuan-samr.clerk",
        resource_code="BM-YC-MZ/0001",
        info_items=["公民身份号码"],
        purpose="核查个体户经营者救助资格",
        scenario="YYCJ006",
        legal_basis="《社会救助暂行办法》",
        period_start="2026-10-01",
        period_end="2026-12-31",
    )
    actors.complete(
        "yinchuan-civil.clerk",
        key,
        "provider_review",
        review_decision="refuse",
        review_reason="不属于核查范围",
    )
    actors.complete("yinchuan-samr.clerk", key, "after_refusal", next_step="negotiate")
    actors.complete("yinchuan-samr.clerk", key, "requester_position", requester_position="需要")
    actors.complete(
        "yinchuan-civil.clerk",
        key,
        "provider_position",
        provider_position="不同意",
        negotiation_result="failed",
    )
    coordinate = [t for t in actors.status(key)["tasks"] if t["task"] == "coordinate"][0]
    assert coordinate["department"].zh == "银川市数据共享主管部门"


def test_completing_a_completed_task_names_who_finished_it(actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    from engine.workflow import tasks

    actors.run(
        lambda s: tasks.complete(
            s,
            actors.clock,
            task_id,
            actors.user(s, "pubsec.clerk"),
            {"review_decision": "approve", **SCOPE},
        )
    )
    with pytest.raises(Conflict) as err:
        actors.run(
            lambda s: tasks.complete(
                s,
                actors.clock,
                task_id,
                actors.user(s, "pubsec.lead"),
                {"review_decision": "approve", **SCOPE},
            )
        )
    assert "Public Security Clerk" in str(err.value)  # the message's language: English
    assert actors.run(lambda s: s.scalar(select(Grant).where(Grant.id > 0)) is not None)
    assert actors.run(lambda s: len(s.scalars(select(Grant)).all())) == 1
    assert actors.run(lambda s: s.get(HumanTask, task_id).state) == "completed"
