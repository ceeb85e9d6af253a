"""Catalog update events (art. 8): a law revision or change of function obliges each affected
department to update its catalog within 15 working days of the event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from engine import audit, rules
from engine.catalog.models import CatalogEvent
from engine.catalog.views import DepartmentRef, department_ref
from engine.clock import Clock
from engine.directory import authority_of, departments
from engine.directory.models import Department, User
from engine.errors import FieldProblem, Forbidden, ValidationFailed
from engine.i18n import N_, Message
from engine.inputs import Checks, day_problem
from engine.workflow.deployment import active_definition
from engine.workflow.models import ProcessDefinition, ProcessInstance
from engine.workflow.runtime import start_instance

KIND_LABELS = {  # what pages and errors call each kind of event
    "law_revision": Message(N_("Law or regulation revised")),
    "function_change": Message(N_("Administrative function changed")),
}
KINDS = tuple(KIND_LABELS)
FIELD_LABELS = {  # the labels of the event form's fields, as errors name them
    "kind": Message(N_("Kind")),
    "occurred_on": Message(N_("Date of the change")),
    "reference": Message(N_("Reference")),
    "departments": Message(N_("Affected departments")),
}


def check_may_register(user: User) -> None:
    """Data-sharing authorities register the events that oblige departments to update (art. 8)."""
    if not user.department.is_authority:
        raise Forbidden(
            Message("Only data-sharing authorities register law revisions and changes of function.")
        )


def affected_candidates(session: Session, user: User) -> list[DepartmentRef]:
    """The departments an event may oblige (every department but the authorities), for the form
    of an authority's official."""
    check_may_register(user)
    return [department_ref(d) for d in departments(session, authorities=False)]


def register_event(
    session: Session,
    clock: Clock,
    user: User,
    kind: str,
    occurred_on: str,
    reference: str,
    department_slugs: list[str],
    description: str = "",
) -> RegisteredEvent:
    """Record the event and start one ``catalog_update`` per affected department."""
    check_may_register(user)
    checks = Checks()
    checks.text("description", description, Message(N_("Description")), multiline=True)
    checks.done(Message(N_("The event cannot be registered")))
    day, affected = _checked(session, kind, occurred_on, reference, department_slugs)
    event = CatalogEvent(
        kind=kind,
        occurred_on=day,
        reference=reference.strip(),
        description=description,
        department_ids=[d.id for d in affected],
        registered_by_id=user.id,
        registered_at=clock.now(),
    )
    session.add(event)
    session.flush()
    definition = active_definition(session, "catalog_update")
    instances = [_start_update(session, clock, user, definition, event, dept) for dept in affected]
    audit.record(
        session,
        clock.now(),
        "catalog_event_registered",
        actor_id=user.id,
        object_type="catalog_event",
        object_ref=str(event.id),
        after={
            "kind": kind,
            "occurred_on": day.isoformat(),
            "reference": event.reference,
            "departments": [d.slug for d in affected],
            "business_keys": [i.business_key for i in instances],
        },
    )
    return RegisteredEvent(event.id, kind, day, [i.business_key for i in instances])


@dataclass(frozen=True)
class RegisteredEvent:
    """A registered change event and the duties (``catalog_update`` instances) it started."""

    id: int
    kind: str
    occurred_on: date
    business_keys: list[str]


def _checked(
    session: Session, kind: str, occurred_on: str, reference: str, department_slugs: list[str]
) -> tuple[date, list[Department]]:
    """The event's day and departments; ValidationFailed naming every wrong field."""
    checks = Checks()
    checks.text("reference", reference, Message(N_("Reference")), column=CatalogEvent.reference)
    checks.texts(
        "departments", department_slugs, Message(N_("Affected departments")), max_length=60
    )
    checks.text("occurred_on", occurred_on, Message(N_("Date")))
    checks.done(Message(N_("The event cannot be registered")))
    errors: list[FieldProblem] = []
    if kind not in KINDS:
        errors.append(
            {
                "field": "kind",
                "message": Message("must be one of %(values)s", values=list(KIND_LABELS.values())),
            }
        )
    day: date | None
    try:
        day = date.fromisoformat(occurred_on)
        out_of_range = day_problem(day)
        if out_of_range is not None:
            errors.append({"field": "occurred_on", "message": out_of_range})
    except (TypeError, ValueError):
        errors.append({"field": "occurred_on", "message": Message("must be a date (YYYY-MM-DD)")})
        day = None
    if not (reference or "").strip():
        errors.append({"field": "reference", "message": Message("is required")})
    affected = []
    for slug in department_slugs:
        dept = session.query(Department).filter_by(slug=slug.strip()).one_or_none()
        if dept is None:
            errors.append(
                {
                    "field": "departments",
                    "message": Message("unknown department '%(slug)s'", slug=slug),
                }
            )
        else:
            affected.append(dept)
    if not department_slugs:
        errors.append(
            {"field": "departments", "message": Message("name at least one affected department")}
        )
    if errors or day is None:  # no day means an error about it
        for error in errors:
            error["label"] = FIELD_LABELS.get(error["field"], error["field"])
        raise ValidationFailed(
            Message(
                "The event cannot be registered: %(fields)s",
                fields=list(dict.fromkeys(e["label"] for e in errors)),
            ),
            errors,
        )
    return day, affected


def _start_update(
    session: Session,
    clock: Clock,
    user: User,
    definition: ProcessDefinition,
    event: CatalogEvent,
    dept: Department,
) -> ProcessInstance:
    """One department's ``catalog_update`` for the event, with its same-level authority."""
    authority = authority_of(session, dept.division_code)
    data = {
        "event_id": event.id,
        "event_kind": event.kind,
        "event_date": event.occurred_on.isoformat(),
        "event_reference": event.reference,
        "event_description": event.description,
        **rules.start_data(),
        "update_days": rules.days("catalog_update"),
        "update_start": event.occurred_on.isoformat(),
        "provider_name": dept.name,
        "authority_name": authority.name,
    }
    summary = {
        "event_reference": event.reference,
        "event_date": event.occurred_on.isoformat(),
        "provider_name": dept.name,
        "resource_name": event.reference,
    }
    return start_instance(
        session,
        clock,
        definition,
        data,
        {"provider": dept.id, "authority": authority.id},
        user.id,
        summary,
    )
