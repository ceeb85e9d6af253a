"""Catalog update events (art. 8): a law revision or change of function obliges each affected
department to update its catalog within 15 working days of the event.

Who and when (docs/catalog.md, "Change events"): only coordinators of a data-sharing authority
register events, for the departments of their own level and the levels below; the date of the
change can be neither in the future nor before the measures took effect (2018-11-01). An event
whose update period has already run out when it is registered is registered only when the
coordinator confirms it, and the department's period then runs from the registration: nobody is
in breach of a duty nobody was told of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from engine import audit, rules
from engine.calendar import load_calendar
from engine.catalog.models import CatalogEvent
from engine.catalog.views import DepartmentRef, department_ref
from engine.clock import SHANGHAI, Clock
from engine.directory import authority_of, departments, divisions_under, is_coordinator
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
    "confirm_late": Message(N_("Confirm a late registration")),
}
MEASURES_IN_FORCE = date(2018, 11, 1)  # the measures took effect (art. 25)


def may_register(user: User) -> bool:
    """Whether the user may register change events (pages offer the link only then)."""
    return is_coordinator(user)


def check_may_register(user: User) -> None:
    """Coordinators of a data-sharing authority register the events that oblige departments to
    update their catalog (art. 4, 8)."""
    if not may_register(user):
        raise Forbidden(
            Message(
                "Only coordinators of a data-sharing authority register law revisions and "
                "changes of function."
            )
        )


def _in_scope(session: Session, user: User) -> set[str]:
    """The divisions of the coordinator's level and the levels below."""
    return set(session.scalars(divisions_under(user.department.division_code)))


def affected_candidates(session: Session, user: User) -> list[DepartmentRef]:
    """The departments an event of this coordinator may oblige: those of their level and the
    levels below (authorities excluded), for the form."""
    check_may_register(user)
    scope = _in_scope(session, user)
    return [
        department_ref(d)
        for d in departments(session, authorities=False)
        if d.division_code in scope
    ]


def register_event(
    session: Session,
    clock: Clock,
    user: User,
    kind: str,
    occurred_on: str,
    reference: str,
    department_slugs: list[str],
    description: str = "",
    confirm_late: bool = False,
) -> RegisteredEvent:
    """Record the event and start one ``catalog_update`` per affected department (see the
    module's docstring for who may, which dates, and a late registration)."""
    check_may_register(user)
    checks = Checks()
    checks.text("description", description, Message(N_("Description")), multiline=True)
    checks.done(Message(N_("The event cannot be registered")))
    day, affected = _checked(session, kind, occurred_on, reference, department_slugs)
    _check_scope_and_day(session, clock, user, day, affected, confirm_late)
    late = _period_over(session, clock, day)
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
    start = clock.now().astimezone(SHANGHAI).date() if late else day
    instances = [
        _start_update(session, clock, user, definition, event, dept, start) for dept in affected
    ]
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
            "period_from": start.isoformat(),
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


def _period_over(session: Session, clock: Clock, day: date) -> bool:
    """Has the update period of an event on ``day`` already run out?"""
    event_time = datetime.combine(day, datetime.min.time(), SHANGHAI)
    due = (
        load_calendar(session)
        .deadline(event_time, rules.days(session, clock, "catalog_update"))
        .due_at
    )
    return due <= clock.now()


def _check_scope_and_day(
    session: Session,
    clock: Clock,
    user: User,
    day: date,
    affected: list[Department],
    confirm_late: bool,
) -> None:
    """The departments are of the coordinator's levels; the day is neither in the future nor
    before the measures; a late event is confirmed. ValidationFailed naming the fields."""
    scope = _in_scope(session, user)
    errors: list[FieldProblem] = []
    outside = [d.name for d in affected if d.division_code not in scope]
    if outside:
        errors.append(
            {
                "field": "departments",
                "message": Message(
                    "not of your level or a level below: %(names)s", names=", ".join(outside)
                ),
            }
        )
    today = clock.now().astimezone(SHANGHAI).date()
    if day > today:
        errors.append({"field": "occurred_on", "message": Message("must not be in the future")})
    elif day < MEASURES_IN_FORCE:
        errors.append(
            {
                "field": "occurred_on",
                "message": Message(
                    "must not be before %(day)s, when the measures took effect",
                    day=MEASURES_IN_FORCE.isoformat(),
                ),
            }
        )
    elif not confirm_late and _period_over(session, clock, day):
        errors.append(
            {
                "field": "confirm_late",
                "message": Message(
                    "the update period of a change on %(day)s has already run out: confirm, and "
                    "the departments' %(n)s working days run from today",
                    day=day.isoformat(),
                    n=rules.days(session, clock, "catalog_update"),
                ),
            }
        )
    if errors:
        for error in errors:
            error["label"] = FIELD_LABELS[error["field"]]
        raise ValidationFailed(
            Message(
                "The event cannot be registered: %(fields)s",
                fields=list(dict.fromkeys(e["label"] for e in errors)),
            ),
            errors,
        )


def _start_update(
    session: Session,
    clock: Clock,
    user: User,
    definition: ProcessDefinition,
    event: CatalogEvent,
    dept: Department,
    start: date,
) -> ProcessInstance:
    """One department's ``catalog_update`` for the event, with its same-level authority; its
    period runs from ``start`` (the event, or the registration of a late event)."""
    authority = authority_of(session, dept.division_code)
    data = {
        "event_id": event.id,
        "event_kind": event.kind,
        "event_date": event.occurred_on.isoformat(),
        "event_reference": event.reference,
        "event_description": event.description,
        **rules.start_data(session, clock, "declaration_review", "catalog_revision"),
        "update_days": rules.days(session, clock, "catalog_update"),
        "update_start": start.isoformat(),
        "provider_name": dept.name,
        "authority_name": authority.name,
    }
    summary = {
        "event_kind": event.kind,
        "event_reference": event.reference,
        "event_date": event.occurred_on.isoformat(),
        "provider_name": dept.name,
        "authority_name": authority.name,
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
