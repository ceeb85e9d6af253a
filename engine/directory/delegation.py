"""Delegation and leave cover (issue 14, item 5).

An official, or a leader of their department, names a deputy (an active official of the same
department) for a period of Asia/Shanghai days. While it runs, the tasks offered to or claimed by
the absent official are offered to the deputy too (engine.workflow.inbox and tasks), the deputy
may act on them and the history reads "<deputy> on behalf of <absent>"; notifications for the
absent official reach the deputy as well (notifications.recipients).

A delegation runs from 00:00 of its first day until 24:00 of its last day (or until it is ended
early). Every query compares with ``clock.now()``, so it ends by itself: no job is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import SHANGHAI, Clock
from engine.directory.admin import admin_scope
from engine.directory.models import Delegation, User
from engine.errors import Conflict, Forbidden, NotFound
from engine.i18n import N_, Label, Message
from engine.inputs import Checks, storable

PAGE_SIZE = 20
LONGEST_COVER_DAYS = 366  # a leave cover is for an absence; a longer one is a move (accounts)
COUNT_CAP = 1000
DEPUTY = Message(N_("Deputy"))
ABSENT = Message(N_("Absent official"))
FROM = Message(N_("From"))
UNTIL = Message(N_("Until"))


def day_start(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``."""
    return datetime.combine(day, time.min, SHANGHAI)


def last_day(ends_at: datetime) -> date:
    """The last day a delegation covers (its end is 24:00 of that day, local)."""
    return (ends_at.astimezone(SHANGHAI) - timedelta(microseconds=1)).date()


def _running(now: datetime) -> ColumnElement[bool]:
    return (Delegation.starts_at <= now) & (Delegation.ends_at > now)


def covered_ids(session: Session, now: datetime, deputy_id: int) -> list[int]:
    """The ids of the officials ``deputy_id`` stands in for now (an indexed range scan)."""
    return list(
        session.scalars(
            select(Delegation.absent_id)
            .join(User, User.id == Delegation.absent_id)
            .where(Delegation.deputy_id == deputy_id, _running(now), User.active.is_(True))
        )
    )


def covered_users(session: Session, now: datetime, deputy: User) -> list[User]:
    """The active officials of the deputy's department whom ``deputy`` stands in for now."""
    ids = covered_ids(session, now, deputy.id)
    if not ids:
        return []
    return list(
        session.scalars(
            select(User).where(
                User.id.in_(ids),
                User.department_id == deputy.department_id,
                User.active.is_(True),
            )
        )
    )


def deputies_of(session: Session, now: datetime, absent_id: int) -> list[User]:
    """The active deputies who stand in for ``absent_id`` now."""
    return list(
        session.scalars(
            select(User)
            .join(Delegation, Delegation.deputy_id == User.id)
            .where(Delegation.absent_id == absent_id, _running(now), User.active.is_(True))
            .order_by(User.username)
        )
    )


@dataclass(frozen=True)
class DelegationInfo:
    id: int
    absent: Label
    absent_username: str
    deputy: Label
    deputy_username: str
    first_day: date
    last_day: date
    state: str  # planned | running | over | ended (ended early)
    state_label: Message


STATES = {
    "planned": Message(N_("Planned")),
    "running": Message(N_("Running")),
    "over": Message(N_("Over")),
    "ended": Message(N_("Ended early")),
}


def _info(row: Delegation, now: datetime) -> DelegationInfo:
    if row.ended_early_at is not None and row.ends_at <= now:
        state = "ended"
    elif now < row.starts_at:
        state = "planned"
    elif now < row.ends_at:
        state = "running"
    else:
        state = "over"
    return DelegationInfo(
        id=row.id,
        absent=row.absent.label,
        absent_username=row.absent.username,
        deputy=row.deputy.label,
        deputy_username=row.deputy.username,
        first_day=row.starts_at.astimezone(SHANGHAI).date(),
        last_day=last_day(row.ends_at),
        state=state,
        state_label=STATES[state],
    )


def _may_manage(session: Session, actor: User | None, absent: User) -> None:
    """The absent official themselves, a leader of their department, an administrator over it,
    or the operator at the command line."""
    if actor is None or actor.id == absent.id:
        return
    if "leader" in (actor.job_roles or []) and actor.department_id == absent.department_id:
        return
    scope = admin_scope(actor)
    if scope is not None and scope.covers(session, absent.department.division_code):
        return
    raise Forbidden(
        Message("Only the official or a leader of their department may arrange their leave cover.")
    )


def _user(session: Session, username: str, label: Message) -> User:
    user = (
        session.scalar(select(User).where(User.username == username.strip()))
        if storable(username)
        else None
    )
    if user is None:
        raise NotFound(Message("%(label)s: unknown user '%(name)s'.", label=label, name=username))
    return user


def delegate(
    session: Session,
    clock: Clock,
    actor: User | None,
    absent_username: str,
    deputy_username: str,
    first: str | date,
    last: str | date,
) -> DelegationInfo:
    """Name ``deputy_username`` to stand in for ``absent_username`` from ``first`` to ``last``
    (YYYY-MM-DD, both included). Refused naming the field: a deputy outside the department or
    inactive, the absent official themselves, a period that ends before it starts or in the past,
    or one overlapping another cover of the same official."""
    absent = _user(session, absent_username or "", ABSENT)
    _may_manage(session, actor, absent)
    # one arrangement at a time per absent official (PostgreSQL row lock), so that two
    # overlapping covers made at once cannot both pass the overlap check below
    session.execute(select(User.id).where(User.id == absent.id).with_for_update())
    checks = Checks()
    deputy = (
        session.scalar(select(User).where(User.username == deputy_username.strip()))
        if storable(deputy_username or "")
        else None
    )
    if deputy is None or not deputy.active:
        checks.add("deputy", DEPUTY, Message(N_("must be an active official")))
    elif deputy.id == absent.id:
        checks.add("deputy", DEPUTY, Message(N_("must be someone other than the absent official")))
    elif deputy.department_id != absent.department_id:
        checks.add("deputy", DEPUTY, Message(N_("must be an official of the same department")))
    if not absent.active:
        checks.add("absent", ABSENT, Message(N_("must be an active official")))
    ok_from = checks.day("from", first, FROM)
    ok_until = checks.day("until", last, UNTIL)
    now = clock.now()
    if ok_from and ok_until:
        checks.period("until", first, last, UNTIL)
        first_day = first if isinstance(first, date) else date.fromisoformat(str(first))
        last_day_ = last if isinstance(last, date) else date.fromisoformat(str(last))
        if day_start(last_day_ + timedelta(days=1)) <= now:
            checks.add("until", UNTIL, Message(N_("must not be in the past")))
        elif (last_day_ - first_day).days >= LONGEST_COVER_DAYS:
            checks.add(
                "until",
                UNTIL,
                Message(
                    N_("must be within %(n)s days of the start (a longer absence is a move)"),
                    n=LONGEST_COVER_DAYS,
                ),
            )
    checks.done(Message(N_("The leave cover was not arranged")))
    assert deputy is not None
    starts_at = day_start(first_day)
    ends_at = day_start(last_day_ + timedelta(days=1))
    clash = session.scalar(
        select(Delegation.id)
        .where(
            Delegation.absent_id == absent.id,
            Delegation.ends_at > max(starts_at, now),
            Delegation.starts_at < ends_at,
        )
        .limit(1)
    )
    if clash is not None:
        overlap = Checks()
        overlap.add(
            "from",
            FROM,
            Message(
                N_("overlaps the leave cover %(who)s already has; end that one first"),
                who=absent.label,
            ),
        )
        overlap.done(Message(N_("The leave cover was not arranged")))
    row = Delegation(
        absent_id=absent.id,
        deputy_id=deputy.id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        now,
        "delegation_created",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref=absent.username,
        after={
            "deputy": deputy.username,
            "from": first_day.isoformat(),
            "until": last_day_.isoformat(),
        },
        delegation_id=row.id,
    )
    return _info(row, now)


def end_delegation(
    session: Session, clock: Clock, actor: User | None, delegation_id: int
) -> DelegationInfo:
    """End a cover now (one not yet begun is ended before it starts). Ending one that is over
    already is refused, saying so."""
    row = session.get(Delegation, delegation_id) if isinstance(delegation_id, int) else None
    if row is None:
        raise NotFound(Message("No leave cover %(id)s.", id=delegation_id))
    _may_manage(session, actor, row.absent)
    now = clock.now()
    if row.ends_at <= now:
        raise Conflict(Message("This leave cover is over already."))
    before = row.ends_at
    row.ends_at = max(now, row.starts_at) if row.starts_at > now else now
    row.ended_early_at = now
    audit.record(
        session,
        now,
        "delegation_ended",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref=row.absent.username,
        before={"until": last_day(before).isoformat()},
        after={"ended_at": now.isoformat()},
        delegation_id=row.id,
        deputy=row.deputy.username,
    )
    session.flush()
    return _info(row, now)


@dataclass(frozen=True)
class Cover:
    """Whom the user stands in for now, and who stands in for them (the banner)."""

    standing_in_for: list[tuple[Label, date]]
    covered_by: list[tuple[Label, date]]


def cover_of(session: Session, clock: Clock, user: User) -> Cover:
    """Two indexed queries per page: the running covers where the user is deputy or absent."""
    now = clock.now()
    rows = session.scalars(
        select(Delegation).where(
            or_(Delegation.deputy_id == user.id, Delegation.absent_id == user.id), _running(now)
        )
    ).all()
    return Cover(
        standing_in_for=[
            (r.absent.label, last_day(r.ends_at))
            for r in rows
            if r.deputy_id == user.id and r.absent.active
        ],
        covered_by=[
            (r.deputy.label, last_day(r.ends_at))
            for r in rows
            if r.absent_id == user.id and r.deputy.active
        ],
    )


@dataclass(frozen=True)
class DelegationPage:
    rows: list[DelegationInfo]
    page: int
    pages: int
    colleagues: list[tuple[str, Label]]  # (user name, name): whom a deputy may be
    members: list[tuple[str, Label]]  # whom the actor may arrange cover for


def delegation_page(
    session: Session, clock: Clock, user: User, department: bool = False, page: int = 1
) -> DelegationPage:
    """The user's own covers (as absent or deputy), or with ``department`` (a leader) those of
    every official of their department; newest first, O(page)."""
    if department and "leader" not in (user.job_roles or []):
        raise Forbidden(Message("Only a leader of the department sees its leave cover."))
    now = clock.now()
    where: ColumnElement[bool]
    if department:
        staff_ids = select(User.id).where(User.department_id == user.department_id)
        where = Delegation.absent_id.in_(staff_ids)
    else:
        where = or_(Delegation.absent_id == user.id, Delegation.deputy_id == user.id)
    stmt = select(Delegation).where(where)
    capped = select(Delegation.id).where(where).limit(COUNT_CAP).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = session.scalars(
        stmt.order_by(Delegation.starts_at.desc(), Delegation.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    staff = session.scalars(
        select(User)
        .where(User.department_id == user.department_id, User.active.is_(True))
        .order_by(User.username)
    ).all()
    colleagues = [(u.username, u.label) for u in staff]
    members = colleagues if department else [(user.username, user.label)]
    return DelegationPage([_info(r, now) for r in rows], page, pages, colleagues, members)


def with_deputies(session: Session, now: datetime, users: list[User]) -> list[User]:
    """``users`` and, after them, the active deputies standing in for any of them now (one
    query): what is told to an absent official is told to their deputy as well."""
    ids = [u.id for u in users]
    if not ids:
        return users
    deputies = session.scalars(
        select(User)
        .join(Delegation, Delegation.deputy_id == User.id)
        .where(Delegation.absent_id.in_(ids), _running(now), User.active.is_(True))
        .order_by(User.id)
    ).all()
    seen = set(ids)
    out = list(users)
    for deputy in deputies:
        if deputy.id not in seen:
            seen.add(deputy.id)
            out.append(deputy)
    return out
