"""“No change needed” declarations (art. 8): the second way to end a catalog update duty.

A department obliged by a change event (``catalog_update``) either updates its catalog or
declares, with reasons, that the change needs no update of it. The declaration goes to the
same-level data-sharing authority (user task ``declaration_review``), which accepts it (the duty
ends, outcome ``no_change_declared``) or returns it with reasons (the department's update task
opens again, the reasons on it). A declaration does not satisfy the duty until it is accepted.

Deadlines (docs/deadlines.md, docs/catalog.md): the update period keeps running from the event
while the declaration waits and after a return. A department that declared in time is not
answerable for the authority's wait: the deadline passing meanwhile is no breach; an accepted
declaration counts as on time; and when the authority returns it after the deadline has passed,
the department has ``catalog_revision`` working days from the return.

The process performs the actions here (each audited on the change event, beside the runtime's
``action`` event in the instance's history) and records the facts ``no_change_declared`` and
``declaration_decided`` that :func:`declarations_of` reads for pages and the API.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine import audit
from engine.directory import users_by_id
from engine.directory.models import User
from engine.workflow.facts import facts_of
from engine.workflow.handlers import StepContext

DECLARED = "no_change_declared"
DECIDED = "declaration_decided"
RULINGS = ("accepted", "returned")


def _audit(ctx: StepContext, kind: str, **detail: Any) -> None:
    """An event in the history of the change event the duty comes from."""
    audit.record(
        ctx.session,
        ctx.clock.now(),
        kind,
        actor_id=ctx.actor_id,
        object_type="catalog_event",
        object_ref=str(ctx.data.get("event_id", "")),
        business_key=ctx.instance.business_key,
        department_id=ctx.department_of("provider"),
        **detail,
    )


def file_action(ctx: StepContext, **_args: Any) -> None:
    """Action ``file_no_change_declaration``: the department declared that no change is needed."""
    _audit(ctx, "catalog_declaration_filed", reasons=ctx.data.get("no_change_reasons", ""))


def accept_action(ctx: StepContext, **_args: Any) -> None:
    """Action ``accept_no_change_declaration``: the authority accepted; the duty ends."""
    _audit(ctx, "catalog_declaration_accepted", reasons=ctx.data.get("declaration_comment", ""))


def return_action(ctx: StepContext, **_args: Any) -> None:
    """Action ``return_no_change_declaration``: the authority returned it with reasons."""
    _audit(ctx, "catalog_declaration_returned", reasons=ctx.data.get("declaration_comment", ""))


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"name": user.label, "department": user.department.label}  # in both languages


def declarations_of(session: Session, instance_id: int) -> list[dict]:
    """The declarations of one duty, oldest first, each with the authority's ruling (None while
    it waits): ``declared_at``, ``declared_by``, ``reasons``, ``in_time`` (declared by the update
    deadline), ``ruling`` {``decision`` accepted|returned, ``reasons``, ``decided_at``,
    ``decided_by``}. Empty for instances that record no declaration."""
    facts = facts_of(session, [instance_id], (DECLARED, DECIDED))
    if not facts:
        return []
    people = users_by_id(session, [f.actor_id for f in facts])
    declarations: list[dict] = []
    for fact in facts:
        person = _person(people.get(fact.actor_id)) if fact.actor_id else None
        if fact.kind == DECLARED:
            declarations.append(
                {
                    "declared_at": fact.at.isoformat(),
                    "declared_by": person,
                    "reasons": fact.reasons or "",
                    "in_time": fact.met,
                    "ruling": None,
                }
            )
        elif declarations and declarations[-1]["ruling"] is None:
            declarations[-1]["ruling"] = {
                "decision": fact.decision,
                "reasons": fact.reasons or "",
                "decided_at": fact.at.isoformat(),
                "decided_by": person,
            }
    return declarations
