"""The daily digest: on working days only, by the official calendar (never on a holiday, and on a
make-up working day such as the Sunday before National Day), one message per official with the
digest on: their steps and their queue's that are overdue, due within ``GOVSHARE_DIGEST_DAYS``
working days (default 3), and new in the queue since the last working day. An official with
nothing to report gets nothing.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from engine.calendar import WorkingCalendar, load_calendar
from engine.clock import SHANGHAI, Clock
from engine.directory.models import User
from engine.workflow.inbox import due_date_of, eligible_queue
from engine.workflow.models import HumanTask, ProcessInstance
from notifications.daily import claim_day, notify_hour, start_of
from notifications.fanout import notify
from notifications.preferences import settings_of

ITEMS = 20  # per section: a digest is a summary, the inbox has the rest


def digest_days() -> int:
    return int(os.environ.get("GOVSHARE_DIGEST_DAYS", "3"))


def previous_working_day(calendar: WorkingCalendar, day: date) -> date:
    day -= timedelta(days=1)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def daily_digest(session: Session, clock: Clock) -> int:
    """Worker job (daily, working days only): the digest of every official who wants one."""
    calendar = load_calendar(session)
    now = clock.now()
    if not calendar.is_working_day(now.astimezone(SHANGHAI).date()):
        return 0  # before claiming the day: a holiday is never a digest day
    mark = claim_day(session, clock, "daily_digest")
    if mark is None:
        return 0
    today = mark.day
    assert today is not None
    since = datetime.combine(previous_working_day(calendar, today), time(notify_hour()), SHANGHAI)
    soon = calendar.deadline(start_of(today), digest_days()).due_at
    made = 0
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    for user in users:
        if not settings_of(session, user).digest:
            continue
        sections = _sections(session, user, now, soon, since)
        if not any(sections[k] for k in ("overdue_tasks", "due_soon", "new_tasks")):
            continue
        made += len(
            notify(
                session,
                clock,
                calendar,
                user,
                "daily_digest",
                f"digest:{today.isoformat()}:u{user.id}",
                payload={**sections, "soon_days": digest_days()},
                link="/inbox/mine",
            )
        )
    return made


def _sections(
    session: Session, user: User, now: datetime, soon: datetime, since: datetime
) -> dict[str, list[dict]]:
    mine_or_queue = or_(HumanTask.assignee_id == user.id, eligible_queue(user))
    base = (
        select(HumanTask, ProcessInstance.business_key)
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .where(HumanTask.state == "open", mine_or_queue)
    )
    overdue = base.where(HumanTask.due_sort <= now).order_by(HumanTask.due_sort)
    due_soon = base.where(HumanTask.due_sort > now, HumanTask.due_sort <= soon).order_by(
        HumanTask.due_sort
    )
    new = base.where(eligible_queue(user), HumanTask.created_at >= since).order_by(HumanTask.id)
    return {
        "overdue_tasks": _items(session, overdue),
        "due_soon": _items(session, due_soon),
        "new_tasks": _items(session, new),
    }


def _items(session: Session, stmt: Select[HumanTask, str]) -> list[dict]:
    out = []
    for task, key in session.execute(stmt.limit(ITEMS)):
        out.append(
            {
                "task": task.title,
                "task_en": task.title_en or task.title,
                "key": key,
                "due_date": due_date_of(task.due_at).isoformat() if task.due_at else "",
            }
        )
    return out
