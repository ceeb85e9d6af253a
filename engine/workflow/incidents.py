"""Incident service: what failed, where, how often, and retrying it after a fix.

An incident is recorded by the runtime whenever a command on an instance fails after the
caller's own change (see :func:`engine.workflow.runtime.execute`). The worker retries it with
backoff; administrators list incidents (``govshare incidents``, the web page *流程故障*), correct
data if a script failed on it, and retry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from engine import paging
from engine.clock import Clock
from engine.directory import is_administrator
from engine.directory.models import User
from engine.errors import Forbidden, NotFound, ValidationFailed
from engine.i18n import Message
from engine.inputs import storable
from engine.workflow.models import Incident, ProcessInstance
from engine.workflow.runtime import retry_incident

PAGE_SIZE = 50


@dataclass(frozen=True)
class IncidentView:
    id: int
    business_key: str
    process_id: str
    process_name: str
    version: int
    instance_status: str
    element_id: str
    element_name: str
    error: str
    attempts: int
    occurred_at: datetime
    last_attempt_at: datetime
    next_retry_at: datetime | None  # None: waiting for an administrator (or resolved)
    resolved_at: datetime | None


def _require_administrator(user: User | None) -> None:
    if user is not None and not is_administrator(user):
        raise Forbidden(Message("Only administrators see and retry incidents."))


def _view(row: Incident) -> IncidentView:
    inst = row.instance
    return IncidentView(
        id=row.id,
        business_key=inst.business_key,
        process_id=inst.process_id,
        process_name=inst.definition.name,
        version=inst.definition.version,
        instance_status=inst.status,
        element_id=row.element_id,
        element_name=row.element_name,
        error=row.error,
        attempts=row.attempts,
        occurred_at=row.occurred_at,
        last_attempt_at=row.last_attempt_at,
        next_retry_at=inst.next_due_at if row.resolved_at is None else None,
        resolved_at=row.resolved_at,
    )


def list_incidents(
    session: Session, user: User | None = None, open_only: bool = True, page: int = 1
) -> tuple[list[IncidentView], int]:
    """Incidents, newest first, one page; ``user`` None is the operator at the command line."""
    _require_administrator(user)
    where = [Incident.resolved_at.is_(None)] if open_only else []
    total = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    rows = session.scalars(
        select(Incident)
        .where(*where)
        .options(selectinload(Incident.instance).selectinload(ProcessInstance.definition))
        .order_by(Incident.id.desc())
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    ).all()
    return [_view(r) for r in rows], total


def open_count(session: Session, cap: int = paging.BADGE_CAP) -> int:
    """Open incidents, counted up to ``cap`` + 1 (a badge: "99+"); at most ``cap`` + 1 entries
    of ``ix_incident_open`` read, whatever is stored."""
    return paging.capped_count(
        session, select(Incident.id).where(Incident.resolved_at.is_(None)), Incident.id, cap
    )


def parse_variables(assignments: list[str]) -> dict[str, Any]:
    """``NAME=JSON`` pairs (a bare word is taken as a string), for ``--set``."""
    variables: dict[str, Any] = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ValidationFailed(
                Message("Write each variable as NAME=VALUE: %(item)s", item=item),
                [{"field": "set", "message": Message("not NAME=VALUE: %(item)s", item=item)}],
            )
        try:
            variables[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            variables[name.strip()] = raw
    return variables


def retry(
    session: Session,
    clock: Clock,
    business_key: str,
    user: User | None = None,
    variables: dict[str, Any] | None = None,
) -> RetryOutcome:
    """Retry the instance's engine steps now (optionally after correcting variables)."""
    _require_administrator(user)
    instance_id = (
        session.scalar(
            select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)
        )
        if storable(business_key)
        else None
    )
    if instance_id is None:
        raise NotFound(Message("No request with business key %(key)s.", key=business_key))
    instance = retry_incident(
        session, clock, instance_id, user.id if user else None, variables or None
    )
    return RetryOutcome(instance.business_key, instance.status, instance.incident)


@dataclass(frozen=True)
class RetryOutcome:
    """What a retry left: the instance's status and, if it still fails, the error."""

    business_key: str
    status: str
    incident: str | None


def open_incident(session: Session, instance_id: int) -> IncidentView | None:
    """The instance's open incident, if any (for the parties' pages: which step, what next)."""
    row = session.scalar(
        select(Incident).where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
    )
    return _view(row) if row is not None else None
