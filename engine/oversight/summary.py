"""The yearly figures kept in step with the process facts (``figure_tally``).

Counting a year's facts row by row grows with everything stored; the figures of
:mod:`engine.oversight.reports` read this summary instead, whose size depends on departments and
figures only. Every fact a report counts adds to its rows in the transaction that records it
(:func:`tally_fact`, registered as a fact tally of the oversight handlers); :func:`rebuild`
recounts the whole summary from ``process_fact`` (``govshare reports rebuild``, migration 0042),
e.g. after the working calendar of a past year changed (days to answer count working days).

Rows, per year (Asia/Shanghai) and department (the fact's department; 0: none):

* ``fact:<kind>`` — facts of a counted kind; value ``<decision>|<met>`` (met ``1``, ``0`` or
  empty without a deadline);
* ``received`` — requests submitted, under the department bound as provider of the instance;
* ``answer_days`` — answers by working days from submission to answer (value: the days);
* ``negotiations``, ``coordinations`` — instances that opened one in the year, under their
  requester and their provider; ``errors_fixed`` — instances whose reported error the
  department corrected; the same names with ``@region`` under department 0 count each instance
  once for the region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.calendar import WorkingCalendar, load_calendar
from engine.clock import SHANGHAI, Clock
from engine.db import deferred_rows
from engine.oversight.models import FigureTally
from engine.workflow.handlers import StepContext
from engine.workflow.models import ProcessFact, ProcessInstance

COUNTED = (
    "request_submitted",
    "request_answered",
    "error_reported",
    "catalog_update_required",
    "catalog_update_done",
)
# figures counting instances once: kinds that count, and the condition on a fact (kind, decision)
INSTANCES = {
    "negotiations": ("negotiation_opened",),
    "coordinations": ("coordination_opened",),
    "errors_fixed": ("verification_answered", "verification_corrected"),
}
INVOLVING = ("negotiations", "coordinations")  # under the instance's requester and provider
REGION = "@region"
KINDS = tuple(
    dict.fromkeys((*COUNTED, *(k for kinds in INSTANCES.values() for k in kinds)))
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


def rows(fact: Fact, calendar: Callable[[], WorkingCalendar], first: First) -> list[Key]:
    """The summary rows one fact adds 1 to."""
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
        days = calendar().working_days_between(
            fact.opened_at.astimezone(SHANGHAI).date(), fact.at.astimezone(SHANGHAI).date()
        )
        out.append((year, dept, "answer_days", str(days)))
    for figure in INSTANCES:
        if _counts(figure, fact.kind, fact.decision):
            out += _instance_rows(figure, year, fact, first)
    return out


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


def _add(session: Session, keys: Iterable[Key]) -> None:
    """Add 1 to each row (created at 0 when missing), in one statement."""
    counted: dict[Key, int] = {}
    for key in keys:
        counted[key] = counted.get(key, 0) + 1
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

    _add(session, rows(row, ctx.calendar, first))


def rebuild(session: Session, chunk: int = 5000) -> int:
    """Recount the whole summary from ``process_fact``; returns the facts counted."""
    session.execute(delete(FigureTally))

    def calendar() -> WorkingCalendar:  # cached per process, checked once per transaction
        return load_calendar(session)

    seen: set[tuple] = set()
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

        for key in rows(fact, calendar, first):
            counted[key] = counted.get(key, 0) + 1
        n += 1
    items = [
        {"year": y, "department_id": d, "figure": f, "value": v, "n": c}
        for (y, d, f, v), c in counted.items()
    ]
    for i in range(0, len(items), chunk):
        session.execute(insert(FigureTally), items[i : i + chunk])
    return n


def read(
    session: Session, year: int, department_id: int | None = None
) -> dict[tuple[str, str], int]:
    """The year's rows, summed over departments for the region: (figure, value) -> count."""
    stmt = (
        select(FigureTally.figure, FigureTally.value, func.sum(FigureTally.n))
        .where(FigureTally.year == year)
        .group_by(FigureTally.figure, FigureTally.value)
    )
    if department_id is not None:
        stmt = stmt.where(FigureTally.department_id == department_id)
    return {(f, v): int(n or 0) for f, v, n in session.execute(stmt)}


def weighted_median(counts: dict[int, int]) -> float | int | None:
    """The median of values given with their counts (as :func:`statistics.median` of the list)."""
    total = sum(counts.values())
    if not total:
        return None
    ordered = sorted(counts.items())

    def nth(i: int) -> int:  # the i-th value, from 0
        for value, n in ordered:
            if i < n:
                return value
            i -= n
        raise IndexError(i)

    if total % 2:
        return nth(total // 2)
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


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
