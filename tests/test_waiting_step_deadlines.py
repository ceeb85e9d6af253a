"""Issue 12: no step is open-ended. Every user task of data_error_verification, rectification and
the annual report, driven with the fake clock and the timer worker: a reminder before the
deadline (not earlier), overdue marking at it (not earlier), a supervision task for the same-level
authority, and the supervision's own deadline. Also: a returned rectification keeps its original
deadline and is supervised once per lapse."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.calendar import load_calendar
from engine.oversight import breaches, evaluation
from engine.quality import verification
from engine.workflow.models import HumanTask
from tests.conftest import HUKOU
from tests.test_share_request_process import open_tasks, outbox
from tests.test_verification import REPORT, granted

SECOND = timedelta(seconds=1)
REGION_AUTHORITY = "自治区数据共享主管部门"


def _deadline(actors, start, days) -> datetime:
    return actors.run(lambda s: load_calendar(s).deadline(start, days).due_at)


def _open(actors, key, task) -> dict:
    [row] = [t for t in actors.status(key)["tasks"] if t["task"] == task and t["state"] == "open"]
    return row


def _at(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def assert_deadline_enforced(
    actors, clock, key, task, *, reminder_at, due, reminder, overdue, supervise
):
    """The one behaviour every waiting step shares (docs/deadlines.md), checked step by step."""
    row = _open(actors, key, task)
    assert _at(row["due_at"]) == due
    assert reminder_at < due

    # the reminder: nothing up to its instant (and no incident at it), then once
    clock.set(reminder_at)
    actors.sweep()
    assert reminder not in outbox(actors, key) and actors.status(key)["incident"] is None
    clock.set(reminder_at + SECOND)
    actors.sweep()
    assert outbox(actors, key).count(reminder) == 1

    # overdue: not until the end (24:00) of the last day, then marked and supervised
    clock.set(due)
    actors.sweep()
    st = actors.status(key)
    assert not st["summary"].get("overdue") and overdue not in outbox(actors, key)
    assert supervise not in open_tasks(st) and st["incident"] is None
    clock.set(due + SECOND)
    actors.sweep()
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert {task, supervise} <= set(open_tasks(st))  # the original task stays open
    assert outbox(actors, key)[-2:] == [overdue, "supervision_opened"]
    assert _at(_open(actors, key, task)["due_at"]) == due  # the deadline does not move

    # supervision: by the same-level authority's coordinators, with a deadline of its own
    sup = _open(actors, key, supervise)
    assert (sup["role"], sup["department"].zh) == ("authority", REGION_AUTHORITY)
    sup_due = _at(sup["due_at"])
    assert sup_due == _deadline(actors, due + SECOND, 5)  # `supervision`: 5 working days
    clock.set(sup_due)
    actors.sweep()
    assert "supervision_overdue" not in outbox(actors, key)
    clock.set(sup_due + SECOND)
    actors.sweep()
    st = actors.status(key)
    assert outbox(actors, key).count("supervision_overdue") == 1
    assert st["summary"]["supervision_overdue"] is True
    assert {task, supervise} <= set(open_tasks(st))
    return st


# -- data_error_verification -------------------------------------------------------------------
OPENED = "2026-09-18T10:00:00+08:00"  # the fake clock's start: Friday


def _report(actors):
    granted(actors)
    return actors.run(
        lambda s: (
            verification.report_error(
                s, actors.clock, actors.user(s, "civil.clerk"), dict(REPORT)
            ).business_key
        )
    )


def _to_verify_record(actors):
    return _report(actors)


def _to_ask_more_info(actors):
    key = _report(actors)
    actors.complete(
        "pubsec.clerk",
        key,
        "verify_record",
        verification_result="need_info",
        info_needed="请提供证明材料编号",
    )
    return key


def _to_requester_review(actors):
    key = _report(actors)
    actors.complete(
        "pubsec.clerk", key, "verify_record", verification_result="data_correct", explanation="无误"
    )
    return key


def _to_authority_review(actors):
    key = _to_requester_review(actors)
    actors.complete(
        "civil.clerk",
        key,
        "requester_review",
        review_choice="escalate",
        escalation_reason="群众持有迁入证明",
    )
    return key


def _to_correct_record(actors):
    key = _to_authority_review(actors)
    actors.complete(
        "data.coord", key, "authority_review", ruling="data_wrong", ruling_reasons="记录有误"
    )
    return key


DATA_ERROR_STEPS = [
    # task, how to reach it, its limit, reminder, overdue notice, supervision task
    (
        "verify_record",
        _to_verify_record,
        10,
        "verification_reminder",
        "verification_overdue",
        "verify_supervise",
    ),
    (
        "ask_more_info",
        _to_ask_more_info,
        5,
        "verification_more_info_reminder",
        "verification_more_info_overdue",
        "info_supervise",
    ),
    (
        "requester_review",
        _to_requester_review,
        5,
        "verification_review_reminder",
        "verification_review_overdue",
        "answer_review_supervise",
    ),
    (
        "authority_review",
        _to_authority_review,
        10,
        "verification_ruling_reminder",
        "verification_ruling_overdue",
        "ruling_supervise",
    ),
    (
        "correct_record",
        _to_correct_record,
        10,
        "verification_correction_reminder",
        "verification_correction_overdue",
        "correction_supervise",
    ),
]


@pytest.mark.parametrize(
    "task,reach,days,reminder,overdue,supervise",
    DATA_ERROR_STEPS,
    ids=[step[0] for step in DATA_ERROR_STEPS],
)
def test_every_data_error_step_is_reminded_marked_overdue_and_supervised(
    actors, clock, task, reach, days, reminder, overdue, supervise
):
    key = reach(actors)  # every step is reached on the report's day, Friday 2026-09-18
    due = _deadline(actors, OPENED, days)
    assert_deadline_enforced(
        actors,
        clock,
        key,
        task,
        reminder_at=_deadline(actors, OPENED, days - 2),
        due=due,
        reminder=reminder,
        overdue=overdue,
        supervise=supervise,
    )
    # only an uncorrected ruling is a breach when its period passes (art. 23 (3))
    kinds = [b["kind"] for b in actors.status(key)["breaches"]]
    assert kinds == (["data_inconsistency"] if task == "correct_record" else [])


# -- rectification -------------------------------------------------------------------------------
def _rectification(actors, clock):
    """A breach (a reply left overdue) and the rectification the authority orders for it."""
    actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-10T00:00:01+08:00")
    actors.sweep()
    bid = actors.run(
        lambda s: breaches.ledger(s, actors.user(s, "data.coord"), breaches.Filters()).rows[0].id
    )
    clock.set("2026-10-12T10:00:00+08:00")  # Monday
    return actors.run(
        lambda s: (
            breaches.open_rectification(
                s, actors.clock, actors.user(s, "data.coord"), bid
            ).business_key
        )
    )


def test_the_rectification_report_is_reminded_marked_overdue_and_supervised(actors, clock):
    key = _rectification(actors, clock)
    opened = "2026-10-12T10:00:00+08:00"
    assert_deadline_enforced(
        actors,
        clock,
        key,
        "rectify",
        reminder_at=_deadline(actors, opened, 13),
        due=_deadline(actors, opened, 15),
        reminder="rectification_reminder",
        overdue="rectification_overdue",
        supervise="rectify_supervise",
    )


def test_the_confirmation_of_a_rectification_is_reminded_marked_overdue_and_supervised(
    actors, clock
):
    key = _rectification(actors, clock)
    clock.set("2026-10-14T10:00:00+08:00")
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警")
    opened = "2026-10-14T10:00:00+08:00"
    assert_deadline_enforced(
        actors,
        clock,
        key,
        "confirm_rectification",
        reminder_at=_deadline(actors, opened, 8),
        due=_deadline(actors, opened, 10),
        reminder="rectification_review_reminder",
        overdue="rectification_review_overdue",
        supervise="confirm_supervise",
    )


def _return(actors, key, comment="请补充责任人"):
    actors.complete(
        "data.coord",
        key,
        "confirm_rectification",
        rectification_decision="return",
        rectification_comment=comment,
    )


def _supervisions(actors, key):
    return [t for t in actors.status(key)["tasks"] if t["task"] == "rectify_supervise"]


def test_a_return_after_the_lapse_keeps_the_deadline_and_opens_no_second_supervision(actors, clock):
    key = _rectification(actors, clock)
    due = _at(_open(actors, key, "rectify")["due_at"])
    clock.set(due + SECOND)
    actors.sweep()  # the lapse: overdue, supervision opened
    assert len(_supervisions(actors, key)) == 1
    clock.set(due + timedelta(days=3))
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警")
    _return(actors, key)
    st = actors.status(key)
    # the returned report is the department's task again, with the reasons, under the old deadline
    assert "rectify" in open_tasks(st) and _at(_open(actors, key, "rectify")["due_at"]) == due
    assert st["summary"]["return_reasons"] == "请补充责任人"
    actors.sweep()
    assert len(_supervisions(actors, key)) == 1  # the same lapse is supervised once
    sent = outbox(actors, key)
    assert sent.count("rectification_overdue") == 1 and sent.count("supervision_opened") == 1
    assert sent.count("rectification_reminder") == 1
    assert sent[-1] == "rectification_returned"
    # and the department can still finish
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警，明确责任人")
    actors.complete("data.coord", key, "confirm_rectification", rectification_decision="accept")
    actors.complete(
        "data.coord",
        key,
        "rectify_supervise",
        supervision_action="urged",
        supervision_note="已督促",
    )
    assert actors.status(key)["status"] == "completed"


def test_a_return_before_the_due_date_keeps_the_original_deadline_and_its_timers(actors, clock):
    key = _rectification(actors, clock)
    row = _open(actors, key, "rectify")
    due = _at(row["due_at"])
    clock.set("2026-10-13T10:00:00+08:00")
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警")
    _return(actors, key)
    assert _at(_open(actors, key, "rectify")["due_at"]) == due  # the original deadline stands
    reminder_at = _deadline(actors, "2026-10-12T10:00:00+08:00", 13)
    clock.set(reminder_at + SECOND)
    actors.sweep()
    assert outbox(actors, key).count("rectification_reminder") == 1
    clock.set(due + SECOND)
    actors.sweep()
    assert len(_supervisions(actors, key)) == 1  # the lapse during the second round: once
    assert outbox(actors, key).count("rectification_overdue") == 1


def test_a_late_report_returned_after_the_lapse_is_not_reminded_or_supervised_again(actors, clock):
    key = _rectification(actors, clock)
    due = _at(_open(actors, key, "rectify")["due_at"])
    clock.set(due + SECOND)
    actors.sweep()
    clock.set(due + timedelta(days=2))
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警")
    _return(actors, key, "措施不具体")
    clock.set(due + timedelta(days=4))
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警，每周通报")
    _return(actors, key, "仍不具体")  # a second return, still the same lapse
    actors.sweep()
    sent = outbox(actors, key)
    assert len(_supervisions(actors, key)) == 1
    assert sent.count("rectification_overdue") == 1 and sent.count("rectification_reminder") == 1


# -- the annual report (annual_evaluation) -------------------------------------------------------
def test_the_annual_report_is_reminded_marked_overdue_and_supervised(actors, clock):
    clock.set("2027-01-04T09:00:00+08:00")
    actors.run(lambda s: evaluation.start_due_campaigns(s, actors.clock))

    def pubsec_report(s):
        dept = actors.user(s, "pubsec.clerk").department_id
        return s.scalar(
            select(HumanTask).where(
                HumanTask.department_id == dept, HumanTask.task_name == "submit_annual_report"
            )
        ).instance.business_key

    key = actors.run(pubsec_report)
    st = assert_deadline_enforced(
        actors,
        clock,
        key,
        "submit_annual_report",
        reminder_at=_at("2027-01-25T00:00:00+08:00"),
        due=_at("2027-02-01T00:00:00+08:00"),  # by the end of January (art. 17)
        reminder="annual_report_reminder",
        overdue="annual_report_overdue",
        supervise="report_supervise",
    )
    assert [b["kind"] for b in st["breaches"]] == ["annual_report_overdue"]
