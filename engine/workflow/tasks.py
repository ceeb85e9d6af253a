"""Task service: the user tasks of every instance, as officials see and act on them.

A task is offered to the officials of the department bound to its lane, narrowed by a job role
where the task names one; one of them may claim it. Completing an unclaimed task claims it
implicitly. Every action locks the instance first and re-reads the task, so of two concurrent
actions exactly one wins and the other gets a :class:`Conflict` naming who acted first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import audit, rules
from engine.calendar import load_calendar
from engine.clock import SHANGHAI, Clock
from engine.directory import officials, user_by_id
from engine.directory.delegation import covered_users
from engine.directory.models import User
from engine.errors import Conflict, Forbidden, GovshareError, NotFound
from engine.i18n import Label, Message
from engine.workflow.forms import validate_form
from engine.workflow.handlers import CheckContext, SignContext, handlers_of
from engine.workflow.history import (
    FileInfo,
    InstanceInfo,
    TaskInfo,
    attachments_of,
    instance_info,
    task_context,
    task_info,
    tasks_of,
)
from engine.workflow.inbox import (
    Colleague,
    Deadline,
    describe_deadline,
    with_rule,
)
from engine.workflow.models import HumanTask, OutboxMessage
from engine.workflow.runtime import complete_user_task, lock_instance_of_task


def eligible(user: User, task: HumanTask) -> bool:
    return task.department_id == user.department_id and (
        not task.job_role or task.job_role in (user.job_roles or [])
    )


def principal_of(session: Session, clock: Clock | None, user: User, row: HumanTask) -> User | None:
    """The official ``user`` stands in for on this task (leave cover): its holder, or one it is
    offered to when it is not offered to ``user`` themselves; None when the user acts as
    themselves (or stands in for nobody)."""
    if clock is None or row.assignee_id == user.id:
        return None
    if row.assignee_id is None and eligible(user, row):
        return None
    for absent in covered_users(session, clock.now(), user):
        if row.assignee_id == absent.id or (row.assignee_id is None and eligible(absent, row)):
            return absent
    return None


@dataclass(frozen=True)
class TaskRef:
    """A task as a command or a department system receives it: plain values, read after the
    command (so ``state``, ``assignee`` and ``request_status`` say what the command left)."""

    id: int
    business_key: str
    task_name: str
    title: str
    role: str
    form: str | None
    statute: str
    state: str
    due_at: datetime | None
    assignee: str | None  # user name of whoever holds (or completed) the task
    assignee_name: Label | None  # their display name
    request_status: str  # the status of the task's instance
    form_schema: dict | None


def task_ref(row: HumanTask) -> TaskRef:
    holder = row.completed_by if row.state == "completed" else row.assignee
    return TaskRef(
        id=row.id,
        business_key=row.instance.business_key,
        task_name=row.task_name,
        title=row.title,
        role=row.role,
        form=row.form,
        statute=row.statute,
        state=row.state,
        due_at=row.due_at,
        assignee=holder.username if holder else None,
        assignee_name=holder.label if holder else None,
        request_status=row.instance.status,
        form_schema=form_schema(row),
    )


def _locked_task(session: Session, task_id: int) -> HumanTask:
    """The task, re-read after its instance was locked (so a concurrent action is seen)."""
    return _lock_task(session, task_id)[0]


def _lock_task(session: Session, task_id: int) -> tuple[HumanTask, list[HumanTask]]:
    """The task and its instance's open tasks, read after the instance was locked: one
    statement locks the instance (with its state and definition), one reads the tasks."""
    instance = lock_instance_of_task(session, task_id)
    if instance is None:
        raise NotFound(Message("No task %(id)s.", id=task_id))
    rows = session.scalars(
        select(HumanTask)
        .where(
            or_(
                HumanTask.id == task_id,
                and_(HumanTask.instance_id == instance.id, HumanTask.state == "open"),
            )
        )
        .execution_options(populate_existing=True)
    ).all()
    for r in rows:
        set_committed_value(r, "instance", instance)  # the locked one, without loading it again
    row = next(r for r in rows if r.id == task_id)
    return row, [r for r in rows if r.state == "open"]


def _when(row_time: datetime | None) -> str:
    return row_time.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if row_time else "-"


def _check_open(row: HumanTask, user: User, principal: User | None = None) -> None:
    if row.state == "completed":
        who = row.completed_by.label if row.completed_by else "?"
        raise Conflict(
            Message(
                "Task %(task)s was already completed by %(who)s at %(when)s.",
                task=Label(row.title, row.title_en),
                who=who,
                when=_when(row.completed_at),
            )
        )
    if row.state != "open":
        raise Conflict(
            Message(
                "Task %(task)s is no longer open (%(state)s).",
                task=Label(row.title, row.title_en),
                state=row.state,
            )
        )
    if not eligible(user, row) and not (principal is not None and eligible(principal, row)):
        raise Forbidden(
            Message(
                "Task %(task)s is not offered to %(user)s.",
                task=Label(row.title, row.title_en),
                user=user.label,
            )
        )
    if row.assignee_id not in (None, user.id, principal.id if principal else None):
        raise Conflict(
            Message(
                "Task %(task)s is claimed by %(who)s.",
                task=Label(row.title, row.title_en),
                who=row.assignee.label if row.assignee else "?",
            )
        )


def claim(session: Session, clock: Clock, task_id: int, user: User) -> TaskRef:
    row = _locked_task(session, task_id)
    principal = principal_of(session, clock, user, row)
    _check_open(row, user, principal)
    row.assignee_id = user.id
    row.instance.updated_at = clock.now()
    behalf = {"on_behalf_of": principal.username} if principal else {}
    _audit(session, clock, row, "task_claimed", user, after=user.username, **behalf)
    _tell(session, clock, row, "task_claimed", user)
    session.flush()
    return task_ref(row)


def unclaim(session: Session, clock: Clock, task_id: int, user: User) -> TaskRef:
    """Give a claimed task back to the department queue (its holder or a leader may)."""
    row = _locked_task(session, task_id)
    if row.state != "open" or (row.assignee_id != user.id and not is_leader_of(user, row)):
        _check_open(row, user)  # raises: finished, not offered to the user, or held by someone else
    before = row.assignee.username if row.assignee else None
    row.assignee_id = None
    _audit(session, clock, row, "task_unclaimed", user, before=before)
    _tell(session, clock, row, "task_unclaimed", user)
    session.flush()
    return task_ref(row)


def _audit(
    session: Session, clock: Clock, row: HumanTask, kind: str, actor: User, **change: Any
) -> None:
    audit.record(
        session,
        clock.now(),
        kind,
        actor_id=actor.id,
        instance_id=row.instance_id,
        object_type="task",
        object_ref=str(row.id),
        task=row.task_name,
        title=row.title,
        title_en=row.title_en,
        **change,
    )


def _tell(
    session: Session, clock: Clock, row: HumanTask, event: str, actor: User, **payload: Any
) -> None:
    """An outbox row about the task (claimed, handed to someone, back in the queue), written with
    the change; the notifications worker tells the people concerned (docs/notifications.md)."""
    session.add(
        OutboxMessage(
            instance_id=row.instance_id,
            department_id=row.department_id,
            template=event,
            payload={
                "business_key": row.instance.business_key,
                "task_id": row.id,
                "actor_id": actor.id,
                "who": actor.display_name,
                **payload,
            },
            created_at=clock.now(),
        )
    )


def is_leader_of(user: User, row: HumanTask) -> bool:
    return "leader" in (user.job_roles or []) and row.department_id == user.department_id


def reassign(session: Session, clock: Clock, task_id: int, leader: User, assignee: User) -> TaskRef:
    """A department leader hands an open task to another eligible official of the department."""
    row = _locked_task(session, task_id)
    if not is_leader_of(leader, row):
        raise Forbidden(
            Message("Only a leader of %(dept)s may reassign its tasks.", dept=row.department.label)
        )
    if row.state != "open":
        _check_open(row, leader)
    if not eligible(assignee, row) or not assignee.active:
        raise Forbidden(
            Message(
                "Task %(task)s is not offered to %(user)s.",
                task=Label(row.title, row.title_en),
                user=assignee.label,
            )
        )
    before = row.assignee.username if row.assignee else None
    row.assignee_id = assignee.id
    _audit(session, clock, row, "task_reassigned", leader, before=before, after=assignee.username)
    if assignee.id != leader.id:
        _tell(session, clock, row, "task_assigned", leader, user_id=assignee.id)
    session.flush()
    return task_ref(row)


def claim_many(
    session: Session, clock: Clock, task_ids: list[int], user: User
) -> tuple[list[TaskRef], list[tuple[int, GovshareError]]]:
    """Claim several tasks; each is its own check, so one taken task does not block the rest.

    Runs inside the caller's transaction, each claim under a savepoint.
    """
    done: list[TaskRef] = []
    failed: list[tuple[int, GovshareError]] = []
    for task_id in task_ids:
        try:
            with session.begin_nested():
                done.append(claim(session, clock, task_id, user))
        except GovshareError as err:
            failed.append((task_id, err))
    return done, failed


def complete(session: Session, clock: Clock, task_id: int, user: User, data: dict) -> TaskRef:
    """Validate ``data`` against the task's form and complete it; nothing is written on error."""
    row, open_rows = _lock_task(session, task_id)
    principal = principal_of(session, clock, user, row)
    _check_open(row, user, principal)
    # deployment checks that every form a task names is deployed with it
    schema = row.instance.definition.forms[row.form] if row.form else {"type": "object"}
    check_name = row.instance.definition.task_meta.get(row.task_name, {}).get("completion_check")

    def validate(task_data: dict) -> None:
        validate_form(row.form or row.task_name, schema, data, context=task_data)
        if check_name:
            handlers_of(session).completion_check(check_name)(
                CheckContext(session, clock, row, {**task_data, **data})
            )

    signs = row.instance.definition.task_meta.get(row.task_name, {}).get("signs")

    def sign() -> None:  # a decision that binds is signed in its command (docs/trust.md)
        handlers_of(session).signer(signs)(SignContext(session, clock, row, user.id, data))

    complete_user_task(
        session,
        clock,
        row,
        user.id,
        data,
        validate=validate,
        on_behalf_of=principal,
        open_rows=open_rows,
        on_complete=sign if signs else None,
    )
    return task_ref(row)


def check_visible(session: Session, user: User, task_id: int, clock: Clock | None = None) -> None:
    """NotFound for a task that does not exist, Forbidden for one the user may not see (with
    ``clock``: a deputy sees the tasks of the official they stand in for)."""
    task_for(session, user, task_id, clock)


def task_by_id(session: Session, task_id: int) -> HumanTask:
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(Message("No task %(id)s.", id=task_id))
    return row


def reassign_to(
    session: Session, clock: Clock, task_id: int, leader: User, assignee_id: int | None
) -> TaskRef:
    """:func:`reassign` to the official with ``assignee_id`` (as a form names them)."""
    assignee = user_by_id(session, assignee_id or 0)
    if assignee is None:
        raise GovshareError(Message("Choose the official to assign the task to."))
    return reassign(session, clock, task_id, leader, assignee)


# -- the task page ------------------------------------------------------------------------------
def may_view(user: User, row: HumanTask) -> bool:
    """A task is seen by the officials it is offered to and by whoever holds or completed it."""
    return eligible(user, row) or user.id in (row.assignee_id, row.completed_by_id)


def task_for(session: Session, user: User, task_id: int, clock: Clock | None = None) -> HumanTask:
    """A task the user may see (NotFound, else Forbidden); with ``clock``, also one the user
    may act on standing in for an absent official."""
    row = task_by_id(session, task_id)
    if not may_view(user, row) and (
        row.state != "open" or principal_of(session, clock, user, row) is None
    ):
        raise Forbidden(
            Message(
                "Task %(task)s is not offered to %(user)s.",
                task=Label(row.title, row.title_en),
                user=user.label,
            )
        )
    return row


def form_schema(row: HumanTask) -> dict | None:
    """The JSON Schema of the task's form, or None for a task without one."""
    return row.instance.definition.forms.get(row.form) if row.form else None


@dataclass(frozen=True)
class TaskForm:
    """A task the user may see, with the schema its submission is parsed by."""

    task: TaskInfo
    business_key: str
    schema: dict | None


def task_form(session: Session, user: User, task_id: int, clock: Clock | None = None) -> TaskForm:
    row = task_for(session, user, task_id, clock)
    return TaskForm(task_info(row), row.instance.business_key, form_schema(row))


@dataclass(frozen=True)
class TaskPage:
    """Everything an official needs to decide a task, for its page."""

    task: TaskInfo
    instance: InstanceInfo
    context: dict  # the task data (open) or the submitted form (done)
    schema: dict | None
    meta: dict  # the task's metadata from the deployed process (statute, hints …)
    earlier: list[TaskInfo]  # the instance's completed tasks, other than this one
    files: list[FileInfo]
    colleagues: list[Colleague]  # whom a leader may hand the open task to
    deadline: Deadline | None
    stands_in_for: Label | None = None  # the absent official the viewer acts for (leave cover)


def task_page(session: Session, clock: Clock, user: User, task_id: int) -> TaskPage:
    row = task_for(session, user, task_id, clock)
    instance = row.instance
    colleagues = []
    if is_leader_of(user, row) and row.state == "open":
        colleagues = [
            Colleague(u.id, u.label, u.username)
            for u in officials(session, row.department_id)
            if eligible(u, row)
        ]
    deadline = (
        with_rule(
            describe_deadline(load_calendar(session), row.due_at, clock.now()),
            rules.rule_line(session, instance.rule_set_version, row.task_name, instance.summary),
        )
        if row.due_at and row.state == "open"
        else None
    )
    earlier = [t for t in tasks_of(session, instance.id, "completed") if t.id != row.id]
    return TaskPage(
        task=task_info(row),
        instance=instance_info(instance),
        context=task_context(row),
        schema=form_schema(row),
        meta=dict(instance.definition.task_meta.get(row.task_name, {})),
        earlier=[task_info(t) for t in earlier],
        files=attachments_of(session, instance.id),
        colleagues=colleagues,
        deadline=deadline,
        stands_in_for=principal.label
        if row.state == "open" and (principal := principal_of(session, clock, user, row))
        else None,
    )
