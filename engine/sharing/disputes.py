"""Disputes (art. 4, 11): the dossier a coordinator decides on, and the coordinators' dashboard.

A dispute is a share request (or a direct negotiation) that reached the ``coordinate`` task of the
same-level data-sharing authority. Its dossier gathers the request, the resource and its share type,
the legal bases cited, the provider's reasons, both parties' negotiation positions, every deadline
met or missed, the coordinator's information requests, the answers, meetings and the decision, and
earlier cases on the same resource or between the same departments.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.calendar import load_calendar
from engine.catalog.models import Resource
from engine.clock import SHANGHAI, Clock, parse_instant
from engine.directory.models import Department
from engine.sharing.models import DossierEntry
from engine.workflow.handlers import StepContext
from engine.workflow.models import HumanTask, ProcessInstance

COORDINATION_TASKS = ("coordinate",)


def file_dossier(
    ctx: StepContext,
    kind: str,
    party: str = "",
    text: str = "",
    due: str | None = None,
    **details: Any,
) -> None:
    """Action ``file_dossier``: an information request or answer, a meeting, the decision."""
    ctx.session.add(
        DossierEntry(
            instance_id=ctx.instance.id,
            kind=kind,
            party=party,
            text=text or "",
            details=details,
            due_at=parse_instant(due) if due else None,
            at=ctx.clock.now(),
            actor_id=ctx.actor_id,
        )
    )


@dataclass
class Step:
    title: str
    department: str
    state: str
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    data: dict
    met: bool | None  # None: no deadline or still open and not yet due


def dossier(session: Session, instance: ProcessInstance, clock: Clock) -> dict:
    """Everything about one dispute, from the query tables only."""
    now = clock.now()
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
    ).all()
    steps = []
    for t in tasks:
        if t.due_at is None:
            met = None
        elif t.completed_at is not None:
            met = t.completed_at <= t.due_at
        else:
            met = False if now >= t.due_at else None
        steps.append(
            Step(
                t.title,
                t.department.name,
                t.state,
                t.due_at,
                t.completed_at,
                t.completed_by.display_name if t.completed_by else None,
                t.data or {},
                met,
            )
        )
    by_task = {t.task_name: (t.data or {}) for t in tasks if t.state == "completed"}
    summary = instance.summary or {}
    resource = session.scalar(select(Resource).where(Resource.code == summary.get("resource_code")))
    entries = session.scalars(
        select(DossierEntry)
        .where(DossierEntry.instance_id == instance.id)
        .order_by(DossierEntry.id)
    ).all()
    earlier = session.scalars(
        select(ProcessInstance)
        .where(
            ProcessInstance.id != instance.id,
            or_(
                ProcessInstance.summary["resource_code"].as_string()
                == summary.get("resource_code", ""),
                and_(
                    ProcessInstance.requester_department_id == instance.requester_department_id,
                    ProcessInstance.provider_department_id == instance.provider_department_id,
                ),
            ),
        )
        .order_by(ProcessInstance.created_at.desc())
        .limit(20)
    ).all()
    return {
        "instance": instance,
        "summary": summary,
        "resource": resource,
        "requester_basis": summary.get("legal_basis", ""),
        "provider_reasons": by_task.get("provider_review", {}).get("review_reason", ""),
        "requester_position": by_task.get("requester_position", {}).get("requester_position", ""),
        "provider_position": by_task.get("provider_position", {}).get("provider_position", ""),
        "steps": steps,
        "entries": entries,
        "earlier": earlier,
    }


def _escalations(session: Session, authority_id: int):
    """(instance, first coordinate task created, decision time or None) for an authority."""
    first = (
        select(HumanTask.instance_id, func.min(HumanTask.created_at).label("escalated"))
        .where(HumanTask.task_name.in_(COORDINATION_TASKS), HumanTask.department_id == authority_id)
        .group_by(HumanTask.instance_id)
        .subquery()
    )
    decided = (
        select(DossierEntry.instance_id, func.min(DossierEntry.at).label("decided"))
        .where(DossierEntry.kind == "decision")
        .group_by(DossierEntry.instance_id)
        .subquery()
    )
    return session.execute(
        select(ProcessInstance, first.c.escalated, decided.c.decided)
        .join(first, first.c.instance_id == ProcessInstance.id)
        .outerjoin(decided, decided.c.instance_id == ProcessInstance.id)
        .order_by(first.c.escalated)
    ).all()


def dashboard(session: Session, authority: Department, clock: Clock) -> dict:
    """Open disputes by age, decided this year, and the median working days to decide."""
    calendar = load_calendar(session)
    now = clock.now()
    today = now.astimezone(SHANGHAI).date()
    rows = _escalations(session, authority.id)
    open_rows, durations, decided_this_year = [], [], 0
    for instance, escalated, decided in rows:
        escalated = escalated if escalated.tzinfo else escalated.replace(tzinfo=now.tzinfo)
        if decided is None:
            open_rows.append(
                {
                    "instance": instance,
                    "escalated": escalated,
                    "age": calendar.working_days_between(
                        escalated.astimezone(SHANGHAI).date(), today
                    ),
                }
            )
        else:
            decided = decided if decided.tzinfo else decided.replace(tzinfo=now.tzinfo)
            if decided.astimezone(SHANGHAI).year == today.year:
                decided_this_year += 1
                durations.append(
                    calendar.working_days_between(
                        escalated.astimezone(SHANGHAI).date(), decided.astimezone(SHANGHAI).date()
                    )
                )
    buckets = {"0-5": 0, "6-10": 0, "11-20": 0, ">20": 0}
    for r in open_rows:
        age = r["age"]
        buckets[
            "0-5" if age <= 5 else "6-10" if age <= 10 else "11-20" if age <= 20 else ">20"
        ] += 1
    return {
        "level": authority.division.level,
        "open": sorted(open_rows, key=lambda r: -r["age"]),
        "by_age": buckets,
        "decided_this_year": decided_this_year,
        "median_days_to_decide": statistics.median(durations) if durations else None,
    }
