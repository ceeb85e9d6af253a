"""Share requests (art. 11, 12): start one, read its status.

A request for an unconditional or conditional resource runs ``share_request``; a request for a
not-shared resource opens ``negotiation`` directly (art. 11: "needed but not shared → negotiate").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import rules
from engine.audit import AuditEvent
from engine.calendar import Deadline, load_calendar
from engine.catalog import Resource, item_names, resource_by_code
from engine.catalog.declarations import declarations_of
from engine.catalog.reading import find_requestable, requestable
from engine.clock import Clock
from engine.directory import department_by_id, department_labels, parties, users_by_id
from engine.directory.models import User
from engine.errors import FieldProblem, ValidationFailed
from engine.i18n import Label, Message
from engine.oversight.breaches import breaches_of
from engine.sharing import scenarios
from engine.sharing.coordination import has_dossier
from engine.sharing.grants import grant_usage, grants_of, may_revoke
from engine.sharing.models import Grant
from engine.workflow import history
from engine.workflow import tasks as task_service
from engine.workflow.deployment import active_definition
from engine.workflow.facts import facts_of
from engine.workflow.forms import field_label, validate_form
from engine.workflow.handlers import handlers_of
from engine.workflow.incidents import IncidentView, open_incident
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import start_instance
from engine.workflow.scripting import iso_now


def limits(session: Session, clock: Clock) -> dict[str, int | str]:
    """The working days a share request starts with: the rule set in force (:mod:`engine.rules`;
    an instance keeps them): what each passed deadline means is in :mod:`engine.sharing.deadlines`."""
    in_force = rules.current(session, clock)
    return {
        "rule_set_version": in_force.version,
        "reply_days": in_force.days("reply"),  # art. 11: the provider answers within 10 days
        "reminder_days_before": in_force.days("reminder_before"),
        "negotiation_days": in_force.days("negotiation"),
        "negotiation_decision_days": in_force.days("negotiation_decision"),
        "coordination_days": in_force.days("coordination"),
        "coordination_info_days": str(in_force.days("coordination_info")),  # the form's default
        "supervision_days": in_force.days("sharing_supervision"),
    }


SUMMARY_FIELDS = (
    "resource_code",
    "resource_name",
    "share_type",
    "requester_name",
    "provider_name",
    "authority_name",
    "purpose",
    "scenario",
    "scenario_name",
    "legal_basis",
    "info_items",
    "period_start",
    "period_end",
    "reply_days",
)


def _request_problems(resource: Resource, user: User, form: dict) -> list[FieldProblem]:
    """What is wrong with an application beyond its form (which checks texts, dates and the
    period, :mod:`engine.workflow.forms`): items, own resource."""
    errors: list[FieldProblem] = []
    unknown = [i for i in form["info_items"] if i not in item_names(resource)]
    if unknown:
        items = ", ".join(unknown)
        message = Message("not info items of %(code)s: %(items)s", code=resource.code, items=items)
        errors.append({"field": "info_items", "message": message})
    if resource.provider_id == user.department_id:
        message = Message("is provided by your own department")
        errors.append({"field": "resource_code", "message": message})
    return errors


def _scenario_problems(problem: Message | None) -> list[FieldProblem]:
    """A new request names an application scenario in use (art. 12: the grant is bound to it)."""
    return [] if problem is None else [{"field": "scenario", "message": problem}]


def start_share_request(
    session: Session,
    clock: Clock,
    user: User,
    form: dict,
) -> history.InstanceInfo:
    """Validate the application and start its process; nothing is written if anything is wrong."""
    definition = active_definition(session, "share_request")
    schema = definition.forms["share_request_start"]
    validate_form("share_request_start", schema, form)
    form = {**form, "scenario": str(form["scenario"]).strip()}
    resource = resource_by_code(session, form["resource_code"])
    problem, scenario_name = scenarios.for_new_request(session, form["scenario"])
    errors = _request_problems(resource, user, form) + _scenario_problems(problem)
    if errors:
        for error in errors:
            error["label"] = field_label(schema, error["field"]) or error["field"]
        fields = list(dict.fromkeys(e["label"] for e in errors))
        raise ValidationFailed(
            Message("The request is not valid: %(fields)s", fields=fields), errors
        )
    # both from the directory cache: neither is read again from the database
    requester = department_by_id(session, user.department_id)
    bound = parties(session, requester, department_by_id(session, resource.provider_id))
    data = {
        **form,
        **bound.names(),
        "resource_id": resource.id,
        "resource_name": resource.name,
        # the application scenario's name as the request named it (its code is ``scenario``)
        "scenario_name": scenario_name,
        "share_type": resource.share_type,
        "submitted_at": iso_now(clock),
        **limits(session, clock),
        # who supervises an overdue coordination: the authority of the level above, if any
        "supervisor_bound": bound.supervisor is not None,
        # art. 11: needed but not shared -> negotiate at once; the request starts there
        "direct_negotiation": resource.share_type == "not_shared",
    }
    if resource.share_type == "not_shared":
        definition = active_definition(session, "negotiation")
    summary = {k: data[k] for k in SUMMARY_FIELDS}
    return history.instance_info(
        start_instance(session, clock, definition, data, bound.bindings(), user.id, summary)
    )


def instance_by_key(session: Session, business_key: str) -> ProcessInstance:
    return history.instance_by_key(session, business_key)


FACT_DECISIONS = {  # the decision a fact records, in the words of the outcome
    "approved": "granted",
    "approved_in_part": "granted_in_part",
    "refused": "refused",
    "granted": "granted",
    "granted_in_part": "granted_in_part",
    "refusal_upheld": "refusal_upheld",
}
DECIDERS = {"request_answered": "provider", "coordination_decided": "coordination"}


def _grant_dict(
    g: Grant,
    people: dict[int, User],
    names: dict[str, Label] | None = None,
    usage: dict[str, int] | None = None,
) -> dict:
    decider = people.get(g.decided_by_id) if g.decided_by_id else None
    return {
        "id": g.id,
        "info_items": g.info_items,
        "period_start": g.period_start.isoformat() if g.period_start else None,
        "period_end": g.period_end.isoformat() if g.period_end else None,
        "purpose": g.purpose,
        # the application scenario the grant is bound to (None: issued before scenarios; used
        # only by naming the grant) and its use so far (art. 14): checks, items, refusals
        "scenario": g.scenario,
        "scenario_name": (names or {}).get(g.scenario) if g.scenario else None,
        "usage": usage or {"checks": 0, "items": 0, "refusals": 0},
        "basis": g.basis,
        "granted_at": g.granted_at.isoformat(),
        "decision": g.decision or ("granted_in_part" if g.basis == "partial" else "granted"),
        "reasons": g.reasons,
        "conditions": g.conditions,
        "decided_by": _person(decider),
        # revoked (govshare grants revoke, the request page): when and why; None while in force
        "revoked_at": g.revoked_at.isoformat() if g.revoked_at else None,
        "revoke_reason": g.revoke_reason,
    }


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"name": user.label, "department": user.department.label}


def _outcome(grants: list[dict], facts: list, people: dict[int, User]) -> dict | None:
    """What was decided, for both parties: the latest grant (with its reasons and conditions),
    else the latest refusal (the provider's, with its reasons, or coordination upholding it)."""
    decided = [f for f in facts if f.decision in FACT_DECISIONS]
    fact = max(decided, key=lambda f: (f.at, f.id)) if decided else None
    by = DECIDERS.get(fact.kind, "") if fact is not None else ""
    if grants:
        g = grants[-1]
        by = "coordination" if g["basis"] == "coordinated" else by
        return {
            "decision": g["decision"],
            "decided_at": g["granted_at"],
            "decided_by": g["decided_by"],
            "by": {"unconditional": "catalog", "negotiated": "negotiation"}.get(g["basis"], by),
            "reasons": g["reasons"],
            "conditions": g["conditions"],
        }
    if fact is None or FACT_DECISIONS[fact.decision] not in ("refused", "refusal_upheld"):
        return None
    return {
        "decision": FACT_DECISIONS[fact.decision],
        "decided_at": fact.at.isoformat(),
        "decided_by": _person(people.get(fact.actor_id)) if fact.actor_id else None,
        "by": by,
        "reasons": fact.reasons,
        "conditions": None,
    }


def _timeline(session: Session, events: Sequence[AuditEvent]) -> list[dict]:
    """The history as officials read it: every event; a domain action (``perform(…)`` in a
    process) with ``what`` it did in words, and none that records its own, more specific event
    (a deadline reminder is shown as the reminder, once)."""
    handlers = handlers_of(session)
    out = []
    for e in events:
        entry: dict[str, Any] = {"at": e.at.isoformat(), "kind": e.kind, "detail": e.detail}
        if e.kind == "action":
            what = handlers.action_label(str((e.detail or {}).get("action") or ""))
            if what is None:
                continue
            entry["what"] = what
        out.append(entry)
    return out


def request_status(session: Session, instance: ProcessInstance) -> dict:
    """Everything a status page or API client needs, from the query tables only."""
    tasks = history.tasks_of(session, instance.id)
    grant_rows = grants_of(session, instance.id)
    facts = facts_of(session, [instance.id], tuple(DECIDERS))
    people = users_by_id(
        session, [g.decided_by_id for g in grant_rows] + [f.actor_id for f in facts]
    )
    usage = grant_usage(session, [g.id for g in grant_rows])
    scenario_names = scenarios.scenario_names(
        session, {g.scenario for g in grant_rows if g.scenario}
    )
    grants = [_grant_dict(g, people, scenario_names, usage[g.id]) for g in grant_rows]
    breaches = breaches_of(session, instance.id)
    names = department_labels(session, {b.department_id for b in breaches})
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id)
    ).all()
    summary = instance.summary or {}
    deadline = None
    if summary.get("reply_due") and instance.process_id == "share_request":
        start = next((e.at for e in events if e.kind == "started"), instance.created_at)
        days = summary.get("reply_days") or rules.by_version(
            session, instance.rule_set_version or 1
        ).days("reply")
        deadline = load_calendar(session).deadline(start, days).to_dict()
        deadline["rule"] = rules.applied_dict(session, instance.rule_set_version or 1, "reply")
    return {
        "business_key": instance.business_key,
        "process": instance.process_id,
        "version": instance.definition.version,
        "status": instance.status,
        "incident": instance.incident,
        "summary": history.with_party_names(instance, summary),
        "reply_deadline": deadline,
        "tasks": [
            {
                "id": t.id,
                "task": t.task_name,
                "title": t.title,
                "title_en": t.title_en,
                "role": t.role,
                "department": t.department.label,
                "state": t.state,
                "assignee": t.assignee.label if t.assignee else None,
                "due_at": t.due_at.isoformat() if t.due_at else None,
                "completed_by": t.completed_by.label if t.completed_by else None,
                "on_behalf_of": t.on_behalf_of.label
                if t.on_behalf_of_id and t.on_behalf_of
                else None,
                "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                "statute": t.statute,
            }
            for t in tasks
        ],
        "grants": grants,
        "outcome": _outcome(grants, facts, people),
        # a catalog update duty's "no change needed" declarations and the authority's rulings
        "declarations": declarations_of(session, instance.id),
        "breaches": [
            {
                "department": names[b.department_id],
                "article": b.article,
                "kind": b.kind,
                "recorded_at": b.recorded_at.isoformat(),
            }
            for b in breaches
        ],
        "timeline": _timeline(session, events),
    }


def status_by_key(session: Session, business_key: str) -> dict:
    """:func:`request_status` by business key, for the operator's CLI (NotFound if none)."""
    return request_status(session, history.instance_by_key(session, business_key))


def status_for(session: Session, user: User, business_key: str) -> dict:
    """:func:`request_status` for the departments the instance involves (else Forbidden)."""
    return request_status(session, history.instance_for(session, user, business_key))


@dataclass(frozen=True)
class RequestPage:
    """The request page: the instance as the user sees it, and its status."""

    view: history.InstanceView
    status: dict  # as :func:`request_status`
    incident: IncidentView | None  # a step that failed and is being retried
    revocable: frozenset[int] = frozenset()  # the grants in force the user may revoke


def request_page(session: Session, clock: Clock, user: User, business_key: str) -> RequestPage:
    instance = history.instance_for(session, user, business_key)
    view = history.view_of(session, clock, user, instance)
    revocable = frozenset(
        g.id
        for g in grants_of(session, instance.id)
        if g.revoked_at is None and may_revoke(session, user, g)
    )
    return RequestPage(
        view, request_status(session, instance), open_incident(session, instance.id), revocable
    )


@dataclass(frozen=True)
class TaskRequestPage:
    """The task page: the task (:class:`~engine.workflow.tasks.TaskPage`), its request's status and whether the
    user's authority keeps a dossier on the request."""

    page: task_service.TaskPage
    overview: dict  # as :func:`request_status`
    dossier: bool


def task_request_page(session: Session, clock: Clock, user: User, task_id: int) -> TaskRequestPage:
    page = task_service.task_page(session, clock, user, task_id)
    instance = history.instance_by_key(session, page.instance.business_key)
    return TaskRequestPage(
        page, request_status(session, instance), has_dossier(session, user, instance)
    )


@dataclass(frozen=True)
class RequestForm:
    """The form to apply for a resource: the chosen entry, or the search to choose one."""

    resource: object | None  # the published catalog entry applied for
    results: list  # entries matching the search, when none is chosen
    expected_due: Deadline | None  # when the provider must answer, for a conditional entry
    own: bool  # the user's department provides the entry (it cannot apply for it)
    scenarios: list = field(default_factory=list)  # the application scenarios to choose from


def request_form(
    session: Session, clock: Clock, user: User, code: str | None, q: str
) -> RequestForm:
    resource = requestable(session, code)
    expected_due = None
    if resource is not None and resource.share_type == "conditional":
        expected_due = load_calendar(session).deadline(
            clock.now(), rules.days(session, clock, "reply")
        )
    return RequestForm(
        resource=resource,
        results=find_requestable(session, q) if resource is None else [],
        expected_due=expected_due,
        own=resource is not None and resource.provider_id == user.department_id,
        scenarios=scenarios.scenarios(session, active_only=True) if resource is not None else [],
    )
