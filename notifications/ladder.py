"""The reminder ladder 提醒 → 催办 → 督办, and grants about to expire.

* 提醒 before a deadline: the processes' reminder timers (``reminder_before`` working days,
  the rule set the case started under, engine/rules) write ``*_reminder`` outbox rows; the fan-out
  tells whoever works the step.
* 催办 on the day it falls: :func:`due_today`, once a day, takes the open steps due today through
  ``ix_task_due`` (state, due_sort) and tells each step's holder (or, unclaimed, the officials
  it is offered to) and the department's leaders, once per step and person. After the deadline
  the processes' ``*_overdue`` messages are on the same rung.
* 督办 when the supervision task opens: the processes' ``supervision_opened`` reaches the
  same-level authority's coordinators (and whoever works the supervision step).

:func:`grants_expiring` tells the requesting department, once per grant, that a grant ends
within ``GOVSHARE_GRANT_NOTICE_DAYS`` working days (default 10), scanning ``data_grant`` by its
end date (``ix_data_grant_period_end``) over the days not covered before.
"""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import load_calendar
from engine.clock import Clock
from engine.directory.models import Department
from engine.sharing.models import Grant
from engine.workflow.models import HumanTask, ProcessInstance
from notifications import recipients
from notifications.daily import claim_day, start_of
from notifications.fanout import notify_all


def grant_notice_days() -> int:
    return int(os.environ.get("GOVSHARE_GRANT_NOTICE_DAYS", "10"))


def due_today(session: Session, clock: Clock) -> int:
    """Worker job (daily): 催办 for every open step whose deadline is the end of today."""
    mark = claim_day(session, clock, "due_today")
    if mark is None:
        return 0
    today = mark.day
    assert today is not None
    tasks = session.scalars(
        select(HumanTask)
        .where(
            HumanTask.state == "open",
            HumanTask.due_sort > start_of(today),
            HumanTask.due_sort <= start_of(today + timedelta(days=1)),
        )
        .order_by(HumanTask.due_sort, HumanTask.id)
    ).all()
    calendar = load_calendar(session)
    made = 0
    for task in tasks:
        people = recipients.unique(
            recipients.holder_or_queue(session, task)
            + recipients.leaders(session, task.department_id)
        )
        instance = session.get_one(ProcessInstance, task.instance_id)
        if instance.status == "suspended":  # an administrator stopped the case: no 催办
            continue
        made += len(
            notify_all(
                session,
                clock,
                calendar,
                people,
                "task_due_today",
                f"due:{task.id}",
                instance=instance,
                task=task,
            )
        )
    return made


def grants_expiring(session: Session, clock: Clock) -> int:
    """Worker job (daily): tell the requester of each grant ending within the notice period."""
    mark = claim_day(session, clock, "grants_expiring")
    if mark is None:
        return 0
    today = mark.day
    assert today is not None
    calendar = load_calendar(session)
    horizon = calendar.deadline(start_of(today), grant_notice_days()).due_date
    since = mark.through or today - timedelta(days=1)
    grants = session.scalars(
        select(Grant)
        .where(Grant.period_end > since, Grant.period_end <= horizon)
        .order_by(Grant.period_end, Grant.id)
    ).all()
    mark.through = max(horizon, since)
    made = 0
    for grant in grants:
        instance = session.get_one(ProcessInstance, grant.instance_id)
        department = session.get_one(Department, grant.requester_id)
        made += len(
            notify_all(
                session,
                clock,
                calendar,
                recipients.parties(session, instance, department),
                "grant_expiring",
                f"grant:{grant.id}",
                instance=instance,
                payload={"period_end": grant.period_end.isoformat() if grant.period_end else ""},
                link=f"/requests/{instance.business_key}",
            )
        )
    return made
