"""Task service: the user tasks of every instance, as officials see and act on them.

A task is offered to the officials of the department bound to its lane, narrowed by a job role
where the task names one; one of them may claim it. Completing an unclaimed task claims it
implicitly. Every action locks the instance first and re-reads the task, so of two concurrent
actions exactly one wins and the other gets a :class:`Conflict` naming who acted first.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .clock import SHANGHAI, Clock
from .errors import Conflict, Forbidden, NotFound
from .forms import validate_form
from .i18n import Message
from .models import HumanTask, User
from .runtime import complete_user_task, lock_instance


def eligible(user: User, task: HumanTask) -> bool:
    return task.department_id == user.department_id and (not task.job_role or task.job_role in (user.job_roles or []))


def list_tasks(session: Session, user: User, scope: str = "inbox", limit: int = 100) -> list[HumanTask]:
    """``mine``: claimed by the user; ``queue``: unclaimed in the user's department; ``inbox``: both."""
    stmt = select(HumanTask).where(HumanTask.state == "open")
    mine = HumanTask.assignee_id == user.id
    queue = (HumanTask.department_id == user.department_id) & HumanTask.assignee_id.is_(None)
    if scope == "mine":
        stmt = stmt.where(mine)
    elif scope == "queue":
        stmt = stmt.where(queue)
    else:
        stmt = stmt.where(or_(mine, queue))
    rows = session.scalars(stmt.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id).limit(limit)).all()
    return [t for t in rows if t.assignee_id == user.id or eligible(user, t)]


def _locked_task(session: Session, task_id: int) -> HumanTask:
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(Message("No task %(id)s.", id=task_id))
    lock_instance(session, row.instance_id)
    return session.scalar(select(HumanTask).where(HumanTask.id == task_id).execution_options(populate_existing=True))


def _when(row_time) -> str:
    return row_time.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if row_time else "-"


def _check_open(row: HumanTask, user: User) -> None:
    if row.state == "completed":
        who = row.completed_by.display_name if row.completed_by else "?"
        raise Conflict(Message("Task %(task)s was already completed by %(who)s at %(when)s.", task=row.title, who=who, when=_when(row.completed_at)))
    if row.state != "open":
        raise Conflict(Message("Task %(task)s is no longer open (%(state)s).", task=row.title, state=row.state))
    if not eligible(user, row):
        raise Forbidden(Message("Task %(task)s is not offered to %(user)s.", task=row.title, user=user.display_name))
    if row.assignee_id not in (None, user.id):
        raise Conflict(Message("Task %(task)s is claimed by %(who)s.", task=row.title, who=row.assignee.display_name))


def claim(session: Session, clock: Clock, task_id: int, user: User) -> HumanTask:
    row = _locked_task(session, task_id)
    _check_open(row, user)
    row.assignee_id = user.id
    row.instance.updated_at = clock.now()
    session.flush()
    return row


def unclaim(session: Session, clock: Clock, task_id: int, user: User) -> HumanTask:
    row = _locked_task(session, task_id)
    _check_open(row, user)
    row.assignee_id = None
    session.flush()
    return row


def complete(session: Session, clock: Clock, task_id: int, user: User, data: dict) -> HumanTask:
    """Validate ``data`` against the task's form and complete it; nothing is written on error."""
    row = _locked_task(session, task_id)
    _check_open(row, user)
    schema = row.instance.definition.forms.get(row.form) if row.form else {"type": "object"}
    row.assignee_id = user.id
    complete_user_task(session, clock, row, user.id, data, validate=lambda task_data: validate_form(row.form or row.task_name, schema, data, context=task_data))
    return row


def task_by_id(session: Session, task_id: int) -> HumanTask:
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(Message("No task %(id)s.", id=task_id))
    return row
