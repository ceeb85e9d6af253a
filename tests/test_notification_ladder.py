"""The reminder ladder 提醒 → 催办 → 督办 with the fake clock, grants about to expire, and the
daily digest on working days only (by the official calendar)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.directory import user_by_id, user_by_name
from engine.workflow import tasks as task_service
from notifications import inapp, preferences
from notifications.digest import daily_digest
from notifications.fanout import fan_out
from notifications.ladder import due_today, grants_expiring
from notifications.models import Notification
from tests.conftest import HUKOU

UNCONDITIONAL = dict(
    resource_code="JC-RK/0001",
    info_items=["姓名", "公民身份号码"],
    purpose="核验申请人身份",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2026-12-31",
)


def told(actors, kind):
    """{user name: [link, …]} of one kind."""

    def go(s):
        out: dict[str, list[str]] = {}
        for n in s.scalars(select(Notification).where(Notification.kind == kind)):
            out.setdefault(user_by_id(s, n.user_id).username, []).append(n.link)
        return out

    return actors.run(go)


def read(actors, username, kind, lang="en"):
    def go(s):
        user = user_by_name(s, username)
        return [
            (i.subject, i.text)
            for i in inapp.page(s, actors.clock, user, lang).items
            if i.kind == kind
        ]

    return actors.run(go)


def run(actors, job):
    return actors.run(lambda s: job(s, actors.clock))


def test_the_ladder_of_an_unanswered_request(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)  # due 2026-10-09 24:00
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    run(actors, fan_out)
    # 提醒: two working days before (reminder_before), to the holder only
    clock.set("2026-10-08T09:00:00+08:00")
    actors.sweep()
    run(actors, fan_out)
    assert told(actors, "reply_reminder") == {"pubsec.clerk": [f"/tasks/{task_id}"]}
    [(subject, text)] = read(actors, "pubsec.clerk", "reply_reminder", "zh")
    assert subject == f"提醒：答复共享申请（{key}）"
    assert "办理期限：2026-10-09 24:00，还剩 1 个工作日。" in text
    # 催办 on the day: the holder and the department's leader
    clock.set("2026-10-09T09:00:00+08:00")
    assert run(actors, due_today) == 2
    assert told(actors, "task_due_today") == {
        "pubsec.clerk": [f"/tasks/{task_id}"],
        "pubsec.lead": [f"/tasks/{task_id}"],
    }
    [(subject, text)] = read(actors, "pubsec.lead", "task_due_today")
    assert subject == f"Urgent: Review the sharing request ({key})"
    assert "Deadline: 2026-10-09 24:00, today." in text and "please finish it today" in text
    assert run(actors, due_today) == 0  # once a day
    # after the deadline: overdue to holder and leader; 督办 to the authority's coordinators
    clock.set("2026-10-10T09:00:00+08:00")
    actors.sweep()
    run(actors, fan_out)
    assert run(actors, due_today) == 0  # nothing is due on the make-up Saturday
    assert set(told(actors, "reply_overdue")) == {"pubsec.clerk", "pubsec.lead"}
    [link] = told(actors, "supervision_opened")["data.coord"]
    assert link.startswith("/tasks/")
    [(subject, text)] = read(actors, "data.coord", "supervision_opened", "zh")
    assert subject == f"督办：督办逾期未办事项（{key}）"
    assert "有事项逾期未办，由数据共享主管部门督办。" in text


def test_the_day_it_falls_is_told_once_per_step_before_the_hour_nothing(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-09T07:30:00+08:00")
    assert run(actors, due_today) == 0  # before 08:00
    clock.set("2026-10-09T08:05:00+08:00")
    assert run(actors, due_today) == 2  # unclaimed: everyone it is offered to (+ the leader)
    clock.set("2026-10-09T15:00:00+08:00")
    assert run(actors, due_today) == 0
    assert set(told(actors, "task_due_today")) == {"pubsec.clerk", "pubsec.lead"}
    assert key


def test_a_grant_about_to_expire_is_told_once_to_the_requester(actors, clock):
    key = actors.request("civil.clerk", **UNCONDITIONAL)  # ends 2026-12-31
    clock.set("2026-12-10T09:00:00+08:00")
    assert run(actors, grants_expiring) == 0  # more than 10 working days before
    clock.set("2026-12-17T09:00:00+08:00")
    assert run(actors, grants_expiring) == 1
    assert told(actors, "grant_expiring") == {"civil.clerk": [f"/requests/{key}"]}
    [(subject, text)] = read(actors, "civil.clerk", "grant_expiring")
    assert subject == f"A data-sharing grant is about to expire ({key})"
    assert "The grant ends on 2026-12-31" in text
    for day in ("2026-12-18", "2026-12-21", "2026-12-30"):
        clock.set(f"{day}T09:00:00+08:00")
        assert run(actors, grants_expiring) == 0


@pytest.mark.parametrize("day", [f"2026-10-0{d}" for d in range(1, 8)])
def test_no_digest_on_the_national_day_holidays(actors, clock, day):
    actors.request("civil.clerk", **HUKOU)
    clock.set(f"{day}T09:00:00+08:00")
    assert run(actors, daily_digest) == 0
    assert told(actors, "daily_digest") == {}


def test_the_digest_goes_out_on_the_make_up_sunday_and_working_days(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)  # Friday 2026-09-18: new in the queue
    clock.set("2026-09-19T09:00:00+08:00")  # Saturday: no digest
    assert run(actors, daily_digest) == 0
    clock.set("2026-09-20T09:00:00+08:00")  # Sunday, a make-up working day (调休)
    assert run(actors, daily_digest) == 2
    assert told(actors, "daily_digest") == {
        "pubsec.clerk": ["/inbox/mine"],
        "pubsec.lead": ["/inbox/mine"],
    }
    [(subject, text)] = read(actors, "pubsec.clerk", "daily_digest", "zh")
    assert subject == "每日待办摘要：1 项需关注"
    assert f"审核共享申请（{key}）" in text
    assert run(actors, daily_digest) == 0  # once a day
    clock.set("2026-10-08T09:00:00+08:00")  # the first working day after the holidays
    assert run(actors, daily_digest) == 2
    [(subject, text), _] = read(actors, "pubsec.clerk", "daily_digest")
    assert subject == "Daily digest: 1 task(s) to watch"
    assert f"Review the sharing request ({key}), due 2026-10-09" in text
    assert "Due within 3 working day(s): 1" in text


def test_no_digest_for_an_official_who_switched_it_off(actors, clock):
    actors.request("civil.clerk", **HUKOU)
    actors.run(
        lambda s: preferences.save_preferences(
            s, clock, user_by_name(s, "pubsec.clerk"), {"digest": "off"}
        )
    )
    clock.set("2026-09-20T09:00:00+08:00")
    assert run(actors, daily_digest) == 1
    assert set(told(actors, "daily_digest")) == {"pubsec.lead"}
