"""Figures the system already knows (art. 17, 24): per department and year, or for the region.

Counted from the query tables (instances, tasks, grants, breaches, verifications, dossier), never
from workflow state: requests sent and received, answered on time, median working days to answer,
refusals and their reasons, negotiations and coordinations, data errors reported and fixed,
catalog updates on time.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import load_calendar
from engine.catalog.models import Resource
from engine.clock import SHANGHAI
from engine.quality.models import Verification
from engine.workflow.models import HumanTask, ProcessInstance


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime.combine(date(year, 1, 1), time(0), SHANGHAI), datetime.combine(
        date(year + 1, 1, 1), time(0), SHANGHAI
    )


def figures(session: Session, year: int, department_id: int | None = None) -> dict:
    """The year's figures for one department (as requester and as provider), or for everyone."""
    start, end = _year_bounds(year)
    calendar = load_calendar(session)
    requests = session.scalars(
        select(ProcessInstance).where(
            ProcessInstance.process_id.in_(("share_request", "negotiation")),
            ProcessInstance.created_at >= start,
            ProcessInstance.created_at < end,
        )
    ).all()
    sent = [
        i for i in requests if department_id is None or i.requester_department_id == department_id
    ]
    received = [
        i for i in requests if department_id is None or i.provider_department_id == department_id
    ]
    received_ids = {i.id for i in received}
    reviews = session.scalars(
        select(HumanTask).where(
            HumanTask.task_name == "provider_review",
            HumanTask.instance_id.in_(received_ids) if received_ids else False,
        )
    ).all()
    answered = [t for t in reviews if t.state == "completed"]
    on_time = [t for t in answered if t.due_at is None or t.completed_at <= t.due_at]
    days = [
        calendar.working_days_between(
            t.created_at.astimezone(SHANGHAI).date(), t.completed_at.astimezone(SHANGHAI).date()
        )
        for t in answered
    ]
    refusals = [t for t in answered if (t.data or {}).get("review_decision") == "refuse"]
    reasons = Counter((t.data or {}).get("review_reason", "") for t in refusals)
    involved_ids = list({i.id for i in sent} | received_ids)
    negotiations = session.scalars(
        select(HumanTask.instance_id).where(
            HumanTask.task_name == "requester_position",
            HumanTask.instance_id.in_(involved_ids) if involved_ids else False,
        )
    ).all()
    coordinations = session.scalars(
        select(HumanTask.instance_id).where(
            HumanTask.task_name == "coordinate",
            HumanTask.instance_id.in_(involved_ids) if involved_ids else False,
        )
    ).all()
    v_stmt = select(Verification).where(
        Verification.reported_at >= start, Verification.reported_at < end
    )
    if department_id is not None:
        v_stmt = v_stmt.where(Verification.provider_id == department_id)
    verifications = session.scalars(v_stmt).all()
    u_stmt = (
        select(HumanTask)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(
            HumanTask.task_name == "update_catalog",
            ProcessInstance.created_at >= start,
            ProcessInstance.created_at < end,
        )
    )
    if department_id is not None:
        u_stmt = u_stmt.where(HumanTask.department_id == department_id)
    updates = session.scalars(u_stmt).all()
    updates_done = [t for t in updates if t.state == "completed"]
    published = session.scalars(
        select(Resource).where(
            Resource.status == "published",
            *([Resource.provider_id == department_id] if department_id is not None else []),
        )
    ).all()
    return {
        "year": year,
        "requests_sent": len(sent),
        "requests_received": len(received),
        "answered": len(answered),
        "answered_on_time": len(on_time),
        "median_days_to_answer": statistics.median(days) if days else None,
        "refusals": len(refusals),
        "refusal_reasons": [{"reason": r, "count": n} for r, n in reasons.most_common()],
        "negotiations": len(set(negotiations)),
        "coordinations": len(set(coordinations)),
        "errors_reported": len(verifications),
        "errors_fixed": sum(1 for v in verifications if v.outcome == "corrected"),
        "catalog_updates": len(updates),
        "catalog_updates_on_time": sum(
            1 for t in updates_done if t.due_at is None or t.completed_at <= t.due_at
        ),
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
