"""Figures the system already knows (art. 17, 24): per department and year, or for the region.

Everything is counted from the process facts (``process_fact``, see engine.workflow.facts) that
happened in the year — requests submitted (sent by the requester, received by the instance's
provider), answers with their deadlines and days, refusals and their reasons, negotiations,
coordinations, data errors reported and fixed, catalog updates — and the catalog's own count of
published entries; never from workflow state, process ids, BPMN element ids, task names or form
fields. A fact counts in the year it happened (an answer given in January counts in January's
year, whenever the request came).
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, time

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.calendar import WorkingCalendar, load_calendar
from engine.catalog.reading import published_counts
from engine.clock import SHANGHAI
from engine.inputs import check_year
from engine.workflow.facts import facts_between
from engine.workflow.models import ProcessFact, ProcessInstance


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime.combine(date(year, 1, 1), time(0), SHANGHAI), datetime.combine(
        date(year + 1, 1, 1), time(0), SHANGHAI
    )


def _received(session: Session, start: datetime, end: datetime, provider_id: int) -> int:
    """Requests submitted in [start, end) to the provider bound in their instance."""
    stmt = (
        select(func.count())
        .select_from(ProcessFact)
        .join(ProcessInstance, ProcessInstance.id == ProcessFact.instance_id)
        .where(
            ProcessFact.kind == "request_submitted",
            ProcessFact.at >= start,
            ProcessFact.at < end,
            ProcessInstance.provider_department_id == provider_id,
        )
    )
    return session.scalar(stmt) or 0


def _involving(
    session: Session, kind: str, start: datetime, end: datetime, department_id: int | None
) -> int:
    """Instances with a fact of ``kind`` in [start, end) whose requester or provider is the
    department (any instance for the region)."""
    stmt = select(func.count(func.distinct(ProcessFact.instance_id))).where(
        ProcessFact.kind == kind, ProcessFact.at >= start, ProcessFact.at < end
    )
    if department_id is not None:
        stmt = stmt.join(ProcessInstance, ProcessInstance.id == ProcessFact.instance_id).where(
            or_(
                ProcessInstance.requester_department_id == department_id,
                ProcessInstance.provider_department_id == department_id,
            )
        )
    return session.scalar(stmt) or 0


def _working_days(calendar: WorkingCalendar, fact: ProcessFact) -> int | None:
    if fact.opened_at is None:
        return None
    return calendar.working_days_between(
        fact.opened_at.astimezone(SHANGHAI).date(), fact.at.astimezone(SHANGHAI).date()
    )


def _answers(session: Session, start: datetime, end: datetime, department_id: int | None) -> dict:
    """The providers' answers of the year: on time, days to answer, refusals and reasons."""
    answers = facts_between(session, "request_answered", start, end, department_id)
    days: list[int] = []
    if answers:
        calendar = load_calendar(session)
        days = [d for d in (_working_days(calendar, f) for f in answers) if d is not None]
    refusals = [f for f in answers if f.decision == "refused"]
    reasons = Counter(f.reasons or "" for f in refusals)
    return {
        "answered": len(answers),
        "answered_on_time": sum(1 for f in answers if f.met is not False),
        "median_days_to_answer": statistics.median(days) if days else None,
        "refusals": len(refusals),
        "refusal_reasons": [{"reason": r, "count": n} for r, n in reasons.most_common()],
    }


def figures(session: Session, year: int, department_id: int | None = None) -> dict:
    """The year's figures for one department (as requester and as provider), or for everyone."""
    check_year(year)
    start, end = _year_bounds(year)
    dept = department_id

    def count(kind: str, decision: str | None = None) -> int:
        rows = facts_between(session, kind, start, end, dept)
        return sum(1 for f in rows if decision is None or f.decision == decision)

    sent = count("request_submitted")
    updated = facts_between(session, "catalog_update_done", start, end, dept)
    entries, open_entries = published_counts(session, dept)
    return {
        "year": year,
        "requests_sent": sent,
        "requests_received": sent if dept is None else _received(session, start, end, dept),
        **_answers(session, start, end, dept),
        "negotiations": _involving(session, "negotiation_opened", start, end, dept),
        "coordinations": _involving(session, "coordination_opened", start, end, dept),
        "errors_reported": count("error_reported"),
        "errors_fixed": _errors_fixed(session, start, end, dept),
        "catalog_updates": count("catalog_update_required"),
        "catalog_updates_on_time": sum(1 for f in updated if f.met is not False),
        "catalog_entries": entries,
        "open_entries": open_entries,
    }


def _errors_fixed(session: Session, start: datetime, end: datetime, dept: int | None) -> int:
    """Reported errors the provider corrected: answered "corrected", or corrected after the
    authority ruled the record wrong; a case counts once."""
    rows = facts_between(
        session, ("verification_answered", "verification_corrected"), start, end, dept
    )
    return len(
        {
            f.instance_id
            for f in rows
            if f.kind == "verification_corrected" or f.decision == "corrected"
        }
    )


PUBLIC_FIGURES = (
    "requests_received",
    "answered",
    "answered_on_time",
    "median_days_to_answer",
    "negotiations",
    "coordinations",
    "errors_reported",
    "errors_fixed",
    "catalog_entries",
    "open_entries",
)


def public_figures(session: Session, year: int) -> dict:
    """The region's figures that the annual report makes public (art. 24): no department detail."""
    f = figures(session, year)
    return {k: f[k] for k in ("year", *PUBLIC_FIGURES)}
