"""What a reorganised department holds in the runtime: running cases (the instance's role
bindings, so that the process routes to the successor), their open tasks and the notifications
still waiting to be sent. Finished cases and tasks stay with the predecessor: history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.directory.administration import Holding
from engine.directory.models import User
from engine.workflow.models import HumanTask, OutboxMessage, ProcessInstance

FINISHED = ("completed", "cancelled", "terminated")


def _running(session: Session, department_id: int) -> list[ProcessInstance]:
    """Running instances bound to the department in any role (the JSON bindings are read for
    the running instances only, a bounded set)."""
    return [
        i
        for i in session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.status.not_in(FINISHED))
            .order_by(ProcessInstance.id)
        )
        if i.involves(department_id)
    ]


def holdings(session: Session, department_id: int) -> list[Holding]:
    instances = _running(session, department_id)
    out = [Holding("cases", i.business_key, _case_label(i)) for i in instances]
    keys = {i.id: i.business_key for i in instances}
    if keys:
        for task in session.scalars(
            select(HumanTask)
            .where(
                HumanTask.instance_id.in_(keys),
                HumanTask.department_id == department_id,
                HumanTask.state == "open",
            )
            .order_by(HumanTask.id)
        ):
            key = keys[task.instance_id]
            out.append(Holding("tasks", str(task.id), f"{key} · {task.title}", follows=key))
    return out


def _case_label(instance: ProcessInstance) -> str:
    name = (instance.summary or {}).get("resource_name") or ""
    return f"{instance.business_key} {name}".strip()


def transfer(session: Session, department_id: int, moves: dict[str, int]) -> int:
    """Rebind the running cases ``moves`` (business key -> successor id): their role bindings,
    the bound-department columns, their open tasks and unsent notifications of the department."""
    n = 0
    for instance in _running(session, department_id):
        new = moves.get(instance.business_key)
        if new is None:
            continue
        instance.bindings = {
            role: (new if dept == department_id else dept)
            for role, dept in (instance.bindings or {}).items()
        }
        for column in (
            "requester_department_id",
            "provider_department_id",
            "authority_department_id",
        ):
            if getattr(instance, column) == department_id:
                setattr(instance, column, new)
        for task in session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id,
                HumanTask.department_id == department_id,
                HumanTask.state == "open",
            )
        ):
            task.department_id = new
        for message in session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.instance_id == instance.id,
                OutboxMessage.department_id == department_id,
                OutboxMessage.sent_at.is_(None),
            )
        ):
            message.department_id = new
        n += 1
    return n


def release_strays(session: Session, department_ids: set[int]) -> int:
    """Open tasks of ``department_ids`` claimed by an official who now sits in another
    department (a split sent the case one way and the official the other) go back to the
    department's queue."""
    if not department_ids:
        return 0
    n = 0
    for task, user_department in session.execute(
        select(HumanTask, User.department_id)
        .join(User, User.id == HumanTask.assignee_id)
        .where(HumanTask.department_id.in_(department_ids), HumanTask.state == "open")
    ):
        if user_department != task.department_id:
            task.assignee_id = None
            n += 1
    return n
