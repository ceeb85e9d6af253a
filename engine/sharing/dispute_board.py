"""The coordinators' board of disputes (art. 4, 11; issue 12, item 8): the disputes coordinated by
the user's authority and by the authorities of the levels below it (never above), each marked
with the level and division of the authority that coordinates it; filtered, searched and paged.

A dispute is a request whose negotiation failed, so that an authority took it over: the
instance's first fact ``coordination_opened`` (its ``department_id`` is that authority) opens it
and its first ``coordination_decided`` closes it.

Cost, whatever the number of disputes stored (issue 15): the counts come from the summary kept
in step with the facts (``figure_tally``, :mod:`engine.oversight.summary`): the open disputes per
authority and day of escalation, bucketed by age in one grouped query whose cut-off days are
counted on the official calendar when read (with the number of disputes ever escalated, and the
oldest open day, where the oldest-first page starts instead of walking every decided dispute
before it); the decisions of the year per pair of days (escalated, decided), whose median working
days are counted on the calendar when read. A page is one query over ``process_fact``
(``ix_fact_kind_at`` / ``ix_fact_department``; whether a dispute is decided and when it was
escalated by ``ix_fact_instance_kind``), ordered by the time of escalation and limited to the
page. A search (``q``) cannot be summarised: its disputes are counted and bucketed over the newest
:data:`~engine.paging.COUNT_CAP` + 1 that match. Lists say "1000+" above the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from engine import paging
from engine.calendar import WorkingCalendar, load_calendar
from engine.clock import SHANGHAI, Clock
from engine.directory import authorities_under, department_labels
from engine.directory.models import Department, Division, User
from engine.errors import Forbidden
from engine.i18n import N_, Label, Message
from engine.inputs import Checks
from engine.oversight import summary
from engine.paging import capped_count, page_count
from engine.stats import weighted_median, working_days_counts
from engine.workflow.models import ProcessFact, ProcessInstance

PAGE_SIZE = 20
STATES = ("open", "decided", "all")
LEVELS = ("region", "city", "county")
# age buckets of open disputes, in working days since escalation: (label, up to N days)
BUCKETS = (("0-5", 5), ("6-10", 10), ("11-20", 20), (">20", None))

_F = ProcessFact
_PI = ProcessInstance
OPENED, DECIDED = summary.OPENED, summary.DECIDED


@dataclass(frozen=True)
class Filters:
    """What the board is narrowed to, as the person entered it."""

    state: str = "open"  # open | decided | all
    level: str = ""  # region | city | county | "" (every level in view)
    authority: int | None = None  # one coordinating authority (department id)
    q: str = ""  # business key, resource code or name, department name (part of)


@dataclass(frozen=True)
class DisputeRow:
    business_key: str
    resource_code: str
    resource_name: str
    requester: Label | str  # in both languages (the directory's current names)
    provider: Label | str
    authority: str  # the coordinating authority's name, in Chinese and in English
    authority_en: str
    division: str  # its division, in Chinese and in English
    division_en: str
    level: str  # region | city | county
    own: bool  # coordinated by the user's own authority
    escalated: datetime
    decided: datetime | None
    decision: str | None  # the outcome (summary ``decision``) once decided
    age: int  # working days from the escalation to the decision, or to today


@dataclass(frozen=True)
class AuthorityOption:
    id: int
    name: str
    name_en: str
    level: str


@dataclass(frozen=True)
class Board:
    authority: str  # the user's authority, in Chinese and in English
    authority_en: str
    level: str  # its level
    rows: list[DisputeRow]
    total: int  # disputes matching the filters, exact up to COUNT_CAP
    more: bool  # more than COUNT_CAP match
    page: int
    pages: int
    # the counts (all filters but the state), shown through the ``capped`` filter ("1000+"):
    # exact from the summary; with a search, each stops past COUNT_CAP
    open_total: int  # open disputes in view
    by_age: dict[str, int]  # open disputes per age bucket
    decided_this_year: int
    median_days_to_decide: Any  # working days, or None
    authorities: list[AuthorityOption]  # the authorities in view, for the filter
    below: bool  # levels below the user's are in view


def _in_view(session: Session, user: User) -> list[int]:
    """The authorities whose disputes the user sees: an authority's own and those of the levels
    below it (``authorities_under``); the region government's general office (which coordinates
    where the region's authority is a party) its own."""
    if not user.department.coordinates:
        raise Forbidden(Message("Only data-sharing authorities coordinate disputes."))
    return authorities_under(session, user.department) or [user.department_id]


def _checked(f: Filters) -> None:
    checks = Checks()
    checks.add("state", Message(N_("State")), _one_of(f.state, STATES))
    checks.add("level", Message(N_("Level")), _one_of(f.level, ("", *LEVELS)))
    if f.authority is not None:
        checks.integer("authority", f.authority, Message(N_("Coordinating authority")))
    checks.text("q", f.q, Message(N_("Search")), max_length=100)
    checks.done(Message(N_("The disputes cannot be shown")))


def _one_of(value: str, allowed: tuple[str, ...]) -> Message | None:
    return None if value in allowed else Message(N_("is not one of the choices offered"))


def _first_escalation() -> ColumnElement[bool]:
    """The escalation is its instance's first (a dispute is an instance, however often a
    process escalates it)."""
    earlier = aliased(ProcessFact)
    return ~exists().where(
        earlier.instance_id == _F.instance_id,
        earlier.kind == OPENED,
        or_(earlier.at < _F.at, (earlier.at == _F.at) & (earlier.id < _F.id)),
    )


def _decided() -> ColumnElement[bool]:
    """The escalated dispute has a decision (a ``coordination_decided`` fact)."""
    decision = aliased(ProcessFact)
    return exists().where(decision.instance_id == _F.instance_id, decision.kind == DECIDED)


def _search(q: str) -> ColumnElement[bool]:
    text = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{text}%"
    return or_(
        func.lower(_PI.business_key).like(like, escape="\\"),
        *(
            func.lower(_PI.summary[name].as_string()).like(like, escape="\\")
            for name in ("resource_code", "resource_name", "requester_name", "provider_name")
        ),
    )


def _disputes(authorities: list[int], state: str, q: str, *columns: Any) -> Select[Any]:
    """``columns`` (default: id and time) of the escalation facts of the authorities' disputes in
    ``state``: one index range of ``process_fact`` (``ix_fact_kind_at``, or
    ``ix_fact_department`` for one authority)."""
    stmt = select(*(columns or (_F.id, _F.at))).select_from(_F)
    if q:
        stmt = stmt.join(_PI, _PI.id == _F.instance_id)
    stmt = stmt.where(
        _F.kind == OPENED,
        _F.department_id == authorities[0]
        if len(authorities) == 1
        else _F.department_id.in_(authorities),
        _first_escalation(),
    )
    if state == "open":
        stmt = stmt.where(~_decided())
    elif state == "decided":
        stmt = stmt.where(_decided())
    if q:
        stmt = stmt.where(_search(q))
    return stmt


def _order(newest_first: bool) -> tuple[Any, ...]:
    return (_F.at.desc(), _F.id.desc()) if newest_first else (_F.at, _F.id)


def _page(
    session: Session,
    authorities: list[int],
    f: Filters,
    page: int,
    size: int,
    total: int | None = None,
    since: datetime | None = None,
) -> tuple[list[Any], int, int, int]:
    """(rows of the page, matching disputes, the page, the pages); ``total`` when the caller
    counted already (else counted up to COUNT_CAP + 1) and ``since`` when it knows no match is
    older (open disputes: the summary knows the oldest day), so that the oldest open ones are
    found without walking the decided disputes before them."""
    cap = paging.COUNT_CAP
    if authorities and total is None:
        total = capped_count(session, _disputes(authorities, f.state, f.q), _F.id, cap)
    if not authorities or not total:
        return [], 0, 1, 1
    pages = page_count(total, size, cap)
    page = min(max(1, page), pages)
    decided = aliased(ProcessFact)
    decided_at = (
        select(func.min(decided.at))
        .where(decided.instance_id == _F.instance_id, decided.kind == DECIDED)
        .scalar_subquery()
    )
    newest_first = f.state != "open"  # open ones: the oldest (most urgent) first
    ids = (  # the page's facts first (an index range, limited), then what they show
        _disputes(authorities, f.state, f.q)
        .where(*([] if since is None else [_F.at >= since]))
        .order_by(*_order(newest_first))
        .limit(size)
        .offset((page - 1) * size)
        .subquery()
    )
    rows = session.execute(
        select(
            _PI.business_key,
            _PI.summary,
            _PI.bindings,
            _F.at.label("escalated"),
            _F.department_id,
            decided_at.label("decided"),
            Department.name.label("authority"),
            Department.name_en.label("authority_en"),
            Division.name.label("division"),
            Division.name_en.label("division_en"),
            Division.level.label("level"),
        )
        .select_from(ids)
        .join(_F, _F.id == ids.c.id)
        .join(_PI, _PI.id == _F.instance_id)
        .join(Department, Department.id == _F.department_id)
        .join(Division, Division.code == Department.division_code)
        .order_by(*((ids.c.at.desc(), ids.c.id.desc()) if newest_first else (ids.c.at, ids.c.id)))
    ).all()
    return list(rows), total, page, pages


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _local_day(at: datetime) -> date:
    return _aware(at).astimezone(SHANGHAI).date()


def _cutoffs(calendar: WorkingCalendar, today: date) -> dict[int, date]:
    """For each bucket limit N, the earliest escalation day whose age today is at most N working
    days (ages only grow going back, so every later day's age is at most N too)."""
    limits = [n for _, n in BUCKETS if n is not None]
    found: dict[int, date] = {}
    day, age = today, 0
    while len(found) < len(limits):
        earlier = day - timedelta(days=1)
        age_earlier = age + calendar.is_working_day(day)  # working days in (earlier, today]
        for n in limits:
            if n not in found and age_earlier > n:
                found[n] = day
        day, age = earlier, age_earlier
    return found


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def _counts(
    session: Session, authorities: list[int], calendar: WorkingCalendar, today: date
) -> tuple[int, int, dict[str, int], datetime | None]:
    """(disputes ever escalated, open ones, open ones per age bucket, the start of the oldest
    open one's day) of the authorities, from the summary: one grouped query over their rows per
    day of escalation, whatever the number of disputes."""
    if not authorities:
        return 0, 0, {label: 0 for label, _ in BUCKETS}, None
    cut = _cutoffs(calendar, today)
    ever, found, oldest = summary.open_disputes(session, authorities, cut)
    open_total = sum(found.values())
    counts, below = {}, 0
    for label, n in BUCKETS:
        upto = sum(c for b, c in found.items() if b and n is not None and b <= n)
        upto = upto if n is not None else open_total
        counts[label] = upto - below
        below = upto
    return ever, open_total, counts, None if oldest is None else _start(oldest)


def _searched(
    session: Session, authorities: list[int], f: Filters, calendar: WorkingCalendar, today: date
) -> tuple[int, dict[str, int]]:
    """Open disputes matching a search, up to COUNT_CAP + 1, per bucket: one grouped query over
    the newest COUNT_CAP + 1 of them (as many as before per bucket, each count being capped: a
    bucket holds the newest first)."""
    if not authorities:
        return 0, {label: 0 for label, _ in BUCKETS}
    cap = paging.COUNT_CAP
    cut = _cutoffs(calendar, today)
    limits = sorted(cut)
    newest = (
        _disputes(authorities, "open", f.q, _F.at).order_by(*_order(True)).limit(cap + 1).subquery()
    )
    bucket = case(*((newest.c.at >= _start(cut[n]), n) for n in limits), else_=0)
    inner = select(bucket.label("bucket")).select_from(newest).subquery()
    grouped = session.execute(select(inner.c.bucket, func.count()).group_by(inner.c.bucket)).all()
    found = {n: count for n, count in grouped}
    total = sum(found.values())
    within = {n: sum(found.get(m, 0) for m in limits if m <= n) for n in limits}
    counts, below = {}, 0
    for label, n in BUCKETS:
        upto = within[n] if n is not None else total
        counts[label] = max(0, min(upto, cap) - below)
        below = min(upto, cap)
    return total, counts


def _decided_this_year(
    session: Session, authorities: list[int], calendar: WorkingCalendar, today: date
) -> tuple[int, Any]:
    """Disputes decided this year and the median working days from the escalation to the
    decision, from the summary's decisions of the year per pair of days (escalated, decided),
    counted on the calendar as it is now."""
    if not authorities:
        return 0, None
    pairs = summary.dispute_decisions(session, today.year, authorities)
    median = weighted_median(
        working_days_counts(calendar, [(a, b, n) for a, b, n in pairs if a is not None])
    )
    return sum(n for _, _, n in pairs), median


def board_for(
    session: Session,
    clock: Clock,
    user: User,
    filters: Filters | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Board:
    """One page of the disputes the user's authority oversees (its own level and the levels
    below), with the board's counts."""
    f = filters or Filters()
    _checked(f)
    in_view = _in_view(session, user)
    options = session.execute(
        select(Department.id, Department.name, Department.name_en, Division.level)
        .join(Division, Division.code == Department.division_code)
        .where(Department.id.in_(in_view))
        .order_by(Department.division_code)
    ).all()
    chosen = [
        o.id
        for o in options
        if (not f.level or o.level == f.level) and (f.authority is None or o.id == f.authority)
    ]
    calendar = load_calendar(session)
    today = clock.now().astimezone(SHANGHAI).date()
    ever, open_total, by_age, oldest_open = _counts(session, chosen, calendar, today)
    if f.q:  # a search: counted over the newest matches
        open_total, by_age = _searched(session, chosen, f, calendar, today)
        total = open_total if f.state == "open" else None
    else:
        total = {"open": open_total, "decided": ever - open_total, "all": ever}[f.state]
    since = oldest_open if f.state == "open" else None  # no open dispute is older
    rows, total, page, pages = _page(session, chosen, f, page, page_size, total, since)
    labels = department_labels(
        session, {d for r in rows for d in (r.bindings or {}).values() if isinstance(d, int)}
    )
    decided_count, median = _decided_this_year(session, chosen, calendar, today)
    return Board(
        authority=user.department.name,
        authority_en=user.department.name_en,
        level=user.department.division.level,
        rows=[_row(r, user.department_id, calendar, today, labels) for r in rows],
        total=min(total, paging.COUNT_CAP),
        more=total > paging.COUNT_CAP,
        page=page,
        pages=pages,
        open_total=open_total,
        by_age=by_age,
        decided_this_year=decided_count,
        median_days_to_decide=median,
        authorities=[AuthorityOption(o.id, o.name, o.name_en, o.level) for o in options],
        below=len(options) > 1,
    )


def _row(
    r: Any, own: int, calendar: WorkingCalendar, today: date, labels: dict[int, Label]
) -> DisputeRow:
    s = r.summary or {}
    bound = r.bindings or {}
    escalated = _aware(r.escalated)
    decided = _aware(r.decided) if r.decided else None
    until = _local_day(decided) if decided else today
    return DisputeRow(
        business_key=r.business_key,
        resource_code=s.get("resource_code", ""),
        resource_name=s.get("resource_name", ""),
        requester=labels.get(bound.get("requester", 0)) or s.get("requester_name", ""),
        provider=labels.get(bound.get("provider", 0)) or s.get("provider_name", ""),
        authority=r.authority,
        authority_en=r.authority_en,
        division=r.division,
        division_en=r.division_en,
        level=r.level,
        own=r.department_id == own,
        escalated=escalated,
        decided=decided,
        decision=s.get("decision") if decided else None,
        age=calendar.working_days_between(_local_day(escalated), until),
    )
