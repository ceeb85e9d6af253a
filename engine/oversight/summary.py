"""The yearly figures kept in step with the process facts (``figure_tally``).

Counting a year's facts row by row grows with everything stored; the figures of
:mod:`engine.oversight.reports` read this summary instead, whose size depends on departments and
figures only. Every fact a report counts adds to its rows in the transaction that records it
(:func:`tally_fact`, registered as a fact tally of the oversight handlers); :func:`rebuild`
recounts the whole summary from ``process_fact`` (``govshare reports rebuild``; migration 0045
counts the same in plain SQL). No row holds a number of working days: durations are kept as the
pair of days (Asia/Shanghai) they span and counted on the official calendar when read
(:func:`engine.stats.working_days_counts`), so that a calendar notice changing a past day changes
the medians without a recount.

Rows, per year (Asia/Shanghai) and department (the fact's department; 0: none):

* ``fact:<kind>`` — facts of a counted kind; value ``<decision>|<met>`` (met ``1``, ``0`` or
  empty without a deadline);
* ``received`` — requests submitted, under the department bound as provider of the instance;
* ``answer_dates`` — answers by their days of submission and answer (value
  ``<submitted>|<answered>``, ISO days); ``answer_dates@region`` under department 0, the same for
  the region (so that the region's figures read no department's pairs);
* ``negotiations``, ``coordinations`` — instances that opened one in the year, under their
  requester and their provider; ``errors_fixed`` — instances whose reported error the
  department corrected; the same names with ``@region`` under department 0 count each instance
  once for the region.

The coordinators' dispute board (:mod:`engine.sharing.dispute_board`) reads, per coordinating
authority (the department of the fact):

* year 0 (rows of no year) ``disputes`` — disputes escalated (an instance's first
  ``coordination_opened``), ever;
  ``disputes_open`` — disputes not decided yet, by day of escalation (value: the day). A dispute
  is an instance: its first escalation opens it, its first decision takes 1 off that day (so a
  row may hold 0); a further escalation or decision of the same instance changes nothing here;
* ``disputes_decided`` — decisions (``coordination_decided``) of the year, by days of escalation
  and decision (value ``<escalated>|<decided>``).

Uses of shared data (art. 14), counted by the use check itself (:func:`tally_use`), not from facts:

* ``use_checks``, ``use_items``, ``use_refusals`` — the department's use checks of the year, the
  info items they named, the refusals among them (value empty);
* year 0, department 0, value ``<grant id>``: the same three figures for one grant, ever,
  whichever department holds it now (the grant's page reads three primary-key rows).

:func:`rebuild` leaves these rows alone: no fact records them; the access log (``grant_use``)
holds every check they count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import SHANGHAI, Clock
from engine.db import deferred_rows
from engine.oversight.models import FigureTally
from engine.stats import parse_day
from engine.workflow.handlers import StepContext
from engine.workflow.models import ProcessFact, ProcessInstance

COUNTED = (
    "request_submitted",
    "request_answered",
    "error_reported",
    "catalog_update_required",
    "catalog_update_done",
)
OPENED, DECIDED = "coordination_opened", "coordination_decided"  # a dispute's facts
DISPUTES, DISPUTES_OPEN, DISPUTES_DECIDED = "disputes", "disputes_open", "disputes_decided"
ANSWER_DATES = "answer_dates"
# figures counting instances once: kinds that count, and the condition on a fact (kind, decision)
INSTANCES = {
    "negotiations": ("negotiation_opened",),
    "coordinations": ("coordination_opened",),
    "errors_fixed": ("verification_answered", "verification_corrected"),
}
INVOLVING = ("negotiations", "coordinations")  # under the instance's requester and provider
REGION = "@region"
KINDS = tuple(
    dict.fromkeys((*COUNTED, *(k for kinds in INSTANCES.values() for k in kinds), OPENED, DECIDED))
)  # every kind the summary reads


def _counts(figure: str, kind: str, decision: str | None) -> bool:
    if figure == "errors_fixed":
        return kind == "verification_corrected" or (
            kind == "verification_answered" and decision == "corrected"
        )
    return kind in INSTANCES[figure]


def _clause(figure: str) -> ColumnElement[bool]:  # the same as :func:`_counts`, in SQL
    if figure == "errors_fixed":
        return or_(
            ProcessFact.kind == "verification_corrected",
            and_(ProcessFact.kind == "verification_answered", ProcessFact.decision == "corrected"),
        )
    return ProcessFact.kind.in_(INSTANCES[figure])


def year_of(at: datetime) -> int:
    return at.astimezone(SHANGHAI).year


def day_of(at: datetime | None) -> str:
    """The day (Asia/Shanghai) of an instant, as the summary's values hold it: ``YYYY-MM-DD``."""
    return "" if at is None else at.astimezone(SHANGHAI).date().isoformat()


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime.combine(date(year, 1, 1), time(0), SHANGHAI), datetime.combine(
        date(year + 1, 1, 1), time(0), SHANGHAI
    )


@dataclass(frozen=True)
class Fact:
    """What the summary needs of a fact and its instance."""

    instance_id: int
    kind: str
    at: datetime
    department_id: int | None
    decision: str | None
    met: bool | None
    opened_at: datetime | None
    requester_id: int | None
    provider_id: int | None


Key = tuple[int, int, str, str]  # year, department (0: none or the region), figure, value
# first(figure, department or None for the region): no earlier fact of the instance counts for
# the figure in the fact's year (for that department)
First = Callable[[str, int | None], bool]
# the instance's dispute before this fact: its first escalation (``coordination_opened``: its
# time and department, or None) and whether a decision (``coordination_decided``) was recorded
Dispute = Callable[[], tuple[tuple[datetime, int | None] | None, bool]]


def rows(fact: Fact, first: First, dispute: Dispute) -> list[tuple[Key, int]]:
    """The summary rows one fact changes, with what it adds to each (1, or -1)."""
    if fact.kind not in KINDS:
        return []
    year = year_of(fact.at)
    dept = fact.department_id or 0
    out: list[Key] = []
    if fact.kind in COUNTED:
        met = "" if fact.met is None else str(int(fact.met))
        out.append((year, dept, f"fact:{fact.kind}", f"{fact.decision or ''}|{met}"))
    if fact.kind == "request_submitted" and fact.provider_id is not None:
        out.append((year, fact.provider_id, "received", ""))
    if fact.kind == "request_answered" and fact.opened_at is not None:
        pair = f"{day_of(fact.opened_at)}|{day_of(fact.at)}"
        out += [(year, dept, ANSWER_DATES, pair), (year, 0, ANSWER_DATES + REGION, pair)]
    for figure in INSTANCES:
        if _counts(figure, fact.kind, fact.decision):
            out += _instance_rows(figure, year, fact, first)
    changes = [(key, 1) for key in out]
    if fact.kind == OPENED:
        opened, decided = dispute()
        if opened is None:  # the instance's first escalation: a dispute
            changes.append(((0, dept, DISPUTES, ""), 1))
            if not decided:
                changes.append(((0, dept, DISPUTES_OPEN, day_of(fact.at)), 1))
    elif fact.kind == DECIDED:
        opened, decided = dispute()
        if opened is not None and not decided:  # its first decision: no longer open
            changes.append(((0, opened[1] or 0, DISPUTES_OPEN, day_of(opened[0])), -1))
        escalated = day_of(opened[0]) if opened is not None else ""
        changes.append(((year, dept, DISPUTES_DECIDED, f"{escalated}|{day_of(fact.at)}"), 1))
    return changes


def _instance_rows(figure: str, year: int, fact: Fact, first: First) -> list[Key]:
    """Rows of a figure that counts instances once (in the year, for the region and for each
    department it counts under)."""
    out: list[Key] = []
    if first(figure, None):
        out.append((year, 0, figure + REGION, ""))
        if figure in INVOLVING:  # under the instance's requester and provider
            for party in dict.fromkeys((fact.requester_id, fact.provider_id)):
                if party is not None:
                    out.append((year, party, figure, ""))
    if (
        figure not in INVOLVING
        and fact.department_id is not None
        and first(figure, fact.department_id)
    ):
        out.append((year, fact.department_id, figure, ""))
    return out


def _add(session: Session, changes: Iterable[tuple[Key, int]]) -> None:
    """Add its change to each row (created at 0 when missing), in one statement."""
    counted: dict[Key, int] = {}
    for key, delta in changes:
        counted[key] = counted.get(key, 0) + delta
    if not counted:
        return
    values = [
        {"year": y, "department_id": d, "figure": f, "value": v, "n": n}
        for (y, d, f, v), n in counted.items()
    ]
    conn = session.connection()  # plain Core: nothing for the ORM to do
    conn.execute(_upsert(conn.dialect.name), values)


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """The tally's upsert for ``dialect``, built once: one statement for all rows (executemany),
    compiled once (a multi-row VALUES clause would be compiled again at every call)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        new = upsert(FigureTally.__table__)  # type: ignore[arg-type]
        stmt = _UPSERTS[dialect] = new.on_conflict_do_update(
            index_elements=["year", "department_id", "figure", "value"],
            set_={"n": FigureTally.__table__.c.n + new.excluded.n},
        )
    return stmt


def tally_fact(ctx: StepContext, fact: ProcessFact) -> None:
    """Count a fact being recorded (a fact tally of the oversight handlers)."""
    if fact.kind not in KINDS:
        return
    instance = ctx.instance
    row = Fact(
        instance.id,
        fact.kind,
        fact.at,
        fact.department_id,
        fact.decision,
        fact.met,
        fact.opened_at,
        instance.requester_department_id,
        instance.provider_department_id,
    )
    session = ctx.session
    pending = deferred_rows(session)
    earlier = [  # recorded earlier in this command, not yet written
        (f["kind"], f["decision"], f["at"], f["department_id"])
        for f in (pending.of(ProcessFact.__table__) if pending is not None else ())  # type: ignore[arg-type]
        if f["instance_id"] == instance.id
    ] + [
        (f.kind, f.decision, f.at, f.department_id)
        for f in session.new
        if isinstance(f, ProcessFact) and f.instance_id == instance.id
    ]

    def first(figure: str, department_id: int | None) -> bool:
        start, end = year_bounds(year_of(fact.at))
        for kind, decision, at, department in earlier:
            if (
                _counts(figure, kind, decision)
                and start <= at < end
                and (department_id is None or department == department_id)
            ):
                return False
        stmt = select(ProcessFact.id).where(
            ProcessFact.instance_id == instance.id,
            _clause(figure),
            ProcessFact.at >= start,
            ProcessFact.at < end,
        )
        if department_id is not None:
            stmt = stmt.where(ProcessFact.department_id == department_id)
        with session.no_autoflush:
            return session.execute(stmt.limit(1)).first() is None

    def dispute() -> tuple[tuple[datetime, int | None] | None, bool]:
        stmt = (
            select(ProcessFact.kind, ProcessFact.at, ProcessFact.department_id)
            .where(ProcessFact.instance_id == instance.id, ProcessFact.kind.in_((OPENED, DECIDED)))
            .order_by(ProcessFact.at, ProcessFact.id)
        )  # ix_fact_instance_kind: an instance's few dispute facts
        with session.no_autoflush:
            stored = [(kind, at, department) for kind, at, department in session.execute(stmt)]
        found = stored + [  # recorded earlier in this command, in the order recorded
            (kind, at, department) for kind, _, at, department in earlier
        ]
        opened = [(at, department) for kind, at, department in found if kind == OPENED]
        return (
            min(opened, key=lambda f: f[0]) if opened else None,
            any(kind == DECIDED for kind, _, _ in found),
        )

    _add(session, rows(row, first, dispute))


USE_FIGURES = ("use_checks", "use_items", "use_refusals")


def use_changes(
    at: datetime, department_id: int, grant_id: int | None, items: int, refused: bool
) -> list[tuple[Key, int]]:
    """The rows one use check adds to: the department's of the year, and the grant's (if any)."""
    counts = dict(zip(USE_FIGURES, (1, items, int(refused)), strict=True))
    keys = [((year_of(at), department_id, f, ""), n) for f, n in counts.items() if n]
    if grant_id is not None:
        keys += [((0, 0, f, str(grant_id)), n) for f, n in counts.items() if n]
    return keys


def tally_use(
    session: Session,
    at: datetime,
    department_id: int,
    grant_id: int | None,
    items: int,
    refused: bool,
) -> None:
    """Count a use check in the transaction that logs it: one statement, whatever was counted
    before (an atomic upsert, safe under concurrent checks)."""
    _add(session, use_changes(at, department_id, grant_id, items, refused))


def grant_use_counts(session: Session, grant_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per grant: its checks, info items checked and refusals, ever (0 when never checked)."""
    out = {g: dict.fromkeys(USE_FIGURES, 0) for g in grant_ids}
    if not grant_ids:
        return out
    T = FigureTally
    for figure, value, n in session.execute(
        select(T.figure, T.value, T.n).where(
            T.year == 0,
            T.department_id == 0,
            T.figure.in_(USE_FIGURES),
            T.value.in_([str(g) for g in grant_ids]),
        )
    ):
        out[int(value)][figure] = int(n)
    return out


def rebuild(session: Session, chunk: int = 5000) -> int:
    """Recount the whole summary from ``process_fact``; returns the facts counted. The use
    figures (:data:`USE_FIGURES`), which no fact records, are kept as they are."""
    session.execute(delete(FigureTally).where(FigureTally.figure.not_in(USE_FIGURES)))
    seen: set[tuple] = set()
    escalated: dict[int, tuple[datetime, int | None]] = {}  # instance -> its first escalation
    decided: set[int] = set()  # instances with a decision counted
    counted: dict[Key, int] = {}
    n = 0
    stmt = (
        select(
            ProcessFact.instance_id,
            ProcessFact.kind,
            ProcessFact.at,
            ProcessFact.department_id,
            ProcessFact.decision,
            ProcessFact.met,
            ProcessFact.opened_at,
            ProcessInstance.requester_department_id,
            ProcessInstance.provider_department_id,
        )
        .join(ProcessInstance, ProcessInstance.id == ProcessFact.instance_id)
        .where(ProcessFact.kind.in_(KINDS))
        .order_by(ProcessFact.at, ProcessFact.id)
    )
    for r in session.execute(stmt.execution_options(yield_per=chunk)):
        fact = Fact(*r)
        year = year_of(fact.at)

        def first(
            figure: str, department_id: int | None, fact: Fact = fact, year: int = year
        ) -> bool:
            key = (figure, department_id, fact.instance_id, year)
            if key in seen:
                return False
            seen.add(key)
            return True

        def dispute(fact: Fact = fact) -> tuple[tuple[datetime, int | None] | None, bool]:
            return escalated.get(fact.instance_id), fact.instance_id in decided

        for key, delta in rows(fact, first, dispute):
            counted[key] = counted.get(key, 0) + delta
        if fact.kind == OPENED:
            escalated.setdefault(fact.instance_id, (fact.at, fact.department_id))
        elif fact.kind == DECIDED:
            decided.add(fact.instance_id)
        n += 1
    items = [
        {"year": y, "department_id": d, "figure": f, "value": v, "n": c}
        for (y, d, f, v), c in counted.items()
        if c  # a dispute escalated and decided leaves no open row
    ]
    for i in range(0, len(items), chunk):
        session.execute(insert(FigureTally), items[i : i + chunk])
    return n


# the figures the region's read sums over departments (``ix_tally_figure``: no department's own
# rows of other figures, such as its pairs of days, are read)
REGION_FIGURES = (
    *(f"fact:{kind}" for kind in COUNTED),
    *(figure + REGION for figure in INSTANCES),
    ANSWER_DATES + REGION,
    *USE_FIGURES,
)


def read(
    session: Session, year: int, department_id: int | None = None
) -> dict[tuple[str, str], int]:
    """The year's rows of one department, or the region's figures summed over departments:
    (figure, value) -> count."""
    stmt = (
        select(FigureTally.figure, FigureTally.value, func.sum(FigureTally.n))
        .where(FigureTally.year == year)
        .group_by(FigureTally.figure, FigureTally.value)
    )
    if department_id is not None:
        stmt = stmt.where(FigureTally.department_id == department_id)
    else:
        stmt = stmt.where(FigureTally.figure.in_(REGION_FIGURES))
    return {(f, v): int(n or 0) for f, v, n in session.execute(stmt)}


def recount(session: Session, clock: Clock) -> int:
    """``govshare reports rebuild``: recount the summary from the facts and audit it (the
    migration's back-fill calls :func:`rebuild` alone); returns the facts counted."""
    before = session.scalar(select(func.coalesce(func.sum(FigureTally.n), 0)))
    n = rebuild(session)
    after = session.scalar(select(func.coalesce(func.sum(FigureTally.n), 0)))
    audit.record(
        session,
        clock.now(),
        "figures_recounted",
        object_type="figure_tally",
        before={"counted": before},
        after={"counted": after, "facts": n},
    )
    return n


def open_disputes(
    session: Session, department_ids: list[int], cutoffs: dict[int, date]
) -> tuple[int, dict[int, int], date | None]:
    """The disputes the authorities ever had escalated, their open ones per age bucket (``n`` of
    ``cutoffs``: escalated on or after ``cutoffs[n]``, the smallest such ``n``; 0: earlier), and
    the day of the oldest open one: one grouped query over the rows per day of escalation."""
    T = FigureTally
    is_open = T.figure == DISPUTES_OPEN
    bucket = case(
        *((is_open & (T.value >= cutoffs[n].isoformat()), n) for n in sorted(cutoffs)), else_=0
    ).label("bucket")
    grouped = session.execute(
        select(T.figure, bucket, func.sum(T.n), func.min(T.value))
        .where(
            T.year == 0,
            T.department_id.in_(department_ids),
            T.figure.in_((DISPUTES, DISPUTES_OPEN)),
            T.n > 0,
        )
        .group_by(T.figure, bucket)
    ).all()
    ever = sum(int(n) for figure, _, n, _ in grouped if figure == DISPUTES)
    found = {int(b): int(n) for figure, b, n, _ in grouped if figure == DISPUTES_OPEN}
    days = [parse_day(v) for figure, _, _, v in grouped if figure == DISPUTES_OPEN]
    return ever, found, min((d for d in days if d), default=None)


def dispute_decisions(
    session: Session, year: int, department_ids: list[int]
) -> list[tuple[date | None, date, int]]:
    """The authorities' decisions of the year: (day escalated or None, day decided, how many)."""
    T = FigureTally
    out = []
    for value, n in session.execute(
        select(T.value, func.sum(T.n))
        .where(T.year == year, T.department_id.in_(department_ids), T.figure == DISPUTES_DECIDED)
        .group_by(T.value)
    ):
        escalated, decided = (parse_day(v) for v in value.split("|"))
        if decided is not None and n:
            out.append((escalated, decided, int(n)))
    return out
