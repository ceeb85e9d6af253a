"""data_error_verification (art. 13, 15, 23): every path with a fake clock, the flag and served-on-proof."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import Forbidden, ValidationFailed
from engine.quality import verification as service
from engine.quality.models import Verification
from engine.workflow import inbox
from tests.conftest import HUKOU
from tests.test_share_request_process import SCOPE, open_tasks, outbox
from tests.test_web import Browser, app  # noqa: F401

REPORT = dict(
    resource_code="JC-RK/0002",
    record_id="640104198001010011",
    field="变动类型",
    value_seen="迁出",
    value_expected="迁入",
    note="群众持迁入证明前来办事",
)


def granted(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    return key


def report(actors, **changes):
    return actors.run(
        lambda s: (
            service.report_error(
                s, actors.clock, actors.user(s, "civil.clerk"), {**REPORT, **changes}
            ).business_key
        )
    )


def flag(actors, username="civil.clerk"):
    return actors.run(
        lambda s: service.flag(s, actors.user(s, username), "JC-RK/0002", REPORT["record_id"])
    )


def breaches(actors, key):
    return [(b["kind"], b["article"]) for b in actors.status(key)["breaches"]]


def test_only_grant_holders_report_and_read_flags(actors):
    with pytest.raises(Forbidden):
        report(actors)
    granted(actors)
    with pytest.raises(Forbidden):
        flag(actors, "health.clerk")
    assert flag(actors)["under_verification"] is False


def test_corrected_within_the_period_is_no_breach_and_the_flag_clears_on_acceptance(actors, clock):
    granted(actors)
    key = report(actors)
    assert key.startswith("JY-2026-")
    assert (
        flag(actors)["under_verification"] is True
        and flag(actors, "pubsec.clerk")["under_verification"] is True
    )
    task = [t for t in actors.status(key)["tasks"] if t["task"] == "verify_record"][0]
    assert task["department"].zh == "自治区公安厅" and task["due_at"] == "2026-10-09T16:00:00+00:00"
    clock.set("2026-09-22T10:00:00+08:00")
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="corrected",
        corrected_on="2026-09-22",
        correction_note="已更正为迁入",
    )
    assert breaches(actors, key) == []  # art. 23(3): corrected within the period
    assert flag(actors)["under_verification"] is True  # open until the requester accepts
    actors.complete("civil.clerk", key, "requester_review", review_choice="accept")
    assert actors.status(key)["status"] == "completed"
    assert flag(actors)["under_verification"] is False
    v = actors.run(lambda s: s.scalar(select(Verification)))
    assert (v.outcome, v.status, v.corrected_on.isoformat()) == (
        "corrected",
        "closed",
        "2026-09-22",
    )


def escalated(actors):
    """A report the provider answers "the data is right" and the requester escalates."""
    key = report(actors)
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="data_correct",
        explanation="系统记录为迁出，有迁出证明",
    )
    actors.complete(
        "civil.clerk",
        key,
        "requester_review",
        review_choice="escalate",
        escalation_reason="群众提供了迁入证明原件",
    )
    return key


def ruled_wrong(actors):
    key = escalated(actors)
    actors.complete(
        "data.coord",
        key,
        "authority_review",
        ruling="data_wrong",
        ruling_reasons="迁入证明有效，记录有误",
    )
    return key


def test_data_is_right_then_escalated_and_ruled_wrong_opens_a_correction_not_a_breach(actors):
    granted(actors)
    key = report(actors)
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="data_correct",
        explanation="系统记录为迁出，有迁出证明",
    )
    assert breaches(actors, key) == []
    with pytest.raises(ValidationFailed):
        actors.complete("civil.clerk", key, "requester_review", review_choice="escalate")
    actors.complete(
        "civil.clerk",
        key,
        "requester_review",
        review_choice="escalate",
        escalation_reason="群众提供了迁入证明原件",
    )
    actors.complete(
        "data.coord",
        key,
        "authority_review",
        ruling="data_wrong",
        ruling_reasons="迁入证明有效，记录有误",
    )
    # art. 23 (3): a breach only if the confirmed inconsistency is not corrected in time
    assert breaches(actors, key) == []
    st = actors.status(key)
    assert open_tasks(st) == ["correct_record"]
    task = [t for t in st["tasks"] if t["task"] == "correct_record"][0]
    # the provider's task, 10 working days (`correction`) from the ruling on Friday 09-18
    assert task["department"].zh == "自治区公安厅" and task["due_at"] == "2026-10-09T16:00:00+00:00"
    assert st["summary"]["return_reasons"] == "迁入证明有效，记录有误"  # the reasons on the task
    [row] = actors.run(
        lambda s: [
            r
            for r in inbox.list_view(s, actors.user(s, "pubsec.clerk"), actors.clock, "queue").rows
            if r.business_key == key
        ]
    )
    assert (row.task_name, row.reasons) == ("correct_record", "迁入证明有效，记录有误")
    # still flagged while it waits for the correction: front desks keep serving on proof
    assert flag(actors)["under_verification"] is True
    assert actors.run(lambda s: s.scalar(select(Verification.outcome))) == "ruled_wrong"


def test_a_ruled_wrong_record_corrected_within_the_period_is_no_breach(actors, clock):
    granted(actors)
    key = ruled_wrong(actors)
    clock.set("2026-10-09T18:00:00+08:00")  # the last day of the period
    actors.complete(
        "pubsec.clerk",
        key,
        "correct_record",
        corrected_on="2026-10-09",
        correction_note="已将变动类型更正为迁入",
    )
    st = actors.status(key)
    assert breaches(actors, key) == [] and st["status"] == "completed"
    assert flag(actors)["under_verification"] is False
    v = actors.run(lambda s: s.scalar(select(Verification)))
    assert (v.outcome, v.status, v.corrected_on.isoformat()) == (
        "ruled_wrong",
        "closed",
        "2026-10-09",
    )
    assert outbox(actors, key)[-2:] == ["verification_corrected", "verification_corrected"]
    assert actors.run(lambda s: service.quality(s))[0]["fixed"] == 1


def test_a_ruled_wrong_record_not_corrected_within_the_period_is_one_breach(actors, clock):
    granted(actors)
    key = ruled_wrong(actors)
    clock.set("2026-10-10T00:00:01+08:00")  # the period ended at 24:00 on Friday 10-09
    actors.sweep()
    assert breaches(actors, key) == [("data_inconsistency", "第二十三条（三）")]
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert open_tasks(st) == ["correct_record", "correction_supervise"]
    # corrected late: still the one entry for the one lapse
    clock.set("2026-10-13T10:00:00+08:00")
    actors.complete(
        "pubsec.clerk", key, "correct_record", corrected_on="2026-10-12", correction_note="逾期更正"
    )
    assert breaches(actors, key) == [("data_inconsistency", "第二十三条（三）")]
    assert flag(actors)["under_verification"] is False


def test_a_late_correction_completed_before_the_worker_ran_is_still_a_breach(actors, clock):
    granted(actors)
    key = ruled_wrong(actors)
    clock.set("2026-10-12T10:00:00+08:00")  # past the period; no sweep has run
    actors.complete(
        "pubsec.clerk", key, "correct_record", corrected_on="2026-10-12", correction_note="逾期更正"
    )
    assert breaches(actors, key) == [("data_inconsistency", "第二十三条（三）")]


def test_escalated_and_ruled_right_is_no_breach(actors):
    granted(actors)
    key = report(actors)
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="data_correct",
        explanation="记录无误",
    )
    actors.complete(
        "civil.clerk",
        key,
        "requester_review",
        review_choice="escalate",
        escalation_reason="仍有疑问",
    )
    actors.complete(
        "data.coord", key, "authority_review", ruling="data_right", ruling_reasons="证明材料不足"
    )
    assert breaches(actors, key) == [] and actors.status(key)["status"] == "completed"


def test_more_information_restarts_the_providers_period(actors, clock):
    granted(actors)
    key = report(actors)
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="need_info",
        info_needed="请提供群众出示的证明材料编号",
    )
    assert open_tasks(actors.status(key)) == ["ask_more_info"]
    clock.set("2026-10-12T10:00:00+08:00")
    actors.complete("civil.clerk", key, "ask_more_info", more_info="证明编号 NX-2026-0001")
    task = [
        t
        for t in actors.status(key)["tasks"]
        if t["task"] == "verify_record" and t["state"] == "open"
    ][0]
    assert task["due_at"] == "2026-10-26T16:00:00+00:00"  # 10 working days after Monday 10-12


def test_a_correction_after_the_period_is_a_breach(actors, clock):
    granted(actors)
    key = report(actors)
    clock.set("2026-10-12T10:00:00+08:00")
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="corrected",
        corrected_on="2026-10-12",
        correction_note="逾期更正",
    )
    assert breaches(actors, key) == [("data_inconsistency", "第二十三条（三）")]


def test_a_same_day_correction_is_no_breach(actors):
    granted(actors)
    key = report(actors)  # Friday 2026-09-18, 10:00
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="corrected",
        corrected_on="2026-09-18",
        correction_note="当日更正",
    )
    assert breaches(actors, key) == []


def test_a_correction_on_the_last_day_is_in_time_and_on_the_next_day_is_late(actors, clock):
    granted(actors)
    on_time, late = report(actors), report(actors, record_id="640104198001010022")
    clock.set("2026-10-10T09:00:00+08:00")  # the period ended at 24:00 on Friday 10-09
    for key, day in ((on_time, "2026-10-09"), (late, "2026-10-10")):
        actors.complete(
            "pubsec.clerk",
            key,
            "verify_record",
            verification_result="corrected",
            corrected_on=day,
            correction_note="已更正",
        )
    assert breaches(actors, on_time) == []
    assert breaches(actors, late) == [("data_inconsistency", "第二十三条（三）")]


@pytest.mark.parametrize(
    "day,words",
    [("2026-09-19", "later than today"), ("2026-09-17", "before the error was reported")],
)
def test_a_correction_date_in_the_future_or_before_the_report_is_refused(actors, day, words):
    granted(actors)
    key = report(actors)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "pubsec.clerk",
            key,
            "verify_record",
            verification_result="corrected",
            corrected_on=day,
            correction_note="已更正",
        )
    assert words in str(err.value)
    assert [f["field"] for f in err.value.details] == ["corrected_on"]
    assert open_tasks(actors.status(key)) == ["verify_record"]  # nothing written


def test_a_correction_after_a_ruling_dated_tomorrow_is_refused(actors):
    granted(actors)
    key = ruled_wrong(actors)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "pubsec.clerk",
            key,
            "correct_record",
            corrected_on="2026-09-19",
            correction_note="已更正",
        )
    assert "later than today" in str(err.value)
    assert open_tasks(actors.status(key)) == ["correct_record"]


def test_overdue_verification_is_marked_and_supervised_not_yet_a_breach(actors, clock):
    granted(actors)
    key = report(actors)
    clock.set("2026-10-07T10:00:00+08:00")
    assert actors.sweep() == 1  # the reminder two working days before
    clock.set("2026-10-10T00:00:01+08:00")
    assert actors.sweep() == 1
    assert breaches(actors, key) == []  # a breach is a confirmed error left uncorrected
    assert actors.status(key)["summary"]["overdue"] is True
    assert open_tasks(actors.status(key)) == ["verify_record", "verify_supervise"]


def test_served_on_proof_is_registered_only_while_open(actors):
    granted(actors)
    key = report(actors)
    vid = flag(actors)["verifications"][0]["id"]
    with pytest.raises(ValidationFailed):
        actors.run(
            lambda s: service.register_served(
                s, actors.clock, actors.user(s, "civil.clerk"), vid, " "
            )
        )
    row = actors.run(
        lambda s: (
            service.register_served(
                s,
                actors.clock,
                actors.user(s, "civil.clerk"),
                vid,
                "户口迁移证 NX-2026-0001",
                "低保申请受理",
            ).id
        )
    )
    assert row
    actors.complete(
        "pubsec.clerk", key, "verify_record", verification_result="data_correct", explanation="无误"
    )
    actors.complete("civil.clerk", key, "requester_review", review_choice="accept")
    with pytest.raises(ValidationFailed):
        actors.run(
            lambda s: service.register_served(
                s, actors.clock, actors.user(s, "civil.clerk"), vid, "证明"
            )
        )
    # closed, the record is no longer flagged, but its history keeps who was served on what proof
    closed = flag(actors)
    assert closed["under_verification"] is False
    assert [
        (r["department"].zh, r["proof"], r["service"], r["business_key"]) for r in closed["served"]
    ] == [("自治区民政厅", "户口迁移证 NX-2026-0001", "低保申请受理", key)]
    timeline = [e["kind"] for e in actors.status(key)["timeline"]]
    assert "served_on_proof" in timeline  # on the case too


def test_quality_figures_per_provider_and_resource(actors, clock):
    granted(actors)
    first = report(actors)
    clock.set("2026-09-25T10:00:00+08:00")
    actors.complete(
        "pubsec.clerk",
        first,
        "verify_record",
        verification_result="corrected",
        corrected_on="2026-09-24",
        correction_note="已更正",
    )
    clock.set("2026-09-28T10:00:00+08:00")
    second = report(actors, record_id="640104198001010022")
    actors.complete(
        "pubsec.clerk",
        second,
        "verify_record",
        verification_result="data_correct",
        explanation="无误",
    )
    stats = actors.run(
        lambda s: [{**row, "provider": row["provider"].zh} for row in service.quality(s)]
    )
    assert stats == [
        {
            "provider": "自治区公安厅",
            "code": "JC-RK/0002",
            "name": "户籍变动信息",
            "reported": 2,
            "confirmed": 1,
            "fixed": 1,
            "median_days_to_fix": 5,
        }
    ]  # 09-20 (made up) to 09-24


def test_service_on_proof_during_a_correction_stays_on_the_case_and_the_check_page(
    app,  # noqa: F811
    actors,
    clock,
):
    granted(actors)
    key = ruled_wrong(actors)
    vid = flag(actors)["verifications"][0]["id"]
    # while the provider corrects, the record is still flagged and a front desk serves on proof
    civil = Browser(app, "civil.clerk")
    page = f"/verifications/check?resource=JC-RK/0002&record={REPORT['record_id']}"
    r = civil.post(
        "/verifications/check",
        {
            "verification_id": str(vid),
            "proof": "户口迁移证 NX-2026-0001",
            "service": "低保申请受理",
            "resource": "JC-RK/0002",
            "record": REPORT["record_id"],
        },
        page=page,
    )
    assert r.status_code == 302
    clock.set("2026-09-22T10:00:00+08:00")
    actors.complete(
        "pubsec.clerk", key, "correct_record", corrected_on="2026-09-21", correction_note="已更正"
    )
    assert actors.status(key)["status"] == "completed"
    # closed: the check page's history and the case page still show the registration
    civil = Browser(app, "civil.clerk")  # days later: a new sign-in
    html = civil.get(page).get_data(as_text=True)
    assert "未在校核中" in html and "户口迁移证 NX-2026-0001" in html and key in html
    case = civil.get(f"/requests/{key}").get_data(as_text=True)
    assert "已凭证明为群众办理" in case  # the history entry "Citizen served on proof"
