"""Disputes (art. 4, 11): the dossier a coordinator decides on (the board: `dispute_board`).

A dispute is a share request (or a direct negotiation) whose negotiation failed, so that the
same-level data-sharing authority took it over (fact ``coordination_opened``). Its dossier gathers
the request, the resource and its share type, the legal bases cited, the provider's reasons (fact
``request_answered``), both parties' negotiation positions (``position_stated``), every deadline
met or missed, the coordinator's information requests, the answers, meetings and the decision
(dossier entries and ``coordination_decided``), and earlier cases on the same resource or between
the same departments. Nothing here names a BPMN element, task or form field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from engine.catalog import find_resource
from engine.clock import Clock, parse_instant
from engine.i18n import Label
from engine.sharing.models import DossierEntry
from engine.workflow.facts import facts_of
from engine.workflow.handlers import StepContext
from engine.workflow.history import party_labels, with_party_names
from engine.workflow.models import HumanTask, ProcessFact, ProcessInstance


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


@dataclass(frozen=True)
class Case:
    """A share request (or negotiation) as the coordinators' pages link and describe it."""

    business_key: str
    status: str
    summary: dict[str, Any]  # its summary: resource, parties, decision


def case_of(instance: ProcessInstance, labels: Mapping[int, Label] | None = None) -> Case:
    """``labels``: the parties' names (:func:`~engine.workflow.history.party_labels`)."""
    return Case(
        instance.business_key,
        instance.status,
        with_party_names(instance, instance.summary or {}, labels),
    )


@dataclass(frozen=True)
class Entry:
    """An entry of the dossier: an information request or answer, a meeting, the decision."""

    kind: str
    party: str
    text: str
    details: dict[str, Any]
    due_at: datetime | None
    at: datetime


@dataclass(frozen=True)
class CatalogTerms:
    """What the catalog says of the disputed resource."""

    code: str
    share_type: str
    conditions: str
    legal_basis: str


@dataclass(frozen=True)
class Decision:
    """The coordinator's decision, as its fact recorded it."""

    decision: str | None
    reasons: str | None
    at: datetime


@dataclass(frozen=True)
class Step:
    title: str
    department: Label
    state: str
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: Label | None
    data: dict
    met: bool | None  # None: no deadline or still open and not yet due
    title_en: str | None = None


DOSSIER_FACTS = ("request_answered", "position_stated", "coordination_decided")


def _recorded(session: Session, instance_id: int) -> dict:
    """What the dispute's process recorded: the provider's reasons, each party's latest
    negotiation position, and the coordination decision (a fact, or None)."""
    latest: dict[str, ProcessFact] = {}
    positions: dict[str | None, str] = {}
    for fact in facts_of(session, (instance_id,), DOSSIER_FACTS):
        latest[fact.kind] = fact
        if fact.kind == "position_stated":
            positions[fact.role] = str(fact.details.get("position") or "")
    answer = latest.get("request_answered")
    return {
        "provider_reasons": (answer.reasons or "") if answer is not None else "",
        "requester_position": positions.get("requester", ""),
        "provider_position": positions.get("provider", ""),
        "decision": _decision(latest.get("coordination_decided")),
    }


def _decision(fact: ProcessFact | None) -> Decision | None:
    return None if fact is None else Decision(fact.decision, fact.reasons, fact.at)


def _terms(session: Session, code: str | None) -> CatalogTerms | None:
    resource = find_resource(session, code)
    if resource is None:
        return None
    return CatalogTerms(
        resource.code, resource.share_type, resource.conditions or "", resource.legal_basis or ""
    )


def _entries(session: Session, instance_id: int) -> list[Entry]:
    rows = session.scalars(
        select(DossierEntry)
        .where(DossierEntry.instance_id == instance_id)
        .order_by(DossierEntry.id)
    )
    return [
        Entry(e.kind, e.party or "", e.text or "", dict(e.details or {}), e.due_at, e.at)
        for e in rows
    ]


def dossier(session: Session, instance: ProcessInstance, clock: Clock) -> dict:
    """Everything about one dispute, from the query tables only (plain values)."""
    now = clock.now()
    tasks = session.scalars(
        select(HumanTask)
        .options(selectinload(HumanTask.department), selectinload(HumanTask.completed_by))
        .where(HumanTask.instance_id == instance.id)
        .order_by(HumanTask.id)
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
                t.department.label,
                t.state,
                t.due_at,
                t.completed_at,
                t.completed_by.label if t.completed_by else None,
                dict(t.data or {}),
                met,
                t.title_en,
            )
        )
    summary = dict(instance.summary or {})
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
    labels = party_labels(session, [instance, *earlier])
    return {
        "instance": case_of(instance, labels),
        "summary": with_party_names(instance, summary, labels),
        "resource": _terms(session, summary.get("resource_code")),
        "requester_basis": summary.get("legal_basis", ""),
        **_recorded(session, instance.id),
        "steps": steps,
        "entries": _entries(session, instance.id),
        "earlier": [case_of(i, labels) for i in earlier],
    }
