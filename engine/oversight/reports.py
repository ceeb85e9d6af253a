"""Figures the system already knows (art. 17, 24): per department and year, or for the region.

Requests sent and received are counted from the instances started in the year (their bound
requester and provider); everything else from the domain's own records of the year, never from
workflow state, BPMN element ids, task names or form fields: answers, their deadlines and days,
refusals and their reasons, negotiations, coordinations and catalog updates from the process
facts (``process_fact``, see engine.workflow.facts) that happened in the year; data errors from
the verification register; catalog entries from the catalog. A fact counts in the year it
happened (an answer given in January counts in January's year, whenever the request came).
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, time

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from engine.calendar import WorkingCalendar, load_calendar
from engine.catalog.models import Resource
from engine.clock import SHANGHAI
from engine.quality.models import Verification
from engine.workflow.facts import facts_between
from engine.workflow.models import ProcessFact, ProcessInstance

REQUEST_PROCESSES = ("share_request", "negotiation")  # the processes a request starts


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime.combine(date(year, 1, 1), time(0), SHANGHAI), datetime.combine(
        date(year + 1, 1, 1), time(0), SHANGHAI
    )


def _requests(session: Session, start: datetime, end: datetime, party: ColumnElement | None) -> int:
    """Requests started in [start, end), optionally where ``party`` (a condition) holds."""
    stmt = (
        select(func.count())
        .select_from(ProcessInstance)
        .where(
            ProcessInstance.process_id.in_(REQUEST_PROCESSES),
            ProcessInstance.created_at >= start,
            ProcessInstance.created_at < end,
        )
    )
    return session.scalar(stmt if party is None else stmt.where(party)) or 0


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
    start, end = _year_bounds(year)
    by = department_id is not None
    v_stmt = select(Verification).where(
        Verification.reported_at >= start, Verification.reported_at < end
    )
    if by:
        v_stmt = v_stmt.where(Verification.provider_id == department_id)
    verifications = session.scalars(v_stmt).all()
    updates = facts_between(session, "catalog_update_required", start, end, department_id)
    updated = facts_between(session, "catalog_update_done", start, end, department_id)
    published = session.scalars(
        select(Resource).where(
            Resource.status == "published",
            *([Resource.provider_id == department_id] if by else []),
        )
    ).all()
    return {
        "year": year,
        "requests_sent": _requests(
            session,
            start,
            end,
            ProcessInstance.requester_department_id == department_id if by else None,
        ),
        "requests_received": _requests(
            session,
            start,
            end,
            ProcessInstance.provider_department_id == department_id if by else None,
        ),
        **_answers(session, start, end, department_id),
        "negotiations": _involving(session, "negotiation_opened", start, end, department_id),
        "coordinations": _involving(session, "coordination_opened", start, end, department_id),
        "errors_reported": len(verifications),
        "errors_fixed": sum(1 for v in verifications if v.outcome == "corrected"),
        "catalog_updates": len(updates),
        "catalog_updates_on_time": sum(1 for f in updated if f.met is not False),
        "catalog_entries": len(published),
        "open_entries": sum(1 for r in published if r.open_to_public),
    }


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
