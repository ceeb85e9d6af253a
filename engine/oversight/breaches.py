"""The breach ledger (art. 23): entries made automatically (by processes and by the art. 14 grant
check), filtered and exported by the authority, appealed by departments, rectified on order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from engine import audit, paging, rules
from engine.clock import SHANGHAI, Clock
from engine.db import add_row
from engine.directory import authority_scope, departments, departments_in, is_coordinator
from engine.directory.models import User
from engine.errors import Conflict, Forbidden, NotFound
from engine.exports import csv_text
from engine.i18n import N_, Label, Message
from engine.inputs import Checks, day_filters, require
from engine.oversight.models import Breach
from engine.trust.signatures import appeal_subject, sign_decision
from engine.workflow.deployment import active_definition
from engine.workflow.handlers import StepContext
from engine.workflow.history import instance_by_id
from engine.workflow.models import OutboxMessage, ProcessInstance
from engine.workflow.runtime import start_instance

PAGE_SIZE = 50
EXPORT_CAP = 10_000  # entries in one CSV export
EXPORT_BATCH = 500  # entries read per query while an export streams


@dataclass
class Filters:
    department_id: int | None = None
    kind: str | None = None
    date_from: date | str | None = None  # a date, or YYYY-MM-DD as entered (checked)
    date_to: date | str | None = None
    appeal_status: str | None = None
    key: str | None = None  # the business key (or part of it) of the request that recorded it


def visible_to(user: User) -> ColumnElement[bool] | None:
    """Authority staff see the ledger of their level and the levels below (the region authority
    sees all, :func:`engine.directory.authority_scope`); departments their own."""
    scope = authority_scope(user)
    if scope is not None:
        if user.department.division.level == "region":
            return None
        return Breach.department_id.in_(departments_in(scope))
    return Breach.department_id == user.department_id


@dataclass(frozen=True)
class BreachEntry:
    """An entry of the ledger as pages, the API and the export show it."""

    id: int
    instance_id: int | None
    department_id: int
    department_name: Label
    article: str
    kind: str
    evidence: dict[str, Any]
    recorded_at: datetime
    status: str
    appeal_reason: str | None
    appeal_status: str | None
    appeal_decision: str | None
    appealed_at: datetime | None
    rectification_instance_id: int | None
    rectified_at: datetime | None
    count: int = 1  # the refusals of a day it stands for (a refused use, art. 14); else 1


def entry_of(row: Breach) -> BreachEntry:
    """The entry of a row whose department is loaded (or loadable: one query)."""
    return BreachEntry(
        id=row.id,
        instance_id=row.instance_id,
        department_id=row.department_id,
        department_name=row.department.label,
        article=row.article,
        kind=row.kind,
        evidence=dict(row.evidence or {}),
        recorded_at=row.recorded_at,
        status=row.status,
        appeal_reason=row.appeal_reason,
        appeal_status=row.appeal_status,
        appeal_decision=row.appeal_decision,
        appealed_at=row.appealed_at,
        rectification_instance_id=row.rectification_instance_id,
        rectified_at=row.rectified_at,
        count=row.count or 1,
    )


@dataclass(frozen=True)
class DepartmentOption:
    id: int
    name: Label


@dataclass(frozen=True)
class CaseRef:
    """A process instance as a link: its business key, state and subject."""

    business_key: str
    status: str
    resource_name: str


def case_ref(instance: ProcessInstance | None) -> CaseRef | None:
    if instance is None:
        return None
    return CaseRef(
        instance.business_key,
        instance.status,
        str((instance.summary or {}).get("resource_name", "")),
    )


@dataclass(frozen=True)
class Ledger:
    """One page of the ledger as a reader may see it."""

    rows: list[BreachEntry]
    total: int  # entries matching the filters, exact up to COUNT_CAP
    more: bool  # more than COUNT_CAP match: narrow the filters
    page: int
    pages: int


def _selected(user: User, f: Filters) -> Select[Breach]:
    """The entries the filters select among those the user may see (unordered); a date filter
    that is not a date is refused, naming the filter."""
    days = day_filters(
        {
            "from": (f.date_from, Message(N_("Recorded from"))),
            "to": (f.date_to, Message(N_("Recorded until"))),
        },
        Message(N_("The list cannot be shown")),
    )
    date_from, date_to = days["from"], days["to"]
    stmt = select(Breach)
    scope = visible_to(user)
    if scope is not None:
        stmt = stmt.where(scope)
    if f.department_id:
        stmt = stmt.where(Breach.department_id == f.department_id)
    if f.kind:
        stmt = stmt.where(Breach.kind == f.kind)
    if date_from:
        stmt = stmt.where(Breach.recorded_at >= datetime.combine(date_from, time(0), SHANGHAI))
    if date_to:
        stmt = stmt.where(
            Breach.recorded_at < datetime.combine(date_to + timedelta(days=1), time(0), SHANGHAI)
        )
    if f.appeal_status:
        stmt = stmt.where(Breach.appeal_status == f.appeal_status)
    if f.key:
        require("key", f.key, Message(N_("Business key")), max_length=40)
        stmt = stmt.where(
            Breach.instance_id.in_(
                select(ProcessInstance.id).where(
                    ProcessInstance.business_key.like(f"%{f.key.strip().upper()}%")
                )
            )
        )
    return stmt


def _newest_first(stmt: Select[Breach]) -> Select[Breach]:
    return stmt.options(selectinload(Breach.department)).order_by(
        Breach.recorded_at.desc(), Breach.id.desc()
    )


def ledger(
    session: Session, user: User, f: Filters, page: int = 1, page_size: int = PAGE_SIZE
) -> Ledger:
    """One page of the entries the user may see, newest first: a count that stops at
    :data:`engine.paging.COUNT_CAP` and the page (index ``ix_breach_recorded`` / ``ix_breach_department_recorded``),
    so a page costs O(offset + page) whatever the ledger holds."""
    stmt = _selected(user, f)
    cap = paging.COUNT_CAP
    total = paging.capped_count(session, stmt, Breach.id, cap)
    pages = paging.page_count(total, page_size, cap)
    page = min(max(1, page), pages)
    rows = session.scalars(
        _newest_first(stmt).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return Ledger([entry_of(r) for r in rows], min(total, cap), total > cap, page, pages)


def ledger_batches(
    session: Session, user: User, f: Filters, batch: int | None = None
) -> Iterator[list[BreachEntry]]:
    """The entries the filters select for an export, newest first, up to EXPORT_CAP (narrow the
    filters for more), in batches of ``batch`` (default EXPORT_BATCH), read one batch per query
    as the caller iterates: keyset paging on (``recorded_at``, ``id``) (index
    ``ix_breach_recorded`` / ``ix_breach_department_recorded``), no count and no offset, so each
    batch costs the same wherever it falls. The filters are checked now, before any row."""
    stmt = _newest_first(_selected(user, f))
    size = batch or EXPORT_BATCH

    def batches() -> Iterator[list[BreachEntry]]:
        left, after = EXPORT_CAP, None
        while left > 0:
            page = stmt
            if after is not None:
                page = page.where(
                    paging.beyond(Breach.recorded_at, Breach.id, after, descending=True)
                )
            rows = session.scalars(page.limit(min(size, left))).all()
            if rows:
                yield [entry_of(r) for r in rows]
            if len(rows) < min(size, left):
                return
            left -= len(rows)
            after = rows[-1].recorded_at, rows[-1].id

    return batches()


def filter_departments(session: Session, user: User) -> list[DepartmentOption]:
    """The departments the ledger can be filtered by: all, for an authority's officials; none
    for a department, which sees only its own entries."""
    if not user.department.is_authority:
        return []
    return [DepartmentOption(d.id, d.label) for d in departments(session)]


def breaches_of(session: Session, instance_id: int) -> list[Breach]:
    """The entries an instance recorded, in the order recorded."""
    return list(
        session.scalars(select(Breach).where(Breach.instance_id == instance_id).order_by(Breach.id))
    )


def breach_for(session: Session, user: User, breach_id: int) -> Breach:
    row = session.get(Breach, breach_id)
    if row is None:
        raise NotFound(Message("No breach %(id)s.", id=breach_id))
    scope = visible_to(user)
    if scope is not None and not session.scalar(
        select(func.count()).select_from(Breach).where(Breach.id == breach_id, scope)
    ):
        raise Forbidden(Message("This entry of the breach ledger belongs to another department."))
    return row


@dataclass(frozen=True)
class BreachPage:
    breach: BreachEntry
    instance: CaseRef | None  # the instance that recorded it
    rectification: CaseRef | None  # the rectification ordered, if any
    may_decide: bool  # the user coordinates the authority: orders rectifications, decides appeals
    own: bool  # the entry is the user's department's (it may appeal)


def breach_page(session: Session, user: User, breach_id: int) -> BreachPage:
    row = breach_for(session, user, breach_id)
    return BreachPage(
        entry_of(row),
        case_ref(instance_by_id(session, row.instance_id)),
        case_ref(instance_by_id(session, row.rectification_instance_id)),
        is_coordinator(user),
        row.department_id == user.department_id,
    )


def appeal(session: Session, clock: Clock, user: User, breach_id: int, reason: str) -> BreachEntry:
    row = breach_for(session, user, breach_id)
    if row.department_id != user.department_id:
        raise Forbidden(Message("Only the department in the entry may appeal it."))
    if row.appeal_status:
        when = row.appealed_at  # set with the status
        raise Conflict(
            Message(
                "This entry was already appealed on %(day)s.",
                day=when.astimezone(SHANGHAI).date().isoformat() if when else "-",
            )
        )
    checks = Checks()
    checks.text(
        "reason", reason, Message(N_("Reasons of the appeal")), multiline=True, required=True
    )
    checks.done(Message(N_("An appeal states its reasons.")))
    row.appeal_reason, row.appeal_status, row.appealed_at = reason.strip(), "pending", clock.now()
    _audit(session, clock, user, row, "breach_appealed", after={"reason": row.appeal_reason})
    session.flush()
    return entry_of(row)


def _audit(
    session: Session, clock: Clock, user: User, row: Breach, kind: str, **change: Any
) -> None:
    audit.record(
        session,
        clock.now(),
        kind,
        actor_id=user.id,
        instance_id=row.instance_id,
        object_type="breach",
        object_ref=str(row.id),
        **change,
    )


def _case_key(session: Session, row: Breach) -> str | None:
    instance = instance_by_id(session, row.instance_id)
    return instance.business_key if instance else None


def decide_appeal(
    session: Session, clock: Clock, user: User, breach_id: int, upheld: bool, reasons: str
) -> BreachEntry:
    row = breach_for(session, user, breach_id)
    if not is_coordinator(user):
        raise Forbidden(Message("Only coordinators of the data-sharing authority decide appeals."))
    if row.appeal_status != "pending":
        raise Conflict(Message("This entry has no pending appeal."))
    checks = Checks()
    checks.text("reasons", reasons, Message(N_("Reasons")), multiline=True, required=True)
    checks.done(Message(N_("A decision on an appeal states its reasons.")))
    before = {"appeal_status": row.appeal_status, "status": row.status}
    row.appeal_status, row.appeal_decision = ("upheld" if upheld else "rejected"), reasons.strip()
    if upheld:
        row.status = "withdrawn"
    after = {
        "appeal_status": row.appeal_status,
        "status": row.status,
        "reasons": row.appeal_decision,
    }
    _audit(session, clock, user, row, "breach_appeal_decided", before=before, after=after)
    # the decision binds the department in the entry: signed by the authority (docs/trust.md)
    sign_decision(
        session,
        clock,
        kind="appeal_decision",
        subject=appeal_subject(row.id),
        department_id=user.department_id,
        user=user,
        decision={
            "appeal_status": row.appeal_status,
            "reasons": row.appeal_decision,
            "appeal_reason": row.appeal_reason,
            "entry_status": row.status,
        },
        what={
            "breach": row.id,
            "article": row.article,
            "breach_kind": row.kind,
            "department": row.department.slug,
            "recorded_at": row.recorded_at,
            "case": _case_key(session, row),
        },
        instance_id=row.instance_id,
    )
    _tell(
        session,
        clock,
        row,
        "appeal_decided",
        decision=row.appeal_status,
        reasons=row.appeal_decision,
        actor_id=user.id,
    )
    session.flush()
    return entry_of(row)


CSV_COLUMNS = [
    "id",
    "recorded_at",
    "department",
    "article",
    "kind",
    "count",
    "business_key",
    "due",
    "status",
    "appeal_status",
    "appeal_reason",
    "appeal_decision",
]


def _csv_row(b: BreachEntry, gettext: Callable[[str], str] | None) -> list[Any]:
    return [
        b.id,
        b.recorded_at.astimezone(SHANGHAI).isoformat(timespec="minutes"),
        b.department_name.render(gettext),
        b.article,
        b.kind,
        b.count,
        b.evidence.get("business_key", ""),
        b.evidence.get("due", ""),
        b.status,
        b.appeal_status or "",
        b.appeal_reason or "",
        b.appeal_decision or "",
    ]


def export_csv_stream(
    batches: Iterable[list[BreachEntry]], gettext: Callable[[str], str] | None = None
) -> Iterator[str]:
    """The entries as CSV, piece by piece: the header, then one piece per batch (for a streamed
    response reading :func:`ledger_batches`); department names in the reader's language
    (``gettext``)."""
    yield "\ufeff" + csv_text([CSV_COLUMNS])
    for batch in batches:
        yield csv_text(_csv_row(b, gettext) for b in batch)


def record(
    session: Session,
    clock: Clock,
    department_id: int,
    article: str,
    kind: str,
    evidence: dict[str, Any],
    instance_id: int | None = None,
) -> Breach:
    """Add an entry to the ledger (art. 23); the one way entries are made."""
    row = Breach(
        instance_id=instance_id,
        department_id=department_id,
        article=article,
        kind=kind,
        evidence=evidence,
        recorded_at=clock.now(),
    )
    session.add(row)
    session.flush()
    _tell(session, clock, row, "breach_recorded")
    return row


@dataclass(frozen=True)
class Counted:
    """The entry a repeated breach counts in: its id and how many times it was recorded."""

    id: int
    count: int


_ONCE: dict[str, Any] = {}


def _once_upsert(dialect: str) -> Any:
    """Insert the entry, or add 1 to the count of the entry already named ``once``: one atomic
    statement (``INSERT … ON CONFLICT (once) DO UPDATE``), so concurrent refusals never make
    two entries nor lose a count. Built once per dialect."""
    stmt = _ONCE.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        table = Breach.__table__
        new = upsert(table)  # type: ignore[arg-type]
        stmt = _ONCE[dialect] = new.on_conflict_do_update(
            index_elements=["once"], set_={"count": table.c.count + 1}
        ).returning(table.c.id, table.c.count)
    return stmt


def record_once(
    session: Session,
    clock: Clock,
    once: str,
    department_id: int,
    article: str,
    kind: str,
    evidence: dict[str, Any],
) -> Counted:
    """Add an entry named ``once`` to the ledger, or count one more in the entry of that name:
    a breach repeated many times (a refused use, art. 14) is one entry with its count. The
    department is told of the entry once, when it is made."""
    conn = session.connection()
    entry_id, count = conn.execute(
        _once_upsert(conn.dialect.name),
        {
            "once": once,
            "department_id": department_id,
            "article": article,
            "kind": kind,
            "evidence": evidence,
            "recorded_at": clock.now(),
            "status": "recorded",
            "count": 1,
        },
    ).one()
    if count == 1:
        _notify(session, clock, None, department_id, entry_id, article, "", "breach_recorded")
    return Counted(entry_id, count)


def _tell(session: Session, clock: Clock, row: Breach, event: str, **payload: Any) -> None:
    """An outbox row to the department in the entry (its officials on the case and leaders are
    told by the notifications worker), written with the change."""
    key = str(row.evidence.get("business_key", ""))
    _notify(
        session, clock, row.instance_id, row.department_id, row.id, row.article, key, event, payload
    )


def _notify(
    session: Session,
    clock: Clock,
    instance_id: int | None,
    department_id: int,
    breach_id: int,
    article: str,
    business_key: str,
    event: str,
    payload: dict[str, Any] | None = None,
) -> None:
    add_row(
        session,
        OutboxMessage,
        instance_id=instance_id,
        department_id=department_id,
        template=event,
        payload={
            "business_key": business_key,
            "breach_id": breach_id,
            "article": article,
            **(payload or {}),
        },
        created_at=clock.now(),
        sent_at=None,
    )


def record_breach_effect(
    ctx: StepContext, role: str, kind: str, article: str, **evidence: Any
) -> None:
    """Sandbox helper ``record_breach(role, kind, article, **evidence)``: the department bound to
    ``role`` breached ``article``; a deadline given as ``start``/``days`` is explained.

    One lapse, one entry: when the instance already has an entry of ``kind`` for the same
    deadline (evidence ``due``), nothing is added — a deadline timer and a late completion may
    both see the same missed deadline."""
    due = evidence.get("due")
    if due is not None and any(
        (b.evidence or {}).get("due") == due
        for b in ctx.session.scalars(
            select(Breach).where(Breach.instance_id == ctx.instance.id, Breach.kind == kind)
        )
    ):
        return
    now = ctx.clock.now()
    full = {**evidence, "business_key": ctx.instance.business_key, "detected_at": now.isoformat()}
    if evidence.get("start") and evidence.get("days"):
        full["deadline"] = (
            ctx.calendar().deadline(evidence["start"], int(evidence["days"])).to_dict()
        )
    record(ctx.session, ctx.clock, ctx.department_of(role), article, kind, full, ctx.instance.id)
    ctx.audit("breach_recorded", breach=kind, article=article)


def open_rectification(
    session: Session, clock: Clock, user: User, breach_id: int, days: int | None = None
) -> CaseRef:
    """A coordinator orders the department in the entry to rectify within ``days`` working days
    (default: the ``rectification`` limit, engine/rules)."""
    row = breach_for(session, user, breach_id)
    if not is_coordinator(user):
        raise Forbidden(
            Message("Only coordinators of the data-sharing authority order rectifications.")
        )
    if row.rectification_instance_id is not None:
        raise Conflict(Message("A rectification was already ordered for this entry."))
    if row.status == "withdrawn":
        raise Conflict(Message("This entry was withdrawn on appeal."))
    data = {
        "breach_id": row.id,
        **rules.start_data(session, clock, "rectification_review"),
        "rectify_days": int(days)
        if days is not None
        else rules.days(session, clock, "rectification"),
        "breach_kind": row.kind,
        "breach_article": row.article,
        "provider_name": row.department.name,
        "authority_name": user.department.name,
        "resource_name": row.evidence.get("business_key") or row.kind,
    }
    summary: dict[str, str | int] = {
        "resource_name": f"{row.article} {row.evidence.get('business_key', '')}".strip(),
        "provider_name": row.department.name,
        "authority_name": user.department.name,
        "rectify_days": data["rectify_days"],  # the period ordered (pages compare the rule set's)
    }
    instance = start_instance(
        session,
        clock,
        active_definition(session, "rectification"),
        data,
        {"provider": row.department_id, "authority": user.department_id},
        user.id,
        summary,
    )
    row.rectification_instance_id = instance.id
    session.flush()
    return CaseRef(instance.business_key, instance.status, str(summary["resource_name"]))


def close_rectification(ctx: StepContext) -> None:
    """Action ``close_rectification``: the authority accepted the measures."""
    ctx.session.get_one(Breach, ctx.data["breach_id"]).rectified_at = ctx.clock.now()
