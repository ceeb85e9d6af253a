"""Inbox queries: the task lists officials work from, paginated and filtered in SQL.

Every list is one indexed query with ``LIMIT``/``OFFSET`` plus one ``COUNT`` capped at
:data:`engine.paging.COUNT_CAP` (the navigation's badges are the same capped counts); a view that
is two sets of tasks (overdue: the user's own and the queue's) reads them as limited index range
scans joined by UNION ALL. The cost of a page does not grow with the number of tasks stored
(bench/pages.py measures it; tests/test_inbox_budget.py counts the statements). Rows come back as
plain :class:`TaskRow` data with the deadline in working days and how that was counted.

The API's list (:func:`task_batch`, ``/api/v1/tasks``) pages by keyset on (due_sort, id) instead,
in one statement, and names each task's form by key (:func:`form_by_key`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true, union_all
from sqlalchemy.orm import Session, aliased, selectinload
from sqlalchemy.sql.elements import UnaryExpression

from engine import paging
from engine.calendar import WorkingCalendar, due_label, load_calendar
from engine.clock import SHANGHAI, Clock
from engine.directory import colleagues, department_labels
from engine.directory.delegation import covered_users
from engine.directory.models import Department, User
from engine.errors import NotFound, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import day_filters
from engine.paging import COUNT_CAP, page_count
from engine.workflow.models import HumanTask, ProcessDefinition, ProcessInstance

VIEWS = ("mine", "queue", "overdue", "done", "coordination")
PAGE_SIZE = 20
SOON_WORKING_DAYS = 2


@dataclass
class Filters:
    process: str | None = None
    counterpart: int | None = None  # department id
    due_from: date | str | None = None  # a date, or YYYY-MM-DD as entered (checked)
    due_to: date | str | None = None
    key: str | None = None  # business key, or part of it
    urgency: str | None = None  # normal | soon | overdue (deadline state, as the badges show it)
    sort: str = "due"  # due | -due | created


@dataclass
class Deadline:
    due_at: datetime
    label: str
    working_days_left: int
    urgency: str  # normal | soon | overdue
    explanation: list[Message] = field(default_factory=list)
    provisional: bool = False  # counted over days of a year whose regional holidays are missing
    rule: Message | None = None  # the limit, rule set version and article it counts (engine.rules)


def with_rule(deadline: Deadline, rule: Message | None) -> Deadline:
    """``deadline`` stating the rule it counts (first in its explanation)."""
    if rule is None:
        return deadline
    return replace(deadline, rule=rule, explanation=[rule, *deadline.explanation])


@dataclass
class TaskRow:
    id: int
    business_key: str
    instance_id: int
    process_id: str
    task_name: str
    title: str
    title_en: str | None
    role: str
    statute: str
    state: str
    resource_name: str
    counterpart: Label | str
    assignee: Label | None
    assignee_id: int | None
    completed_at: datetime | None
    created_at: datetime
    deadline: Deadline | None
    reasons: str = ""  # why the case came back to this department (a return, a question)
    suspended: bool = False  # an administrator suspended the case: nothing can be done for now


@dataclass
class Page:
    rows: list[TaskRow]
    total: int  # exact up to COUNT_CAP
    page: int
    pages: int
    more: bool = False  # more than COUNT_CAP tasks match: narrow the filters


def due_date_of(due_at: datetime) -> date:
    """The last day of a deadline: due instants are 24:00 local, i.e. 00:00 of the next day."""
    return (due_at.astimezone(SHANGHAI) - timedelta(microseconds=1)).date()


def describe_deadline(calendar: WorkingCalendar, due_at: datetime, now: datetime) -> Deadline:
    """Working days left from today to the due date, with the days skipped and made up."""
    today = now.astimezone(SHANGHAI).date()
    last = due_date_of(due_at)
    left = calendar.working_days_between(today, last)
    urgency = "overdue" if now >= due_at else ("soon" if left <= SOON_WORKING_DAYS else "normal")
    lines = [Message("Due at the end of %(date)s (24:00 Asia/Shanghai).", date=last.isoformat())]
    if urgency == "overdue":
        lines.append(Message("Overdue by %(n)s working day(s).", n=max(0, -left)))
    else:
        lines.append(
            Message(
                "%(n)s working day(s) left after today (%(today)s).",
                n=left,
                today=today.isoformat(),
            )
        )
        day, holidays, weekends, makeup = today, [], 0, []
        while day < last:
            day += timedelta(days=1)
            working, why = calendar.classify(day)
            if working and day.weekday() >= 5:
                makeup.append(f"{day.isoformat()} {why}")
            elif not working and why == "周末":
                weekends += 1
            elif not working:
                holidays.append(f"{day.isoformat()} {why}")
        if holidays:
            lines.append(Message("Holidays skipped: %(days)s", days="、".join(holidays)))
        if weekends:
            lines.append(Message("Weekend days skipped: %(n)s", n=weekends))
        if makeup:
            lines.append(Message("Make-up working days counted: %(days)s", days="、".join(makeup)))
    provisional = any(
        not calendar.has_regional_schedule(y) for y in range(today.year, last.year + 1)
    )
    return Deadline(due_at, due_label(due_at), left, urgency, lines, provisional)


def eligible_queue(user: User) -> ColumnElement[bool]:
    """The SQL condition of the unclaimed open tasks offered to ``user``."""
    roles = [r for r in (user.job_roles or [])]
    return and_(
        HumanTask.department_id == user.department_id,
        HumanTask.assignee_id.is_(None),
        or_(HumanTask.job_role.is_(None), HumanTask.job_role.in_(roles) if roles else false()),
    )


def offered_queue(user: User, covered: list[User] | None = None) -> ColumnElement[bool]:
    """:func:`eligible_queue` of the user and of every official they stand in for (leave
    cover, engine.directory.delegation)."""
    if not covered:
        return eligible_queue(user)
    return or_(eligible_queue(user), *(eligible_queue(u) for u in covered))


def _view_clause(
    view: str, user: User, now: datetime, covered: list[User] | None = None
) -> ColumnElement[bool]:
    """``covered``: the officials the user stands in for now; their tasks are the user's too."""
    open_ = HumanTask.state == "open"
    holders = [user.id] + [u.id for u in covered or []]
    mine = (
        HumanTask.assignee_id == user.id
        if len(holders) == 1
        else HumanTask.assignee_id.in_(holders)
    )
    if view == "mine":
        return and_(open_, mine)
    if view == "queue":
        return and_(open_, offered_queue(user, covered))
    if view == "overdue":
        # two index range scans (assignee / department queue, by due_sort), not one scan of all open tasks
        due = HumanTask.due_sort <= now
        ids = union_all(
            select(HumanTask.id).where(open_, mine, due),
            select(HumanTask.id).where(open_, offered_queue(user, covered), due),
        )
        return HumanTask.id.in_(ids)
    if view == "done":
        return and_(HumanTask.state == "completed", HumanTask.completed_by_id == user.id)
    if view == "coordination":
        return and_(
            open_,
            HumanTask.role == "authority",
            HumanTask.department_id == user.department_id,
            or_(mine, HumanTask.assignee_id.is_(None)),
        )
    raise ValueError(f"unknown inbox view {view!r}")


def _needs_instance(f: Filters) -> bool:
    return bool(f.process or f.key or f.counterpart)


def soon_cutoff(calendar: WorkingCalendar, now: datetime) -> datetime:
    """Deadlines up to this instant are "due soon": the end of the SOON_WORKING_DAYS-th working day from today."""
    return calendar.deadline(now, SOON_WORKING_DAYS).due_at


def _apply_filters(
    stmt: Select[HumanTask],
    f: Filters,
    user: User,
    now: datetime | None = None,
    calendar: WorkingCalendar | None = None,
) -> Select[HumanTask]:
    if f.urgency and now is not None and calendar is not None:
        cutoff = soon_cutoff(calendar, now)
        stmt = stmt.where(HumanTask.due_at.is_not(None))
        if f.urgency == "overdue":
            stmt = stmt.where(HumanTask.due_sort <= now)
        elif f.urgency == "soon":
            stmt = stmt.where(HumanTask.due_sort > now, HumanTask.due_sort <= cutoff)
        else:
            stmt = stmt.where(HumanTask.due_sort > cutoff)
    if _needs_instance(f):
        stmt = stmt.join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
    if f.process:
        stmt = stmt.where(ProcessInstance.process_id == f.process)
    if f.key:
        stmt = stmt.where(ProcessInstance.business_key.like(f"%{f.key.strip().upper()}%"))
    if f.counterpart:
        # a counterpart is another department: filtering by one's own matches nothing
        own = f.counterpart == user.department_id
        stmt = stmt.where(
            or_(
                ProcessInstance.requester_department_id == f.counterpart,
                ProcessInstance.provider_department_id == f.counterpart,
            ),
            false() if own else true(),
        )
    if isinstance(f.due_from, date):  # checked: a date or none (see :func:`checked`)
        stmt = stmt.where(
            HumanTask.due_at
            >= datetime.combine(f.due_from, datetime.min.time(), SHANGHAI) + timedelta(days=1)
        )
    if isinstance(f.due_to, date):
        stmt = stmt.where(
            HumanTask.due_at
            <= datetime.combine(f.due_to, datetime.min.time(), SHANGHAI) + timedelta(days=1)
        )
    return stmt


def _branches(
    view: str, user: User, now: datetime, covered: list[User] | None = None
) -> list[ColumnElement[bool]]:
    """The view as index range scans: one condition, or for ``overdue`` the user's own tasks and
    the queue offered to them (disjoint: a queued task has no assignee), each read through its
    (assignee|department, state, due_sort, id) index."""
    if view != "overdue":
        return [_view_clause(view, user, now, covered)]
    open_, due = HumanTask.state == "open", HumanTask.due_sort <= now
    holders = [user.id] + [u.id for u in covered or []]
    return [
        and_(open_, HumanTask.assignee_id.in_(holders), due),
        and_(open_, offered_queue(user, covered), due),
    ]


def _limited_ids(
    scans: list[Select[Any]], order: list[UnaryExpression[Any]], limit: int
) -> Select[Any]:
    """The ids of the first ``limit`` rows of every scan in ``order`` (any ``limit`` rows when
    ``order`` is empty: a count): a UNION ALL of limited scans (each wrapped so SQLite accepts
    its ORDER BY and LIMIT), never more than ``len(scans) * limit`` ids whatever is stored."""
    parts = []
    for scan in scans:
        sub = scan.with_only_columns(HumanTask.id).order_by(*order).limit(limit).subquery()
        parts.append(select(sub.c.id))
    return parts[0] if len(parts) == 1 else union_all(*parts)  # type: ignore[return-value]


def capped_count(session: Session, stmt: Select[Any], cap: int | None = None) -> int:
    """COUNT(*) that stops at ``cap`` + 1: the cost of a count never grows past the cap."""
    return paging.capped_count(session, stmt, HumanTask.id, COUNT_CAP if cap is None else cap)


def _count(session: Session, scans: list[Select[Any]], cap: int | None = None) -> int:
    """The matches of the scans, counted up to ``cap`` (COUNT_CAP) + 1 in one statement."""
    cap = COUNT_CAP if cap is None else cap
    if len(scans) == 1:
        return capped_count(session, scans[0], cap)
    ids = _limited_ids(scans, [], cap + 1).subquery()
    return session.execute(
        select(func.count()).select_from(select(ids.c.id).limit(cap + 1).subquery())
    ).scalar_one()


def counts(
    session: Session, user: User, clock: Clock, covered: list[User] | None = None
) -> dict[str, int]:
    """Open-task counts for the navigation: each one capped COUNT (at most
    :data:`engine.paging.BADGE_CAP` + 1 index entries read, overdue included), so the badges cost
    the same whatever is stored. ``covered``: the officials the user stands in for, where the
    caller has read them already."""
    now = clock.now()
    if covered is None:
        covered = covered_users(session, now, user)
    views = ["mine", "queue", "overdue"] + (["coordination"] if user.department.coordinates else [])
    return {
        v: _count(
            session,
            [select(HumanTask).where(b) for b in _branches(v, user, now, covered)],
            paging.BADGE_CAP,
        )
        for v in views
    }


def list_view(
    session: Session,
    user: User,
    clock: Clock,
    view: str,
    filters: Filters | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    covered: list[User] | None = None,
) -> Page:
    """One page of a view, in deadline order through the (department|assignee, state, due_sort)
    indexes: a capped count, the page's ids from limited index scans, the page's tasks with
    their instances and holders, and the counterparts' names — the same statements for 5 or
    100,000 tasks. ``covered``: as for :func:`counts`."""
    check_view(user, view)
    now = clock.now()
    f = checked(filters or Filters())
    calendar = load_calendar(session)
    if covered is None:
        covered = covered_users(session, now, user)
    scans = [
        _apply_filters(select(HumanTask).where(b), f, user, now, calendar)
        for b in _branches(view, user, now, covered)
    ]
    total = _count(session, scans)
    pages = page_count(total, page_size, COUNT_CAP)
    page = min(max(1, page), pages)
    order = _order(view, f)
    if len(scans) == 1:
        stmt = scans[0]
    else:
        stmt = select(HumanTask).where(
            HumanTask.id.in_(_limited_ids(scans, order, page * page_size))
        )
    stmt = (
        stmt.options(selectinload(HumanTask.instance), selectinload(HumanTask.assignee))
        .order_by(*order)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    tasks = session.scalars(stmt).all()
    names = department_labels(
        session,
        {
            d
            for t in tasks
            for d in (t.instance.requester_department_id, t.instance.provider_department_id)
            if d
        },
    )
    rows = [_task_row(t, user, names, calendar, now) for t in tasks]
    return Page(rows, total, page, pages, total > COUNT_CAP)


def checked(f: Filters) -> Filters:
    """The filters with their dates checked at the input boundary: a date that is not one is
    refused naming the filter by its label (422), never ignored."""
    days = day_filters(
        {
            "due_from": (f.due_from, Message(N_("Due from"))),
            "due_to": (f.due_to, Message(N_("Due until"))),
        },
        Message(N_("The list cannot be shown")),
    )
    return replace(f, due_from=days["due_from"], due_to=days["due_to"])


def _order(view: str, f: Filters) -> list[UnaryExpression[Any]]:
    if view == "done":
        return [HumanTask.completed_at.desc(), HumanTask.id.desc()]
    if f.sort == "-due":
        return [HumanTask.due_sort.desc(), HumanTask.id.desc()]
    if f.sort == "created":
        return [HumanTask.created_at.desc(), HumanTask.id.desc()]
    return [HumanTask.due_sort.asc(), HumanTask.id.asc()]


def _task_row(
    t: HumanTask, user: User, names: dict[int, Label], calendar: WorkingCalendar, now: datetime
) -> TaskRow:
    inst = t.instance
    other = (
        inst.provider_department_id
        if user.department_id == inst.requester_department_id
        else inst.requester_department_id
    )
    return TaskRow(
        id=t.id,
        business_key=inst.business_key,
        instance_id=inst.id,
        process_id=inst.process_id,
        task_name=t.task_name,
        title=t.title,
        title_en=t.title_en,
        role=t.role,
        statute=t.statute,
        state=t.state,
        resource_name=(inst.summary or {}).get("resource_name", ""),
        counterpart=names.get(other, "") if other is not None else "",
        assignee=t.assignee.label if t.assignee else None,
        assignee_id=t.assignee_id,
        completed_at=t.completed_at,
        created_at=t.created_at,
        deadline=describe_deadline(calendar, t.due_at, now)
        if t.due_at and t.state == "open"
        else None,
        reasons=str((inst.summary or {}).get("return_reasons") or "") if t.state == "open" else "",
        suspended=inst.status == "suspended",
    )


def check_view(user: User, view: str) -> None:
    """The inboxes a user may open: every official's own, and the coordinators' inbox for the
    officials of a data-sharing authority."""
    if view not in VIEWS or (view == "coordination" and not user.department.coordinates):
        raise NotFound(Message("No inbox %(view)s.", view=view))


@dataclass(frozen=True)
class Colleague:
    """An official a leader may hand a task to."""

    id: int
    display_name: Label
    username: str


@dataclass(frozen=True)
class DepartmentOption:
    """A department offered in a filter."""

    id: int
    name: Label


def counterpart_departments(session: Session, user: User) -> list[DepartmentOption]:
    """Departments to filter by: every other department, region first (O(departments))."""
    rows = session.execute(
        select(Department.id, Department.name, Department.name_en)
        .where(Department.id != user.department_id)
        .order_by(Department.division_code, Department.name)
    )
    return [DepartmentOption(r.id, Label(r.name, r.name_en)) for r in rows]


@dataclass(frozen=True)
class InboxPage:
    """An inbox page: the tasks, and what its filters and bulk actions offer."""

    page: Page
    counterparts: list[DepartmentOption]
    colleagues: list[Colleague]  # a leader's officials, to reassign to
    counts: dict[str, int]  # the navigation's badges (:func:`counts`)


def inbox_page(
    session: Session, user: User, clock: Clock, view: str, filters: Filters, page: int = 1
) -> InboxPage:
    """An inbox page and the navigation's counts, the officials the user stands in for read
    once for both."""
    covered = covered_users(session, clock.now(), user)
    return InboxPage(
        list_view(session, user, clock, view, filters, page=page, covered=covered),
        counterpart_departments(session, user),
        [Colleague(u.id, u.label, u.username) for u in colleagues(session, user)],
        counts(session, user, clock, covered),
    )


# -- the API's task list (/api/v1/tasks): keyset pages ------------------------------------------
API_LIMIT = 50  # tasks in one answer unless the caller asks for fewer or more
API_MAX_LIMIT = 200
API_SCOPES = ("inbox", "mine", "queue")
# ``after``: the (due_sort, id) of the last task of the previous answer, as it gives it
CURSOR_PATTERN = r"^[0-9]{8}T[0-9]{12}Z\.[0-9]{1,10}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_CURSOR_TIME = "%Y%m%dT%H%M%S%fZ"
_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class ApiTask:
    """An open task as a department system lists it: plain values and the key of its form
    (whose schema is fetched once per key, not repeated in every task)."""

    id: int
    business_key: str
    task_name: str
    title: str
    role: str
    form: str | None
    form_key: str | None  # process.version.form: one deployed version's form
    statute: str
    state: str
    due_at: datetime | None
    assignee: str | None  # user name of the holder
    request_status: str


@dataclass(frozen=True)
class TaskBatch:
    tasks: list[ApiTask]
    next: str | None  # the ``after`` of the next batch; None: this was the last


def form_key(process_id: str, version: int, form: str) -> str:
    return f"{process_id}.{version}.{form}"


def _cursor(due_sort: datetime, task_id: int) -> str:
    return f"{due_sort.astimezone(UTC).strftime(_CURSOR_TIME)}.{task_id}"


def _position(after: str) -> tuple[datetime, int]:
    """The (due_sort, id) a cursor names; anything else is refused naming ``after`` (422)."""
    at, _, task_id = after.partition(".")
    try:
        if not _CURSOR.match(after) or int(task_id) > _MAX_ID:
            raise ValueError(after)
        return datetime.strptime(at, _CURSOR_TIME).replace(tzinfo=UTC), int(task_id)
    except ValueError:
        raise ValidationFailed(
            Message("The request is not valid: %(fields)s", fields="after"),
            [{"field": "after", "message": Message(N_("is not a cursor this list gave"))}],
        ) from None


def scope_conditions(user: User, scope: str) -> list[ColumnElement[bool]]:
    """The open tasks of a scope, one condition per index range: ``mine``, claimed by the user;
    ``queue``, unclaimed and offered to the user; ``inbox`` (or anything else), both."""
    open_ = HumanTask.state == "open"
    mine = and_(open_, HumanTask.assignee_id == user.id)
    queue = and_(open_, eligible_queue(user))
    return {"mine": [mine], "queue": [queue]}.get(scope, [mine, queue])


def task_batch(
    session: Session,
    user: User,
    scope: str = "inbox",
    limit: int = API_LIMIT,
    after: str | None = None,
) -> TaskBatch:
    """The user's open tasks in deadline order (``mine``: claimed by them; ``queue``: unclaimed
    and offered to them; ``inbox``: both), ``limit`` after the cursor ``after``.

    Keyset paging on (due_sort, id) through the assignee and queue indexes: each scope is read
    as limited index range scans, then the batch with its instance, definition and holder in the
    same statement — one query whatever the batch size or the tasks stored."""
    limit = max(1, min(limit, API_MAX_LIMIT))
    conditions = scope_conditions(user, scope)
    if after:
        beyond = paging.beyond(HumanTask.due_sort, HumanTask.id, _position(after))
        conditions = [and_(c, beyond) for c in conditions]
    order: list[UnaryExpression[Any]] = [HumanTask.due_sort.asc(), HumanTask.id.asc()]
    ids = _limited_ids([select(HumanTask).where(c) for c in conditions], order, limit + 1)
    holder = aliased(User)
    rows = session.execute(
        select(
            HumanTask,
            ProcessInstance.business_key,
            ProcessInstance.status,
            ProcessDefinition.process_id,
            ProcessDefinition.version,
            holder.username,
        )
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
        .outerjoin(holder, HumanTask.assignee_id == holder.id)
        .where(HumanTask.id.in_(ids))
        .order_by(*order)
        .limit(limit + 1)
    ).all()
    tasks = [
        ApiTask(
            id=t.id,
            business_key=key,
            task_name=t.task_name,
            title=t.title,
            role=t.role,
            form=t.form,
            form_key=form_key(pid, version, t.form) if t.form else None,
            statute=t.statute,
            state=t.state,
            due_at=t.due_at,
            assignee=username,
            request_status=status,
        )
        for t, key, status, pid, version, username in rows[:limit]
    ]
    more = len(rows) > limit
    last_row = rows[limit - 1][0] if more else None
    return TaskBatch(tasks, _cursor(last_row.due_sort, last_row.id) if last_row else None)


@dataclass(frozen=True)
class FormSchema:
    key: str
    schema: dict
    etag: str  # of the schema's content: a deployed version's form never changes


FORM_KEY_PATTERN = r"^[A-Za-z0-9_\-]{1,100}\.[0-9]{1,9}\.[A-Za-z0-9_\-]{1,100}$"
_FORM_KEY = re.compile(FORM_KEY_PATTERN)


def form_by_key(session: Session, key: str) -> FormSchema:
    """The JSON Schema of a deployed version's form (``process.version.form``), one indexed
    read of (process_id, version)."""
    missing = NotFound(Message("No form %(key)s.", key=key))
    if not _FORM_KEY.match(key):
        raise missing
    process_id, version, form = key.split(".")
    forms = session.scalar(
        select(ProcessDefinition.forms).where(
            ProcessDefinition.process_id == process_id,
            ProcessDefinition.version == int(version),
        )
    )
    schema = (forms or {}).get(form)
    if schema is None:
        raise missing
    digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
    return FormSchema(key, schema, digest[:32])
