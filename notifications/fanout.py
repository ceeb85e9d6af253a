"""Fan-out: every outbox row becomes one notification per person concerned, exactly once.

The processes and services write outbox rows (department + template + payload) in the
transaction of the change. The worker job :func:`fan_out` takes pending rows oldest first
(``ix_outbox_pending``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never take the
same row), resolves the people (:mod:`notifications.recipients`), writes a :class:`Notification`
for each and hands e-mail and webhook copies to the delivery queue, then marks the row sent —
all in one transaction: a worker killed half-way leaves the row pending and nothing written. A
notification's ``dedupe_key`` (unique) names what made it, so no path writes one twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import WorkingCalendar, load_calendar
from engine.clock import Clock
from engine.db import is_postgres
from engine.directory.delegation import with_deputies
from engine.directory.models import Department, User
from engine.workflow.models import HumanTask, OutboxMessage, ProcessInstance
from notifications import external, recipients
from notifications.kinds import Kind, kind_of
from notifications.models import Notification
from notifications.render import parse_due

log = logging.getLogger("govshare.notifications")
BATCH = 200
# outbox rows the engine's services write about tasks (the rest come from the processes)
TASK_EVENTS = frozenset(
    {"task_offered", "task_assigned", "task_unclaimed", "task_claimed", "task_returned"}
)
SAME_COMMAND = timedelta(seconds=2)


def fan_out(session: Session, clock: Clock, limit: int = BATCH) -> int:
    """Worker job: turn up to ``limit`` pending outbox rows into notifications; returns how
    many rows were taken."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(session.scalars(stmt))
    if not rows:
        return 0
    calendar = load_calendar(session)
    for row in rows:
        notify_outbox(session, clock, calendar, row)
        row.sent_at = clock.now()
    session.flush()
    return len(rows)


def notify_outbox(
    session: Session, clock: Clock, calendar: WorkingCalendar, row: OutboxMessage
) -> list[Notification]:
    """The notifications of one outbox row (none when nobody is concerned)."""
    kind = kind_of(row.template)
    department = session.get_one(Department, row.department_id)
    instance = session.get(ProcessInstance, row.instance_id) if row.instance_id else None
    payload = dict(row.payload or {})
    task = _task_of(session, instance, payload)
    if row.template == "task_offered" and (task is None or _announced(session, row)):
        return []  # the step is gone already, or the process's own message announces it
    people = audience(session, kind, instance, department, task, payload)
    people = with_deputies(session, clock.now(), people)  # leave cover: the deputy hears too
    made = []
    for user in people:
        made += notify(
            session,
            clock,
            calendar,
            user,
            kind.name,
            f"o{row.id}:u{user.id}",
            instance=instance,
            task=task,
            payload=payload,
        )
    return made


def _task_of(session: Session, instance: ProcessInstance | None, payload: dict) -> HumanTask | None:
    """The task an event names (by id, or by the workflow's task id for a step just opened)."""
    if payload.get("task_id"):
        return session.get(HumanTask, int(payload["task_id"]))
    if instance is not None and payload.get("spiff_task_id"):
        return session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id,
                HumanTask.spiff_task_id == payload["spiff_task_id"],
                HumanTask.state == "open",
            )
        )
    return None


def _announced(session: Session, row: OutboxMessage) -> bool:
    """Did the command that opened the step also write a process message to the department?
    Then that message (linking to the step) is the one people read, not a second one. One
    command reads the clock more than once (a running clock moves between its writes), so its
    messages are those of the instance and department within SAME_COMMAND of each other."""
    return (
        session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.instance_id == row.instance_id,
                OutboxMessage.department_id == row.department_id,
                OutboxMessage.created_at.between(
                    row.created_at - SAME_COMMAND, row.created_at + SAME_COMMAND
                ),
                OutboxMessage.template.not_in(TASK_EVENTS),
            )
            .limit(1)
        )
        is not None
    )


def audience(
    session: Session,
    kind: Kind,
    instance: ProcessInstance | None,
    department: Department,
    task: HumanTask | None,
    payload: dict,
) -> list[User]:
    """The people a message of ``kind`` reaches (docs/notifications.md)."""
    found: list[User] = []
    actor = payload.get("actor_id")
    for who in kind.audience:
        if who == "workers":
            found += recipients.workers(session, instance, department)
        elif who == "parties":
            found += recipients.parties(session, instance, department)
        elif who == "queue" and task is not None:
            found += [u for u in recipients.offered_to(session, task) if u.id != actor]
        elif who == "holder_or_queue" and task is not None:
            found += recipients.holder_or_queue(session, task)
        elif who == "holder" and payload.get("user_id"):
            holder = session.get(User, int(payload["user_id"]))
            found += [holder] if holder is not None and holder.active else []
        elif who == "leaders":
            found += [u for u in recipients.leaders(session, department.id) if u.id != actor]
        elif who == "coordinators":
            found += recipients.coordinators(session, department.id)
    return recipients.unique(found)


def link_for(
    session: Session,
    user: User,
    instance: ProcessInstance | None,
    task: HumanTask | None,
    payload: dict,
) -> tuple[str, HumanTask | None]:
    """The page that acts on a message for ``user``, and the task it opens (if any): the task
    named, else the user's open step of the instance, else the instance's page."""
    if payload.get("breach_id"):
        return f"/breaches/{int(payload['breach_id'])}", None
    if task is not None and task.state == "open" and recipients.may_open(user, task):
        return f"/tasks/{task.id}", task
    if instance is not None:
        for step in recipients.open_tasks(session, instance.id, user.department_id):
            if recipients.may_open(user, step):
                return f"/tasks/{step.id}", step
        return f"/requests/{instance.business_key}", None
    return "/inbox/mine", None


def notify(
    session: Session,
    clock: Clock,
    calendar: WorkingCalendar,
    user: User,
    kind: str,
    dedupe_key: str,
    *,
    instance: ProcessInstance | None = None,
    task: HumanTask | None = None,
    payload: dict | None = None,
    link: str | None = None,
    due_at: datetime | None = None,
) -> list[Notification]:
    """Write one notification for ``user`` (unless ``dedupe_key`` was written before) and queue
    its e-mail and webhook copies as the user's preferences say; returns what was written."""
    if session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)):
        return []
    data = _enriched(dict(payload or {}), instance, task)
    if link is None:
        link, step = link_for(session, user, instance, task, data)
        if step is not None and step is not task:
            data = {**_task_fields(step), **data}
            task = task or step
    if due_at is None:
        due_at = parse_due(data.get("due")) or (task.due_at if task is not None else None)
    row = Notification(
        user_id=user.id,
        kind=kind,
        instance_id=instance.id if instance is not None else None,
        business_key=instance.business_key if instance is not None else data.get("business_key"),
        link=link,
        payload=_storable(data),
        due_at=due_at,
        created_at=clock.now(),
        dedupe_key=dedupe_key,
    )
    session.add(row)
    session.flush()
    external.send_external(session, clock, calendar, user, row)
    return [row]


def _task_fields(task: HumanTask) -> dict[str, Any]:
    return {"title": task.title, "title_en": task.title_en or task.title}


def _enriched(
    payload: dict, instance: ProcessInstance | None, task: HumanTask | None
) -> dict[str, Any]:
    """What the templates need beside the payload: the subject of the case, the decision on it,
    the task's title; names in both languages so that each reader gets theirs."""
    if instance is not None:
        summary = instance.summary or {}
        payload.setdefault("resource_name", summary.get("resource_name") or "")
        if summary.get("decision") and "decision" not in payload:
            payload["decision"] = summary["decision"]
        payload.setdefault("business_key", instance.business_key)
    if task is not None:
        payload = {**_task_fields(task), **payload}
    return payload


def _storable(payload: dict) -> dict:
    """Only what the templates read (plain JSON values), never the whole task data."""
    return {
        k: v
        for k, v in payload.items()
        if isinstance(v, str | int | float | bool | list | dict) or v is None
    }


def notify_all(
    session: Session,
    clock: Clock,
    calendar: WorkingCalendar,
    users: Iterable[User],
    kind: str,
    key: str,
    **kwargs: Any,
) -> list[Notification]:
    """:func:`notify` each user with the dedupe key ``f"{key}:u{user.id}"``, and whoever stands
    in for one of them now (leave cover)."""
    made: list[Notification] = []
    for user in with_deputies(session, clock.now(), list(users)):
        made += notify(session, clock, calendar, user, kind, f"{key}:u{user.id}", **kwargs)
    return made
