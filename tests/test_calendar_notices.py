"""Calendar notices: an administrator enters a notice, previews which open deadlines move, and
applies it; the deadlines move in the task, the workflow state (timers fire at the new time),
the reminders and next_due_at, in one transaction, with a report, notifications and audit."""

from __future__ import annotations

import json
import time
from datetime import date, datetime

import pytest
from sqlalchemy import func, insert, select

from engine.audit import AuditEvent
from engine.calendar import load_calendar
from engine.calendar.models import CalendarEntry, CalendarNotice, DeadlineChange, DeadlineRecord
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.sharing import requests as share_requests
from engine.workflow.calendar_notices import (
    apply_notice,
    deadline_changes,
    notice_from_form,
    notice_input,
    notice_report,
    preview_notice,
)
from engine.workflow.models import HumanTask, OutboxMessage, ProcessInstance
from engine.workflow.runtime import load_state, next_due
from tests.conftest import HUKOU
from tests.test_bad_input import _cli
from tests.test_web import Browser, app  # noqa: F401

EID = {
    "scope": "regional",
    "reference": "宁政办发〔2026〕88号",
    "holidays": [{"day": "2026-09-24", "name": "开斋节"}],
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _admin(s):
    return _user(s, "data.admin")


def _user(s, name):
    from engine.directory import user_by_name

    return user_by_name(s, name)


def _reply_task(s, key):
    inst = share_requests.instance_by_key(s, key)
    return s.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == inst.id, HumanTask.task_name == "provider_review"
        )
    )


def _outbox(actors, key, template=None):
    def go(s):
        inst = share_requests.instance_by_key(s, key)
        rows = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.instance_id == inst.id)
            .order_by(OutboxMessage.id)
        )
        return [r for r in rows if template is None or r.template == template]

    return actors.run(go)


def test_the_runtime_records_how_each_deadline_was_counted(actors):
    key = actors.request("civil.clerk", **HUKOU)

    def rows(s):
        inst = share_requests.instance_by_key(s, key)
        return {
            r.variable: (r.working_days, r.start_day, r.due_day)
            for r in s.scalars(select(DeadlineRecord).where(DeadlineRecord.instance_id == inst.id))
        }

    assert actors.run(rows) == {
        "reply_due": (10, date(2026, 9, 18), date(2026, 10, 9)),
        "reminder_at": (8, date(2026, 9, 18), date(2026, 9, 30)),
    }


def test_a_notice_moves_exactly_the_deadlines_whose_window_covers_the_changed_day(actors, clock):
    covered = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-09-28T10:00:00+08:00")
    later = actors.request("civil.clerk", **HUKOU)  # counts from 09-28: 09-24 is not in it
    notice = notice_input(EID)

    preview = actors.run(lambda s: preview_notice(s, clock, notice, _admin(s)))
    assert [(d.day, d.was_working, d.is_working) for d in preview.days] == [
        (date(2026, 9, 24), True, False)
    ]
    assert preview.total == 2 and not preview.applied
    assert {(m.business_key, m.before, m.after) for m in preview.moves} == {
        (covered, _at("2026-10-10T00:00:00+08:00"), _at("2026-10-11T00:00:00+08:00")),
        (covered, _at("2026-10-01T00:00:00+08:00"), _at("2026-10-09T00:00:00+08:00")),
    }
    assert (
        sorted(m.task.msgid for m in preview.moves)
        == [
            "Reminder before: %(task)s",
            "提供或拒绝提供",
        ]
        or len({str(m.department) for m in preview.moves}) == 1
    )
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarEntry.id)))) == 0  # preview

    report = actors.run(lambda s: apply_notice(s, clock, notice, _admin(s)))
    assert report.applied and report.total == 2
    assert {m.reason for m in report.moves} == {"2026-09-24 开斋节"}

    def check(s):
        task = _reply_task(s, covered)
        assert task.due_at == _at("2026-10-11T00:00:00+08:00") == task.due_sort
        assert _reply_task(s, later).due_at == _at("2026-10-17T00:00:00+08:00")  # unchanged
        inst = share_requests.instance_by_key(s, covered)
        wf = load_state(inst.definition, inst.state)
        assert inst.next_due_at == next_due(wf) == _at("2026-10-09T00:00:00+08:00")
        assert inst.summary["reply_due"] == "2026-10-11T00:00:00+08:00"
        ready = [t for t in wf.get_tasks() if t.task_spec.name == "provider_review"][0]
        assert ready.data["reply_due"] == "2026-10-11T00:00:00+08:00"
        changes = deadline_changes(s, inst.id)
        assert {(c.reference, c.task_id) for c in changes} == {
            ("宁政办发〔2026〕88号", task.id),
            ("宁政办发〔2026〕88号", None),
        }
        told = s.scalars(select(OutboxMessage).where(OutboxMessage.template == "deadline_moved"))
        assert [(m.payload["task_id"], m.payload["due"]) for m in told] == [
            (task.id, "2026-10-11T00:00:00+08:00")
        ]
        kinds = s.scalars(select(AuditEvent.kind).where(AuditEvent.kind.like("%deadline%")))
        assert list(kinds) == ["deadlines_moved"]
        assert (
            s.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.kind == "calendar_notice_applied"
                )
            )
            == 1
        )
        assert not load_calendar(s).is_working_day(date(2026, 9, 24))

    actors.run(check)
    stored = actors.run(lambda s: notice_report(s, report.notice_id, _admin(s)))
    assert stored.total == 2 and len(stored.moves) == 2


def test_timers_fire_at_the_new_times(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: apply_notice(s, clock, notice_input(EID), _admin(s)))
    clock.set("2026-10-01T00:00:01+08:00")  # the old reminder time: nothing fires now
    assert actors.sweep() == 0
    assert _outbox(actors, key, "reply_reminder") == []
    clock.set("2026-10-09T00:00:01+08:00")  # the reminder moved by one working day
    assert actors.sweep() == 1
    assert len(_outbox(actors, key, "reply_reminder")) == 1
    clock.set("2026-10-10T00:00:01+08:00")  # the old deadline: not overdue yet
    assert actors.sweep() == 0
    assert _outbox(actors, key, "reply_overdue") == []
    clock.set("2026-10-11T00:00:01+08:00")
    assert actors.sweep() == 1
    assert len(_outbox(actors, key, "reply_overdue")) == 1


def test_a_passed_deadline_and_a_notice_outside_every_window_move_nothing(actors, clock):
    actors.request("civil.clerk", **HUKOU)
    outside = dict(EID, holidays=[{"day": "2026-11-20", "name": "开斋节"}])
    report = actors.run(lambda s: apply_notice(s, clock, notice_input(outside), _admin(s)))
    assert report.total == 0 and report.moves == ()
    clock.set("2026-10-05T00:00:00+08:00")  # the reminder has passed; only reply_due moves
    again = dict(EID, reference="宁政办发〔2026〕89号")
    report = actors.run(lambda s: apply_notice(s, clock, notice_input(again), _admin(s)))
    assert [(m.before, m.after) for m in report.moves] == [
        (_at("2026-10-10T00:00:00+08:00"), _at("2026-10-11T00:00:00+08:00"))
    ]


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (dict(EID, holidays=[{"day": "2026/09/24", "name": "开斋节"}]), ["holidays"]),
        (dict(EID, holidays=[{"day": "2026-09-24", "name": "开斋节"}] * 2), ["holidays"]),
        (
            dict(EID, workdays=[{"from": "2026-09-20", "to": "2026-09-24", "name": "调休"}]),
            ["workdays"],
        ),
        ({"scope": "county", "reference": " ", "holidays": []}, ["scope", "reference", "holidays"]),
        (
            dict(EID, holidays=[{"from": "2026-09-24", "to": "2026-09-20", "name": "x"}]),
            ["holidays"],
        ),
        (dict(EID, holidays=[{"day": "20260924", "name": "开斋节"}]), ["holidays"]),
        (dict(EID, holidays=[{"day": "2026-09-24", "name": "开斋\x00节"}]), ["holidays"]),
        (dict(EID, reference=["宁政办发"]), ["reference"]),
    ],
)
def test_bad_notices_are_refused_naming_the_field_and_nothing_is_written(actors, raw, fields):
    with pytest.raises(ValidationFailed) as err:
        notice_input(raw)
    assert [d["field"] for d in err.value.details] == fields
    assert all(d["label"] for d in err.value.details)
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarNotice.id)))) == 0


def test_form_lines_accept_days_and_ranges_and_name_bad_lines():
    notice = notice_from_form(
        {
            "scope": "national",
            "reference": "国办发明电〔2026〕7号",
            "holidays": "2027-02-11/2027-02-13 春节\n\n2027-01-01 元旦",
            "workdays": "2027-02-07 春节调休上班",
        }
    )
    assert [(d.day.isoformat(), d.kind) for d in notice.days] == [
        ("2027-02-11", "holiday"),
        ("2027-02-12", "holiday"),
        ("2027-02-13", "holiday"),
        ("2027-01-01", "holiday"),
        ("2027-02-07", "workday"),
    ]
    with pytest.raises(ValidationFailed) as err:
        notice_from_form({"scope": "national", "reference": "x", "holidays": "2027-02-30 春节"})
    assert err.value.details[0]["field"] == "holidays"


def test_only_the_system_administrator_enters_notices_and_a_notice_enters_once(actors, clock):
    notice = notice_input(EID)
    for name in ("civil.clerk", "yinchuan-data.admin"):
        with pytest.raises(Forbidden):
            actors.run(lambda s, name=name: apply_notice(s, clock, notice, _user(s, name)))
        with pytest.raises(Forbidden):
            actors.run(lambda s, name=name: preview_notice(s, clock, notice, _user(s, name)))
    actors.run(lambda s: apply_notice(s, clock, notice, _admin(s)))
    with pytest.raises(Conflict):
        actors.run(lambda s: apply_notice(s, clock, notice, _admin(s)))
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarNotice.id)))) == 1


def _clone(actors, key, n):
    """``n`` copies of a started request (state, open task, deadline rows), inserted in bulk."""

    def go(s):
        inst = share_requests.instance_by_key(s, key)
        task = _reply_task(s, key)
        records = list(
            s.scalars(select(DeadlineRecord).where(DeadlineRecord.instance_id == inst.id))
        )
        base = s.scalar(select(func.max(ProcessInstance.id)))
        cols = {
            c.key: getattr(inst, c.key)
            for c in ProcessInstance.__table__.columns
            if c.key not in ("id", "business_key")
        }
        s.execute(
            insert(ProcessInstance),
            [{**cols, "id": base + i + 1, "business_key": f"GX-2026-9{i:05d}"} for i in range(n)],
        )
        tcols = {
            c.key: getattr(task, c.key)
            for c in HumanTask.__table__.columns
            if c.key not in ("id", "instance_id")
        }
        s.execute(insert(HumanTask), [{**tcols, "instance_id": base + i + 1} for i in range(n)])
        s.execute(
            insert(DeadlineRecord),
            [
                {
                    c.key: getattr(r, c.key)
                    for c in DeadlineRecord.__table__.columns
                    if c.key not in ("id", "instance_id")
                }
                | {"instance_id": base + i + 1}
                for i in range(n)
                for r in records
            ],
        )

    actors.run(go)


def test_a_thousand_open_deadlines_move_in_one_transaction_with_a_report(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    _clone(actors, key, 999)
    started = time.perf_counter()
    report = actors.run(lambda s: apply_notice(s, clock, notice_input(EID), _admin(s)))
    elapsed = time.perf_counter() - started
    assert report.total == 2000  # reply_due and its reminder in each of the 1,000 instances
    assert len(report.moves) == 50 and report.next_after is not None  # the report is paged

    def check(s):
        due = s.scalars(
            select(HumanTask.due_at).where(HumanTask.task_name == "provider_review")
        ).all()
        assert len(due) == 1000 and set(due) == {_at("2026-10-11T00:00:00+08:00")}
        assert s.scalar(select(func.count(DeadlineChange.id))) == 2000
        nexts = set(s.scalars(select(ProcessInstance.next_due_at)))
        assert nexts == {_at("2026-10-09T00:00:00+08:00")}

    actors.run(check)
    assert elapsed < 60, elapsed


def test_cli_import_previews_with_dry_run_and_applies(db_url, tmp_path, actors):
    path = tmp_path / "notice.json"
    path.write_text(json.dumps(EID, ensure_ascii=False), "utf-8")
    actors.request("civil.clerk", **HUKOU)
    dry = _cli(db_url, "calendar", "import", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2026-09-24" in dry.stdout and "2026-10-09 24:00 → 2026-10-10 24:00" in dry.stdout
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarNotice.id)))) == 0
    done = _cli(db_url, "calendar", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarNotice.id)))) == 1
    path.write_text(json.dumps(dict(EID, holidays=[{"day": "24.9.2026", "name": "x"}])), "utf-8")
    bad = _cli(db_url, "calendar", "import", str(path))
    assert bad.returncode == 2 and "holidays" in bad.stderr


# -- the page ------------------------------------------------------------------------------------
FORM = {
    "scope": "regional",
    "reference": "宁政办发〔2026〕88号",
    "holidays": "2026-09-24 开斋节",
    "workdays": "",
}


def test_the_administrator_previews_and_applies_a_notice_on_the_page(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    admin = Browser(app, "data.admin")
    page = admin.get("/admin/calendar/?lang=en").get_data(as_text=True)
    assert "2026" in page and "Enter a notice" in page
    assert "/admin/calendar/" in admin.get("/admin/").get_data(as_text=True)
    r = admin.post("/admin/calendar/notice/preview", FORM, page="/admin/calendar/notice")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "2 open deadlines move." in html
    assert key in html and "2026-10-09 24:00" in html and "2026-10-10 24:00" in html
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarNotice.id)))) == 0
    r = admin.post("/admin/calendar/notice/apply", FORM, page="/admin/calendar/notice")
    assert r.status_code == 302 and "/admin/calendar/notices/" in r.headers["Location"]
    report = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "2 deadlines moved" in report and key in report and "开斋节" in report
    r = admin.post("/admin/calendar/notice/apply", FORM, page="/admin/calendar/notice")
    assert r.status_code == 409 and "has been entered already" in r.get_data(as_text=True)
    # the provider's officials read the move on the task, the requester on the case page
    task_id = actors.open_task(key, "provider_review")
    clerk = Browser(app, "pubsec.clerk")
    task_page = clerk.get(f"/tasks/{task_id}?lang=en").get_data(as_text=True)
    assert "The deadline moved from 2026-10-09 24:00 to 2026-10-10 24:00" in task_page
    assert "宁政办发〔2026〕88号 (2026-09-24 开斋节)" in task_page
    case = Browser(app, "civil.clerk").get(f"/requests/{key}?lang=en").get_data(as_text=True)
    assert "Deadlines moved by calendar notices" in case and "宁政办发〔2026〕88号" in case


def test_bad_input_on_the_page_names_the_field_and_enters_nothing(app, actors):  # noqa: F811
    admin = Browser(app, "data.admin")
    admin.get("/admin/calendar/?lang=en")
    bad = dict(FORM, holidays="2026-09-24 开斋节\n2026-09-24 开斋节", workdays="24/09/2026 调休")
    r = admin.post("/admin/calendar/notice/preview", bad, page="/admin/calendar/notice")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Days off" in html and "Make-up working days" in html
    assert "is listed twice" in html
    r = admin.post("/admin/calendar/notice/apply", bad, page="/admin/calendar/notice")
    assert r.status_code == 422
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarNotice.id)))) == 0


@pytest.mark.parametrize("username", ["civil.clerk", "yinchuan-data.admin"])
def test_officials_and_level_administrators_are_refused(app, actors, username):  # noqa: F811
    user = Browser(app, username)
    assert user.get("/admin/calendar/").status_code == 403
    assert user.get("/admin/calendar/notice").status_code == 403
    r = user.post("/admin/calendar/notice/apply", FORM, page="/inbox/mine")
    assert r.status_code == 403
    assert actors.run(lambda s: s.scalar(select(func.count(CalendarNotice.id)))) == 0


def test_the_officials_offered_the_task_read_that_its_deadline_moved(actors, clock):
    from notifications.external import rendered_for
    from notifications.fanout import fan_out
    from notifications.models import Notification

    key = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, clock))
    actors.run(lambda s: apply_notice(s, clock, notice_input(EID), _admin(s)))
    actors.run(lambda s: fan_out(s, clock))

    def read(s):
        rows = s.scalars(select(Notification).where(Notification.kind == "deadline_moved")).all()
        users = sorted(r.user_id for r in rows)
        text = rendered_for(rows[0], "zh_CN", clock.now(), load_calendar(s), base=None)
        english = rendered_for(rows[0], "en", clock.now(), load_calendar(s), base=None)
        return users, text, english, {r.business_key for r in rows}

    users, text, english, keys = actors.run(read)
    assert users and keys == {key}
    assert text.subject.startswith("期限调整：审核共享申请")
    assert "由 2026-10-09 24:00 调整为 2026-10-10 24:00" in text.text
    assert "宁政办发〔2026〕88号：2026-09-24 开斋节" in text.text
    assert english.subject.startswith("Deadline moved: Review the sharing request")


def test_the_same_notice_applied_twice_at_once_is_applied_once(actors, clock):
    import threading

    actors.request("civil.clerk", **HUKOU)
    notice = notice_input(EID)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def apply_once():
        barrier.wait()
        try:
            actors.run(lambda s: apply_notice(s, clock, notice, _admin(s)))
            outcomes.append("applied")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=apply_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["applied", "conflict"]
    assert actors.run(lambda s: s.scalar(select(func.count(DeadlineChange.id)))) == 2


def test_the_deadline_of_a_step_that_has_ended_is_not_reported_or_moved(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete(
        "pubsec.clerk", key, "provider_review", review_decision="refuse", review_reason="不符合条件"
    )
    report = actors.run(lambda s: apply_notice(s, clock, notice_input(EID), _admin(s)))
    before = {m.before for m in report.moves}
    assert _at("2026-10-10T00:00:00+08:00") not in before  # the provider has answered
    assert _at("2026-10-01T00:00:00+08:00") not in before  # its reminder was cancelled

    def summary(s):
        return share_requests.instance_by_key(s, key).summary["reply_due"]

    assert actors.run(summary) == "2026-10-10T00:00:00+08:00"  # the record of what was due
