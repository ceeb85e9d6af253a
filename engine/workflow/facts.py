"""Process facts: what a process decided, in the domain's words, for reports to count.

A BPMN script records a fact with ``fact(kind, **values)``, e.g. after the provider's review::

    fact('request_answered', role='provider', decision='refused', reasons=review_reason,
         due=reply_due, opened=submitted_at)

The call is collected like ``notify`` and written by the runtime in the same transaction as the
new state (:func:`write_fact`): the kind must be registered by a domain area (``Handlers.facts``)
and the values must fit it, or the command becomes an incident naming the element. The row
(:class:`~engine.workflow.models.ProcessFact`) keeps:

* ``at`` — the clock's time; ``actor_id`` — the official whose command it was (None for timers);
* ``role`` and ``department_id`` — the lane named by ``role`` and the department bound to it in
  the instance; without ``role``, the acting official's department;
* ``decision``, ``reasons`` — as given (``decision`` limited to the kind's decisions);
* ``due_at`` and ``met`` — ``due`` parsed as an instant, and whether the party acted by then:
  ``acted <= due_at`` when the fact gives ``acted`` (when the party acted, if a decision it
  waited for came later, e.g. a declaration the authority accepted), else ``at <= due_at``;
* ``opened_at`` — ``opened``: when the matter began, for durations (days to answer);
* ``details`` — every other value, as JSON.

Reports read facts with :func:`facts_between` and :func:`facts_of`, by kind and time, never by
element id, task name or form field: renaming a task in a modeler changes no figure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import parse_instant
from engine.db import add_row
from engine.directory.models import User
from engine.i18n import Message
from engine.workflow.handlers import HandlerError, Handlers, StepContext
from engine.workflow.models import ProcessFact

COLUMNS = ("role", "decision", "reasons", "due", "opened")  # the rest goes to ``details``


def write_fact(ctx: StepContext, handlers: Handlers, kind: str, **values: Any) -> ProcessFact:
    """``fact(kind, **values)``: check the values against the registered kind and add the row
    (with the command's other rows, :func:`engine.db.add_row`). The fact returned is not in the
    session."""
    spec = handlers.fact(kind)
    spec.check(kind, values)
    if "decision" in values:
        spec.check_decision(kind, values["decision"])
    now = ctx.clock.now()
    due = _instant(kind, "due", values.get("due"))
    details = {k: v for k, v in values.items() if k not in COLUMNS}
    _check_json(kind, details)
    role = values.get("role")
    row = {
        "instance_id": ctx.instance.id,
        "process_id": ctx.instance.process_id,
        "kind": kind,
        "at": now,
        "actor_id": ctx.actor_id,
        "role": role,
        "department_id": _department(ctx, role),
        "decision": _text(values.get("decision")),
        "reasons": _text(values.get("reasons")),
        "opened_at": _instant(kind, "opened", values.get("opened")),
        "due_at": due,
        "met": None
        if due is None
        else (_instant(kind, "acted", values.get("acted")) or now) <= due,
        "details": details,
    }
    fact = ProcessFact(**row)  # what the tallies see; the row itself is written with the command's
    for tally in handlers.fact_tallies:  # summaries of facts, in the same transaction
        tally(ctx, fact)
    add_row(ctx.session, ProcessFact, **row)
    return fact


def _department(ctx: StepContext, role: str | None) -> int | None:
    if role:
        return ctx.department_of(role)
    if ctx.actor_id is None:
        return None
    actor = ctx.session.get(User, ctx.actor_id)
    return actor.department_id if actor is not None else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _instant(kind: str, field: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_instant(value)
    except (TypeError, ValueError) as exc:
        raise HandlerError(
            Message(
                "Fact %(kind)s: %(field)s is not an instant: %(value)s.",
                kind=kind,
                field=field,
                value=str(value),
            )
        ) from exc


def _check_json(kind: str, details: dict) -> None:
    try:
        json.dumps(details)
    except (TypeError, ValueError) as exc:
        raise HandlerError(
            Message("Fact %(kind)s: values must be text, numbers, lists or maps.", kind=kind)
        ) from exc


def facts_between(
    session: Session,
    kinds: str | Sequence[str],
    start: datetime,
    end: datetime,
    department_id: int | None = None,
) -> list[ProcessFact]:
    """Facts of ``kinds`` that happened in [start, end), optionally about one department
    (indexes ``ix_fact_kind_at`` and ``ix_fact_department``)."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    stmt = select(ProcessFact).where(
        ProcessFact.kind.in_(kinds), ProcessFact.at >= start, ProcessFact.at < end
    )
    if department_id is not None:
        stmt = stmt.where(ProcessFact.department_id == department_id)
    return list(session.scalars(stmt.order_by(ProcessFact.at, ProcessFact.id)))


def facts_of(
    session: Session, instance_ids: Iterable[int], kinds: str | Sequence[str]
) -> list[ProcessFact]:
    """Facts of ``kinds`` recorded by the given instances, oldest first."""
    ids = list(instance_ids)
    if not ids:
        return []
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    return list(
        session.scalars(
            select(ProcessFact)
            .where(ProcessFact.instance_id.in_(ids), ProcessFact.kind.in_(kinds))
            .order_by(ProcessFact.at, ProcessFact.id)
        )
    )
