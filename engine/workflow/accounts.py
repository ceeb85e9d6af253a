"""Account changes that touch the task mirror (issue 14): deactivating an account and moving
it to another department.

The open tasks the account had claimed go back to their department's queue (assignee cleared,
audited ``task_unclaimed``) and the department is told through the outbox (``task_returned``,
docs/notifications.md); its leave cover ends (engine.directory.delegation). The rules of who may
do it are engine.directory.accounts' (engine.directory.admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.accounts import (
    DEPARTMENT,
    AccountInfo,
    _info,
    _keep_a_system_admin,
    _may_administer,
    _user,
)
from engine.directory.admin import LEVEL_ADMIN, require_admin
from engine.directory.models import Delegation, Department, User
from engine.directory.sessions import revoke_sessions
from engine.errors import Conflict
from engine.i18n import N_, Message
from engine.inputs import Checks, storable
from engine.workflow.models import HumanTask, OutboxMessage


def _return_claimed_tasks(
    session: Session, clock: Clock, user: User, actor: User | None, department_id: int | None
) -> int:
    """Give the user's claimed open tasks (of ``department_id``, or all) back to their queue;
    each department is told through the outbox (``task_returned``). Returns how many."""
    stmt = select(HumanTask).where(HumanTask.assignee_id == user.id, HumanTask.state == "open")
    if department_id is not None:
        stmt = stmt.where(HumanTask.department_id == department_id)
    now = clock.now()
    rows = list(session.scalars(stmt.order_by(HumanTask.id)))
    for row in rows:
        row.assignee_id = None
        audit.record(
            session,
            now,
            "task_unclaimed",
            actor_id=actor.id if actor else None,
            instance_id=row.instance_id,
            object_type="task",
            object_ref=str(row.id),
            task=row.task_name,
            title=row.title,
            title_en=row.title_en,
            before=user.username,
            reason="account",
        )
        session.add(
            OutboxMessage(
                instance_id=row.instance_id,
                department_id=row.department_id,
                template="task_returned",
                payload={
                    "task_id": row.id,
                    "actor_id": actor.id if actor else None,
                    "who": user.display_name,
                    "who_en": user.display_name_en or user.display_name,
                },
                created_at=now,
            )
        )
    return len(rows)


def _end_cover(session: Session, now: datetime, user: User) -> None:
    """End the running and planned leave cover the user takes part in (absent or deputy)."""
    session.execute(
        update(Delegation)
        .where(
            or_(Delegation.absent_id == user.id, Delegation.deputy_id == user.id),
            Delegation.ends_at > now,
        )
        .values(ends_at=now, ended_early_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Deactivated:
    sessions: int
    tasks_returned: int


def deactivate_account(
    session: Session, clock: Clock, actor: User | None, username: str
) -> Deactivated:
    """Deactivate a user: no more sign-in, API tokens refused, every session revoked, their
    claimed open tasks back to the department queue (the department is told), their leave cover
    ended. Deactivating an inactive user changes nothing."""
    user = _user(session, username)
    _may_administer(session, actor, user)
    if not user.active:
        return Deactivated(0, 0)
    if actor is not None and actor.id == user.id:
        raise Conflict(Message("You cannot deactivate your own account."))
    _keep_a_system_admin(session, user)
    now = clock.now()
    user.active = False
    revoked = revoke_sessions(session, now, user.id)
    returned = _return_claimed_tasks(session, clock, user, actor, None)
    _end_cover(session, now, user)
    audit.record(
        session,
        now,
        "user_deactivated",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref=user.username,
        before={"active": True},
        after={"active": False},
        sessions_revoked=revoked,
        tasks_returned=returned,
    )
    return Deactivated(revoked, returned)


def move_account(
    session: Session, clock: Clock, actor: User | None, username: str, department_slug: str
) -> tuple[AccountInfo, int]:
    """Move an account to another department (the actor must administer both); its claimed open
    tasks go back to the old department's queue, which is told; its leave cover ends; a role the
    new department cannot hold (level administrator, coordinator) is dropped. Returns the account
    and how many tasks went back."""
    user = _user(session, username)
    _may_administer(session, actor, user)
    slug = (department_slug or "").strip()
    target = (
        session.scalar(select(Department).where(Department.slug == slug))
        if storable(slug)
        else None
    )
    if target is None:
        checks = Checks()
        checks.add("department", DEPARTMENT, Message(N_("must be a department of the directory")))
        checks.done(Message(N_("The account was not moved")))
    assert target is not None
    require_admin(session, actor, target.division_code)
    old = user.department
    if target.id == old.id:
        return _info(user), 0
    now = clock.now()
    returned = _return_claimed_tasks(session, clock, user, actor, old.id)
    _end_cover(session, now, user)
    roles = [
        r
        for r in (user.job_roles or [])
        if not (r == LEVEL_ADMIN and not target.is_authority)
        and not (r == "coordinator" and not target.coordinates)
    ]
    before_roles = list(user.job_roles or [])
    user.department_id = target.id
    user.job_roles = roles or ["official"]
    session.flush()
    session.refresh(user, ["department"])
    audit.record(
        session,
        now,
        "user_moved",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref=user.username,
        before={"department": old.slug, "roles": before_roles},
        after={"department": target.slug, "roles": user.job_roles},
        tasks_returned=returned,
    )
    return _info(user), returned
