"""Who is told: the audiences of :mod:`notifications.kinds` resolved to active officials.

A department is addressed by a process (its lane); the people are whoever works the step now —
the holder of a claimed task, else the officials the task is offered to (its job role narrows
them) — plus the department's leaders on the 催办 rung and the authority's coordinators on the
督办 rung. Departments are small (tens of officials), so their officials are read once and
filtered here; the tasks of one instance are a handful.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.directory import officials
from engine.directory.models import Department, User
from engine.workflow.models import HumanTask, ProcessInstance


def offered_to(session: Session, task: HumanTask) -> list[User]:
    """The active officials an open task is offered to (its department, narrowed by job role)."""
    return [
        u
        for u in officials(session, task.department_id)
        if not task.job_role or task.job_role in (u.job_roles or [])
    ]


def holder_or_queue(session: Session, task: HumanTask) -> list[User]:
    """Whoever works a task: its holder when claimed, else the officials it is offered to."""
    if task.assignee_id is not None:
        holder = session.get(User, task.assignee_id)
        return [holder] if holder is not None and holder.active else []
    return offered_to(session, task)


def open_tasks(session: Session, instance_id: int, department_id: int) -> list[HumanTask]:
    return list(
        session.scalars(
            select(HumanTask)
            .where(
                HumanTask.instance_id == instance_id,
                HumanTask.department_id == department_id,
                HumanTask.state == "open",
            )
            .order_by(HumanTask.due_sort, HumanTask.id)
        )
    )


def workers(
    session: Session, instance: ProcessInstance | None, department: Department
) -> list[User]:
    """Whoever works the department's open steps of the instance; else :func:`parties`."""
    found: list[User] = []
    if instance is not None:
        for task in open_tasks(session, instance.id, department.id):
            found += holder_or_queue(session, task)
    return unique(found) or parties(session, instance, department)


def parties(
    session: Session, instance: ProcessInstance | None, department: Department
) -> list[User]:
    """The department's officials who started or acted on the instance; else its coordinators
    (an authority) or all its officials."""
    ids: set[int] = set()
    if instance is not None:
        ids = set(
            session.scalars(
                select(HumanTask.completed_by_id).where(
                    HumanTask.instance_id == instance.id,
                    HumanTask.department_id == department.id,
                    HumanTask.completed_by_id.is_not(None),
                )
            )
        )
        if instance.started_by_id:
            ids.add(instance.started_by_id)
    staff = officials(session, department.id)
    acted = [u for u in staff if u.id in ids]
    if acted:
        return acted
    if department.coordinates:
        return with_role(staff, "coordinator") or staff
    return staff


def with_role(users: Iterable[User], role: str) -> list[User]:
    return [u for u in users if role in (u.job_roles or [])]


def leaders(session: Session, department_id: int) -> list[User]:
    return with_role(officials(session, department_id), "leader")


def coordinators(session: Session, department_id: int) -> list[User]:
    return with_role(officials(session, department_id), "coordinator")


def unique(users: Iterable[User]) -> list[User]:
    seen: dict[int, User] = {}
    for u in users:
        seen.setdefault(u.id, u)
    return list(seen.values())


def may_open(user: User, task: HumanTask) -> bool:
    """May the user open the task's page (offered to them, or theirs): as the task service's
    ``may_view`` decides for an open task."""
    if task.assignee_id == user.id:
        return True
    return task.department_id == user.department_id and (
        not task.job_role or task.job_role in (user.job_roles or [])
    )
