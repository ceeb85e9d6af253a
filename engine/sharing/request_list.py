"""The lists officials need (issue 12): 本部门申请, a department's requests, and the same across an
authority's levels, with their status, counterpart, resource and dates; filtered, searched, paged
and exported.

A request is an instance of one of the sharing processes (the business-key registry of
:mod:`engine.sharing.handlers`). Its status is derived in SQL from what is stored
(:func:`status_expression`), so the list filters by status in the same indexed query that pages it.

Cost: every list is one capped COUNT and one page query, whatever the number of requests stored.
Both read a UNION of index range scans — one per (scope column, process): the requester's and the
provider's department for 本部门申请, the authority for an authority's levels — each ordered by
``created_at`` through the indexes of migration 0020 and limited to the rows the page needs, so a
page costs O(offset + page), and the count stops at :data:`COUNT_CAP`. The search (``q``) and the
status filter are checked row by row inside those scans, like the inbox's business-key filter.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased

from engine.clock import SHANGHAI, Clock
from engine.directory import authorities_under, departments
from engine.directory.models import Department, User
from engine.errors import Forbidden
from engine.exports import SafeWriter
from engine.i18n import N_, Label, Message
from engine.inputs import Checks
from engine.paging import COUNT_CAP, capped_count, page_count
from engine.sharing.handlers import HANDLERS
from engine.workflow.models import HumanTask, ProcessFact, ProcessInstance

# the processes whose instances are share requests: the sharing area's business-key registry
REQUEST_PROCESSES = tuple(HANDLERS.key_prefixes)
PAGE_SIZE = 20
EXPORT_CAP = 10_000  # rows in one CSV export; narrow the filters for more
SCOPES = ("department", "level")
DIRECTIONS = ("sent", "received")

# status -> its label (translated where shown); the order of the filter's options
STATUSES = {
    "in_progress": N_("In progress"),
    "overdue": N_("Overdue"),
    "negotiating": N_("In negotiation"),
    "coordinating": N_("In coordination"),
    "granted": N_("Granted"),
    "granted_in_part": N_("Granted in part"),
    "refused": N_("Refused"),
}

_PI = ProcessInstance


def _fact(kind: str, *decisions: str) -> ColumnElement[bool]:
    """The instance recorded a fact of ``kind`` (with one of ``decisions``, if given)."""
    clauses = [ProcessFact.instance_id == _PI.id, ProcessFact.kind == kind]
    if decisions:
        clauses.append(ProcessFact.decision.in_(decisions))
    return exists().where(*clauses)


def status_expression(now: datetime) -> ColumnElement[str]:
    """A request's status, as one SQL expression over what is stored (the first that applies):

    1. ``overdue`` 已逾期 — still running, and one of its open tasks is past its deadline (the
       provider's reply, a negotiation position, a coordinator's question …);
    2. ``coordinating`` 协调中 — running, the same-level authority took the dispute over (fact
       ``coordination_opened``) and no outcome is recorded yet (summary ``negotiation_outcome``);
    3. ``negotiating`` 协商中 — running, a negotiation was opened (fact ``negotiation_opened``)
       and has no outcome yet;
    4. ``granted_in_part`` 部分授权 — the summary's ``decision`` says so: ``issue_grant`` keeps
       there the decision of the grant, which is in part where the decider said so or where the
       scope is narrower than requested (fewer info items, a shorter period), by the provider, in
       negotiation or by the authority; for instances recorded before the decision was kept that
       way: granted after fact ``request_answered`` ``approved_in_part`` or
       ``coordination_decided`` ``granted_in_part``;
    5. ``granted`` 已授权 — granted (unconditionally, on approval, by agreement in negotiation or
       by the authority's decision);
    6. ``refused`` 不予共享 — refused by the provider (while the requester decides whether to
       negotiate, or for good) or, after coordination, refusal upheld (``refusal_upheld``);
    7. ``in_progress`` 办理中 — anything else (submitted and waiting, or stopped by an incident).

    """
    running = _PI.status.in_(("running", "incident"))
    overdue = exists().where(
        HumanTask.instance_id == _PI.id, HumanTask.state == "open", HumanTask.due_sort <= now
    )
    no_outcome = _PI.summary["negotiation_outcome"].as_string().is_(None)
    decision = _PI.summary["decision"].as_string()
    partly = or_(
        _fact("request_answered", "approved_in_part"),
        _fact("coordination_decided", "granted_in_part"),
    )
    return case(
        (and_(running, overdue), "overdue"),
        (and_(running, no_outcome, _fact("coordination_opened")), "coordinating"),
        (and_(running, no_outcome, _fact("negotiation_opened")), "negotiating"),
        (decision == "granted_in_part", "granted_in_part"),
        (and_(decision == "granted", partly), "granted_in_part"),  # instances before migration 0018
        (decision == "granted", "granted"),
        (decision.in_(("refused", "refusal_upheld")), "refused"),
        else_="in_progress",
    )


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to, as the person entered it (checked by :func:`checked`)."""

    scope: str = "department"  # department | level (an authority's levels)
    status: str = ""  # a key of STATUSES, or "" for all
    direction: str = ""  # sent | received | "" (本部门申请 only)
    counterpart: int | None = None  # a department id
    submitted_from: str = ""  # YYYY-MM-DD
    submitted_to: str = ""
    q: str = ""  # business key, resource code or name, department name (part of)


@dataclass(frozen=True)
class _Checked:
    scope: str
    status: str
    direction: str
    counterpart: int | None
    start: datetime | None
    end: datetime | None  # exclusive
    q: str


def checked(user: User, f: Filters) -> _Checked:
    """The filters, checked at the input boundary: a bad value is refused naming its field."""
    checks = Checks()
    checks.add("scope", Message(N_("Scope")), _one_of(f.scope, SCOPES))
    checks.add("status", Message(N_("Status")), _one_of(f.status, ("", *STATUSES)))
    checks.add("direction", Message(N_("Direction")), _one_of(f.direction, ("", *DIRECTIONS)))
    if f.counterpart is not None:
        checks.integer("counterpart", f.counterpart, Message(N_("Counterpart department")))
    for name, value, label in (
        ("submitted_from", f.submitted_from, N_("Submitted from")),
        ("submitted_to", f.submitted_to, N_("Submitted until")),
    ):
        if value:
            checks.day(name, value, Message(label))
    if not checks.problems:
        checks.in_order(
            "submitted_to",
            Message(N_("Submitted until")),
            _day(f.submitted_from),
            _day(f.submitted_to),
            Message(N_("Submitted from")),
        )
    checks.text("q", f.q, Message(N_("Search")), max_length=100)
    checks.done(Message(N_("The list cannot be shown")))
    if f.scope == "level" and not user.department.is_authority:
        raise Forbidden(Message("Only data-sharing authorities see the requests of their levels."))
    start = _day_start(f.submitted_from)
    end = _day_start(f.submitted_to)
    return _Checked(
        f.scope,
        f.status,
        f.direction if f.scope == "department" else "",
        f.counterpart,
        start,
        end + timedelta(days=1) if end else None,
        f.q.strip(),
    )


def _day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def _one_of(value: str, allowed: tuple[str, ...]) -> Message | None:
    return None if value in allowed else Message(N_("is not one of the choices offered"))


def _day_start(value: str) -> datetime | None:
    return datetime.combine(date.fromisoformat(value), time(0), SHANGHAI) if value else None


def _search(q: str) -> ColumnElement[bool]:
    """The request's business key, resource code or name, or a party's name contains ``q``
    (``%`` and ``_`` in ``q`` are plain characters)."""
    text = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{text}%"
    named = select(Department.id).where(
        or_(
            func.lower(Department.name).like(like, escape="\\"),
            func.lower(Department.name_en).like(like, escape="\\"),
        )
    )
    return or_(
        func.lower(_PI.business_key).like(like, escape="\\"),
        *(
            func.lower(_PI.summary[name].as_string()).like(like, escape="\\")
            for name in ("resource_code", "resource_name", "requester_name", "provider_name")
        ),
        _PI.requester_department_id.in_(named),
        _PI.provider_department_id.in_(named),
    )


def _branches(session: Session, user: User, f: _Checked) -> list[ColumnElement[bool]]:
    """One condition per index range the scope reads (each combined with one process)."""
    own = user.department_id
    if f.scope == "level":
        scans = [
            _PI.authority_department_id == a for a in authorities_under(session, user.department)
        ]
        scans += [_PI.requester_department_id == own, _PI.provider_department_id == own]
        if f.counterpart:
            other = or_(
                _PI.requester_department_id == f.counterpart,
                _PI.provider_department_id == f.counterpart,
            )
            scans = [and_(s, other) for s in scans]
        return scans
    scans = []
    if f.direction != "received":
        mine = _PI.requester_department_id == own
        scans.append(
            and_(mine, _PI.provider_department_id == f.counterpart) if f.counterpart else mine
        )
    if f.direction != "sent":
        mine = _PI.provider_department_id == own
        scans.append(
            and_(mine, _PI.requester_department_id == f.counterpart) if f.counterpart else mine
        )
    return scans


def _matching(
    scans: list[ColumnElement[bool]], f: _Checked, now: datetime, limit: int
) -> Select[tuple[int, datetime]]:
    """The ids (with ``created_at``) of up to ``limit`` newest requests of every scan: the UNION
    the count and the page read."""
    filters: list[ColumnElement[bool]] = []
    if f.status:
        filters.append(status_expression(now) == f.status)
    if f.start:
        filters.append(_PI.created_at >= f.start)
    if f.end:
        filters.append(_PI.created_at < f.end)
    if f.q:
        filters.append(_search(f.q))
    parts = []
    for scan in scans:
        for process in REQUEST_PROCESSES:
            ranged = (
                select(_PI.id, _PI.created_at)
                .where(scan, _PI.process_id == process, *filters)
                .order_by(_PI.created_at.desc(), _PI.id.desc())
                .limit(limit)
                .subquery()
            )
            parts.append(select(ranged.c.id, ranged.c.created_at))
    return union(*parts)  # type: ignore[return-value]


@dataclass(frozen=True)
class RequestRow:
    """A request as the list shows it (plain values)."""

    business_key: str
    status: str  # a key of STATUSES
    role: str  # the user's department's part: requester | provider | "" (an authority's levels)
    resource_code: str
    resource_name: str
    requester: Label  # department names
    provider: Label
    counterpart: Label | str  # the other party, for the requester or provider; "" otherwise
    submitted_at: datetime
    updated_at: datetime
    next_due: datetime | None  # the earliest deadline of its open tasks


@dataclass(frozen=True)
class DepartmentOption:
    id: int
    name: Label


@dataclass(frozen=True)
class RequestList:
    rows: list[RequestRow]
    total: int  # exact up to COUNT_CAP
    page: int
    pages: int
    more: bool  # more than COUNT_CAP requests match: narrow the filters
    oversees: bool  # the user's department is an authority (the level scope is offered)


def _rows(
    session: Session,
    user: User,
    scans: list[ColumnElement[bool]],
    f: _Checked,
    now: datetime,
    limit: int,
    offset: int,
) -> list[RequestRow]:
    ids = _matching(scans, f, now, offset + limit).subquery()
    next_due = (
        select(func.min(HumanTask.due_at))
        .where(HumanTask.instance_id == _PI.id, HumanTask.state == "open")
        .scalar_subquery()
    )
    req, prov = aliased(Department), aliased(Department)
    result = session.execute(
        select(
            _PI.business_key,
            _PI.requester_department_id,
            _PI.provider_department_id,
            req.name.label("requester_name"),
            req.name_en.label("requester_name_en"),
            prov.name.label("provider_name"),
            prov.name_en.label("provider_name_en"),
            _PI.summary,
            _PI.created_at,
            _PI.updated_at,
            status_expression(now).label("status"),
            next_due.label("next_due"),
        )
        .join(ids, ids.c.id == _PI.id)
        .outerjoin(req, req.id == _PI.requester_department_id)
        .outerjoin(prov, prov.id == _PI.provider_department_id)
        .order_by(ids.c.created_at.desc(), ids.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_row(r, user.department_id) for r in result]


def _row(r: Row[Any], own: int) -> RequestRow:
    summary = r.summary or {}
    requester = Label(r.requester_name or summary.get("requester_name", ""), r.requester_name_en)
    provider = Label(r.provider_name or summary.get("provider_name", ""), r.provider_name_en)
    role = (
        "requester"
        if r.requester_department_id == own
        else "provider"
        if r.provider_department_id == own
        else ""
    )
    return RequestRow(
        business_key=r.business_key,
        status=r.status,
        role=role,
        resource_code=summary.get("resource_code", ""),
        resource_name=summary.get("resource_name", ""),
        requester=requester,
        provider=provider,
        counterpart=provider if role == "requester" else requester if role == "provider" else "",
        submitted_at=_aware(r.created_at),
        updated_at=_aware(r.updated_at),
        next_due=_aware(r.next_due) if r.next_due else None,
    )


def _aware(at: datetime) -> datetime:
    """Stored instants are UTC (a bare aggregate may come back naive on SQLite)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def requests_of(
    session: Session,
    clock: Clock,
    user: User,
    filters: Filters,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> RequestList:
    """One page of the requests the user's department sent or received (scope ``department``),
    or of an authority's levels (scope ``level``: the requests whose same-level authority is
    the user's authority or one below it), newest first."""
    f = checked(user, filters)
    now = clock.now()
    scans = _branches(session, user, f)
    matching = _matching(scans, f, now, COUNT_CAP + 1).subquery()
    total = capped_count(session, select(matching.c.id), matching.c.id)
    pages = page_count(total, page_size)
    page = min(max(1, page), pages)
    rows = _rows(session, user, scans, f, now, page_size, (page - 1) * page_size)
    return RequestList(
        rows, min(total, COUNT_CAP), page, pages, total > COUNT_CAP, user.department.is_authority
    )


def counterpart_options(session: Session, user: User) -> list[DepartmentOption]:
    """The departments the list can be filtered by: every other department (O(departments))."""
    return [
        DepartmentOption(d.id, d.label) for d in departments(session) if d.id != user.department_id
    ]


def export_csv(
    session: Session,
    clock: Clock,
    user: User,
    filters: Filters,
    gettext: Callable[[str], str] | None = None,
) -> str:
    """The filtered list (up to EXPORT_CAP rows, newest first) as CSV for a spreadsheet, with
    the status in the reader's language and times in Beijing time."""
    f = checked(user, filters)
    rows = _rows(session, user, _branches(session, user, f), f, clock.now(), EXPORT_CAP, 0)
    out = io.StringIO()
    writer = SafeWriter(out)  # a name like =HYPERLINK(…) stays text in a spreadsheet
    writer.writerow(
        [
            Message(label).render(gettext)
            for label in (
                N_("Business key"),
                N_("Status"),
                N_("Requesting department"),
                N_("Providing department"),
                N_("Resource code"),
                N_("Resource"),
                N_("Submitted"),
                N_("Last change"),
                N_("Next deadline"),
            )
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r.business_key,
                Message(STATUSES[r.status]).render(gettext),
                r.requester.render(gettext),
                r.provider.render(gettext),
                r.resource_code,
                r.resource_name,
                _local(r.submitted_at),
                _local(r.updated_at),
                _local(r.next_due) if r.next_due else "",
            ]
        )
    return "\ufeff" + out.getvalue()


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat(timespec="minutes")


def statuses() -> dict[str, str]:
    """The statuses a request can have, with their (untranslated) labels, in filter order."""
    return dict(STATUSES)
