"""Issue 13: officials hear about their work. Outbox rows become one notification per person
concerned, exactly once; the bell counts the unread ones; opening one marks it read and goes to
the page that acts on it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.calendar import load_calendar
from engine.directory import user_by_name
from engine.workflow import tasks as task_service
from engine.workflow.models import OutboxMessage
from notifications import inapp
from notifications.external import rendered_for
from notifications.fanout import fan_out
from notifications.models import Notification
from tests.conftest import HUKOU


def fan(actors):
    return actors.run(lambda s: fan_out(s, actors.clock))


def received(actors, username, kind=None):
    """(kind, link) of what a user was told, oldest first."""

    def go(s):
        user = user_by_name(s, username)
        stmt = select(Notification).where(Notification.user_id == user.id)
        if kind:
            stmt = stmt.where(Notification.kind == kind)
        return [(n.kind, n.link) for n in s.scalars(stmt.order_by(Notification.id))]

    return actors.run(go)


def text_of(actors, username, lang="en"):
    """What a user reads in the list, newest first: (subject, text)."""
    return actors.run(
        lambda s: [
            (i.subject, i.text)
            for i in inapp.page(s, actors.clock, user_by_name(s, username), lang).items
        ]
    )


def test_a_new_request_tells_the_providers_officials_with_a_link_to_the_task(actors):
    key = actors.request("civil.clerk", **HUKOU)
    assert fan(actors) == 1
    task_id = actors.open_task(key, "provider_review")
    for official in ("pubsec.clerk", "pubsec.lead"):
        assert received(actors, official) == [("task_offered", f"/tasks/{task_id}")]
    assert received(actors, "civil.clerk") == []  # the requester did not get work
    [(subject, text)] = text_of(actors, "pubsec.clerk")
    assert subject == f"New task: Review the sharing request ({key})"
    assert "Deadline: 2026-10-09 24:00, 10 working day(s) left." in text
    assert "Open:" not in text  # the subject is the link in the list
    email = actors.run(
        lambda s: rendered_for(
            s.scalar(select(Notification)), "en", actors.clock.now(), load_calendar(s)
        )
    )
    assert email.subject == subject and f"Open: /tasks/{task_id}" in email.text


def test_each_outbox_row_is_told_once_however_often_the_worker_runs(actors):
    actors.request("civil.clerk", **HUKOU)
    assert fan(actors) == 1
    assert fan(actors) == 0
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(Notification))) == 2
    assert (
        actors.run(lambda s: s.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None))))
        == 0
    )


def test_a_claimed_task_reminds_only_its_holder_and_overdue_adds_the_leader(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    fan(actors)
    assert received(actors, "pubsec.lead", "task_claimed") == [
        ("task_claimed", f"/tasks/{task_id}")
    ]
    clock.set("2026-10-08T10:00:00+08:00")  # two working days before 10-09: the reminder
    actors.sweep()
    fan(actors)
    assert received(actors, "pubsec.clerk", "reply_reminder") == [
        ("reply_reminder", f"/tasks/{task_id}")
    ]
    assert received(actors, "pubsec.lead", "reply_reminder") == []  # the holder works it
    clock.set("2026-10-10T10:00:00+08:00")  # the day after the deadline: 催办 + 督办
    actors.sweep()
    fan(actors)
    assert [k for k, _ in received(actors, "pubsec.clerk")][-1] == "reply_overdue"
    assert ("reply_overdue", f"/tasks/{task_id}") in received(actors, "pubsec.lead")
    # the same-level authority's coordinators are told of the supervision
    [(kind, link)] = received(actors, "data.coord", "supervision_opened")
    assert link.startswith("/tasks/")


def test_the_bell_counts_unread_and_opening_marks_read(actors, clock):
    actors.request("civil.clerk", **HUKOU)
    fan(actors)
    clerk = lambda s: user_by_name(s, "pubsec.clerk")  # noqa: E731
    assert actors.run(lambda s: inapp.unread_count(s, clerk(s).id)) == 1
    [item] = actors.run(lambda s: inapp.page(s, clock, clerk(s), "zh").items)
    link = actors.run(lambda s: inapp.open_notification(s, clock, clerk(s), item.id))
    assert link == item.link and link.startswith("/tasks/")
    assert actors.run(lambda s: inapp.unread_count(s, clerk(s).id)) == 0
    # someone else's notification does not exist for you
    from engine.errors import NotFound

    with pytest.raises(NotFound):
        actors.run(
            lambda s: inapp.open_notification(s, clock, user_by_name(s, "civil.clerk"), item.id)
        )


def test_mark_all_read_and_paging_newest_first(actors, clock):
    for _ in range(3):
        actors.request("civil.clerk", **HUKOU)
    fan(actors)

    def pages(s):
        user = user_by_name(s, "pubsec.clerk")
        first = inapp.page(s, clock, user, "en", size=2)
        second = inapp.page(s, clock, user, "en", before=first.next_before, size=2)
        return [i.id for i in first.items], [i.id for i in second.items], second.next_before

    first, second, after = actors.run(pages)
    assert len(first) == 2 and len(second) == 1 and after is None
    assert first[0] > first[1] > second[0]
    assert actors.run(lambda s: inapp.mark_all_read(s, clock, user_by_name(s, "pubsec.clerk"))) == 3
    assert actors.run(lambda s: inapp.unread_count(s, user_by_name(s, "pubsec.clerk").id)) == 0


def test_two_workers_fan_out_each_outbox_row_exactly_once(actors, session_factory, clock):
    for _ in range(12):
        actors.request("civil.clerk", **HUKOU)
    errors: list[BaseException] = []
    taken: list[int] = []

    def worker():
        try:
            while True:
                with session_factory() as s, s.begin():
                    n = fan_out(s, clock, limit=2)
                if not n:
                    return
                taken.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sum(taken) == 12  # every row taken by exactly one worker
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(Notification))) == 24


def test_a_step_announced_by_its_process_message_is_told_once_though_the_clock_moved(actors):
    """One command reads a running clock more than once: the process's own message (here a few
    milliseconds after the step opened) still stands for the step, so nobody is told twice."""
    from datetime import timedelta

    key = actors.request("civil.clerk", **HUKOU)

    def process_message(s):
        offered = s.scalar(select(OutboxMessage).where(OutboxMessage.template == "task_offered"))
        s.add(
            OutboxMessage(
                instance_id=offered.instance_id,
                department_id=offered.department_id,
                template="reply_reminder",
                payload={"business_key": key},
                created_at=offered.created_at + timedelta(milliseconds=3),
            )
        )

    actors.run(process_message)
    fan(actors)
    assert [kind for kind, _ in received(actors, "pubsec.clerk")] == ["reply_reminder"]
