"""The audit viewer for authorities (issue 16): the audit trail filtered, one page at a time
(keyset paging, newest first), exported as CSV, with the chain's status; and the worker's
checkpoint job.

Who sees what: a system administrator and the region's data-sharing authority see every event;
the staff of a lower level's authority see the events of officials of their level and the levels
below and of the requests whose requester or provider is there (the rule of
:func:`engine.directory.authority_scope`, as for breaches and disputes); anyone else is refused.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from engine import audit, paging
from engine.audit import AuditCheckpoint, AuditEvent
from engine.clock import SHANGHAI, Clock
from engine.directory import (
    authority_scope,
    departments,
    departments_in,
    is_administrator,
    users_by_id,
)
from engine.directory.models import User
from engine.errors import Forbidden
from engine.exports import csv_text
from engine.i18n import N_, Label, Message
from engine.inputs import Checks, day_filters
from engine.workflow.models import ProcessInstance

log = logging.getLogger(__name__)
PAGE_SIZE = 50
EXPORT_CAP = 50_000  # events in one CSV export (narrow the filters for more)
EXPORT_BATCH = 500


@dataclass
class Filters:
    date_from: date | str | None = None  # YYYY-MM-DD as entered (checked)
    date_to: date | str | None = None
    kind: str | None = None
    object_type: str | None = None
    object_ref: str | None = None  # a business key, a catalog code, a user name …
    actor: str | None = None  # a user name
    department_id: int | None = None  # the acting official's department


@dataclass(frozen=True)
class EventRow:
    id: int
    seq: int | None
    at: datetime
    actor: str  # user name ("" for the worker)
    department: Label | None
    kind: str
    object_type: str | None
    object_ref: str | None
    business_key: str | None
    detail: dict
    hash: str | None


@dataclass(frozen=True)
class EventPage:
    rows: list[EventRow]
    after: str | None  # the cursor of the next page (None: the last page)


@dataclass(frozen=True)
class ChainStatus:
    head_seq: int
    last_checkpoint: AuditCheckpoint | None
    verified_upto: int | None  # the last checkpoint's position, when its range verified
    problem: Message | None  # the break the last checkpoint's verification found


def may_view(user: User) -> bool:
    return is_administrator(user) or bool(user.department.is_authority)


def _scope(user: User) -> ColumnElement[bool] | None:
    """The events ``user`` may see (None: all); refused for anyone but authorities' staff and
    system administrators."""
    if is_administrator(user):
        return None
    scope = authority_scope(user)
    if scope is None:
        raise Forbidden(
            Message(
                N_("Only the data-sharing authority and system administrators see the audit trail.")
            )
        )
    if user.department.division.level == "region":
        return None
    depts = departments_in(scope)
    return or_(
        AuditEvent.actor_id.in_(select(User.id).where(User.department_id.in_(depts))),
        AuditEvent.instance_id.in_(
            select(ProcessInstance.id).where(
                or_(
                    ProcessInstance.requester_department_id.in_(depts),
                    ProcessInstance.provider_department_id.in_(depts),
                )
            )
        ),
    )


def _selected(session: Session, user: User, f: Filters) -> Select[Any]:
    """The events the filters select among those ``user`` may see (unordered); a bad filter is
    refused naming it, nothing read."""
    scope = _scope(user)
    days = day_filters(
        {
            "from": (f.date_from, Message(N_("From"))),
            "to": (f.date_to, Message(N_("Until"))),
        },
        Message(N_("The audit trail cannot be shown")),
    )
    checks = Checks()
    for name, value, label, size in (
        ("kind", f.kind, N_("Kind of event"), 40),
        ("object_type", f.object_type, N_("Object type"), 40),
        ("object_ref", f.object_ref, N_("Object"), 200),
        ("actor", f.actor, N_("Official"), 80),
    ):
        if value:
            checks.text(name, value, Message(label), max_length=size)
    checks.done(Message(N_("The audit trail cannot be shown")))
    stmt = select(AuditEvent)
    if scope is not None:
        stmt = stmt.where(scope)
    if days["from"]:
        stmt = stmt.where(AuditEvent.at >= datetime.combine(days["from"], time(0), SHANGHAI))
    if days["to"]:
        end = datetime.combine(days["to"] + timedelta(days=1), time(0), SHANGHAI)
        stmt = stmt.where(AuditEvent.at < end)
    if f.kind:
        stmt = stmt.where(AuditEvent.kind == f.kind.strip())
    if f.object_type:
        stmt = stmt.where(AuditEvent.object_type == f.object_type.strip())
    if f.object_ref:
        ref = f.object_ref.strip()
        stmt = stmt.where(
            or_(
                AuditEvent.object_ref == ref,
                AuditEvent.instance_id.in_(
                    select(ProcessInstance.id).where(ProcessInstance.business_key == ref.upper())
                ),
            )
        )
    if f.actor:
        stmt = stmt.where(
            AuditEvent.actor_id.in_(select(User.id).where(User.username == f.actor.strip()))
        )
    if f.department_id:
        stmt = stmt.where(
            AuditEvent.actor_id.in_(select(User.id).where(User.department_id == f.department_id))
        )
    return stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def _cursor(value: str | None) -> tuple[datetime, int] | None:
    """A page cursor ``<ISO instant>~<id>``; anything else starts from the newest."""
    if not value or "~" not in value:
        return None
    at, _, ident = value.rpartition("~")
    try:
        return datetime.fromisoformat(at), int(ident)
    except ValueError:
        return None


def _rows(session: Session, events: list[AuditEvent]) -> list[EventRow]:
    users = users_by_id(session, {e.actor_id for e in events if e.actor_id})
    instances = {e.instance_id for e in events if e.instance_id}
    keys = (
        dict(
            session.execute(
                select(ProcessInstance.id, ProcessInstance.business_key).where(
                    ProcessInstance.id.in_(instances)
                )
            ).all()
        )
        if instances
        else {}
    )
    out = []
    for e in events:
        user = users.get(e.actor_id) if e.actor_id else None
        out.append(
            EventRow(
                e.id,
                e.seq,
                e.at,
                user.username if user else "",
                user.department.label if user else None,
                e.kind,
                e.object_type,
                e.object_ref,
                keys.get(e.instance_id) if e.instance_id else None,
                dict(e.detail or {}),
                e.hash,
            )
        )
    return out


def events_page(
    session: Session, user: User, f: Filters, after: str | None = None, size: int = PAGE_SIZE
) -> EventPage:
    """One page of events, newest first, after the cursor ``after`` (keyset on (at, id): the
    indexes ``ix_audit_event_at``, ``…_kind_at``, ``…_actor_at``, ``…_object``; no count, no
    offset, so a page costs the same wherever it falls)."""
    stmt = _selected(session, user, f)
    last = _cursor(after)
    if last is not None:
        stmt = stmt.where(paging.beyond(AuditEvent.at, AuditEvent.id, last, descending=True))
    events = list(session.scalars(stmt.limit(size + 1)))
    more = len(events) > size
    events = events[:size]
    cursor = f"{events[-1].at.isoformat()}~{events[-1].id}" if more and events else None
    return EventPage(_rows(session, events), cursor)


def export_batches(session: Session, user: User, f: Filters) -> Iterator[list[EventRow]]:
    """The events for a CSV export, newest first, up to EXPORT_CAP, read one batch per query as
    the caller iterates (keyset paging). The filters are checked now, before any row."""
    stmt = _selected(session, user, f)

    def batches() -> Iterator[list[EventRow]]:
        left, last = EXPORT_CAP, None
        while left > 0:
            page = stmt
            if last is not None:
                page = page.where(
                    paging.beyond(AuditEvent.at, AuditEvent.id, last, descending=True)
                )
            events = list(session.scalars(page.limit(min(EXPORT_BATCH, left))))
            if events:
                yield _rows(session, events)
            if len(events) < min(EXPORT_BATCH, left):
                return
            left -= len(events)
            last = events[-1].at, events[-1].id
            for event in events:  # constant memory: the batch is written out
                session.expunge(event)

    return batches()


CSV_COLUMNS = [
    "seq",
    "id",
    "at",
    "actor",
    "department",
    "kind",
    "object_type",
    "object_ref",
    "business_key",
    "detail",
    "hash",
]


def export_csv_stream(
    batches: Iterator[list[EventRow]], gettext: Callable[[str], str] | None = None
) -> Iterator[str]:
    """The events as CSV, piece by piece (header first; department names in the reader's
    language)."""
    yield "\ufeff" + csv_text([CSV_COLUMNS])
    for batch in batches:
        yield csv_text(
            [
                r.seq,
                r.id,
                r.at.astimezone(SHANGHAI).isoformat(),
                r.actor,
                r.department.render(gettext) if r.department else "",
                r.kind,
                r.object_type or "",
                r.object_ref or "",
                r.business_key or "",
                json.dumps(r.detail, ensure_ascii=False, sort_keys=True),
                r.hash or "",
            ]
            for r in batch
        )


def chain_status(session: Session, user: User) -> ChainStatus:
    _scope(user)  # the same people as the events
    head_seq, _ = audit.head(session)
    last = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
    ).first()
    if last is None:
        return ChainStatus(head_seq, None, None, None)
    # a checkpoint whose signature fails vouches for nothing, whatever it recorded
    problem = audit.checkpoint_signature_problem(session, last) or audit.checkpoint_problem(last)
    return ChainStatus(
        head_seq, last, last.seq if last.verified and problem is None else None, problem
    )


def filter_departments(session: Session, user: User) -> list[tuple[int, Label]]:
    _scope(user)
    return [(d.id, d.label) for d in departments(session)]


def checkpoint_interval() -> timedelta:
    """``GOVSHARE_AUDIT_CHECKPOINT_HOURS`` (default 24): how often the worker records one."""
    try:
        hours = float(os.environ.get("GOVSHARE_AUDIT_CHECKPOINT_HOURS", "24"))
    except ValueError:
        hours = 24.0
    return timedelta(hours=hours if hours > 0 else 24.0)


def checkpoint_job(session: Session, clock: Clock) -> AuditCheckpoint | None:
    """The worker's job: a checkpoint of the audit chain once per interval (it is due
    :func:`checkpoint_interval` after the last one; one indexed read while it is not)."""
    checkpoint = audit.checkpoint_if_due(session, clock, checkpoint_interval())
    if checkpoint is not None and not checkpoint.verified:
        problem = audit.checkpoint_problem(checkpoint)
        log.error(
            "audit chain broken before checkpoint at position %s: %s", checkpoint.seq, problem
        )
    return checkpoint
