"""What administrators see of external deliveries (the page 通知投递 and ``govshare
notifications``): dead letters first, the queue, what was sent; retrying a dead letter; queueing
a test message.

Pages are read through the ``(status, next_attempt_at, id)`` index from a cursor (the last row's
id), so a page costs the same however many deliveries are stored. Every retry and every test
message writes an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from engine import paging
from engine.audit import record
from engine.clock import Clock
from engine.directory import is_administrator, user_by_name
from engine.directory.models import User
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.i18n import N_, Label, Message
from notifications.delivery import CHANNEL_LABELS, CHANNELS, Delivery, enqueue
from notifications.preferences import settings_of

PAGE_SIZE = 50
VIEWS = ("dead", "pending", "sending", "sent", "all")
# newest dead letter and newest sent first; the queue in the order it will be sent
_DESCENDING = {"dead", "sent"}


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    key: str
    channel: str
    recipient: Label | None  # the user's display name, in both languages
    address: str | None
    subject: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime  # pending: next attempt; sending: lease end; dead: when it died
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class DeliveryPage:
    view: str
    rows: list[DeliveryRow]
    next_after: int | None  # the cursor of the next page, None on the last one
    dead: int
    pending: int


def _require_administrator(user: User | None) -> None:
    if user is not None and not is_administrator(user):
        raise Forbidden(Message("Only administrators see and retry notification deliveries."))


def _row(d: Delivery, name: str | None, name_en: str | None = None) -> DeliveryRow:
    return DeliveryRow(
        id=d.id,
        key=d.key,
        channel=d.channel,
        recipient=Label(name, name_en or None) if name else None,
        address=d.address,
        subject=d.subject,
        status=d.status,
        attempts=d.attempts,
        last_error=d.last_error,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        sent_at=d.sent_at,
    )


def count(session: Session, status: str, cap: int = paging.BADGE_CAP) -> int:
    """Deliveries in ``status``, counted up to ``cap`` + 1 (the administrators' menu badge:
    "99+"); at most ``cap`` + 1 entries of ``ix_delivery_due`` read, whatever is stored."""
    return paging.capped_count(
        session, select(Delivery.id).where(Delivery.status == status), Delivery.id, cap
    )


def list_deliveries(
    session: Session,
    user: User | None = None,
    view: str = "dead",
    after: int | None = None,
    page_size: int = PAGE_SIZE,
) -> DeliveryPage:
    """One page of ``view`` (dead, pending, sending, sent or all), after the row ``after``."""
    _require_administrator(user)
    if view not in VIEWS:
        raise ValidationFailed(
            Message("Show: choose one of the lists offered."),
            [{"field": "status", "label": Message(N_("Show")), "message": Message("unknown")}],
        )
    stmt = select(Delivery, User.display_name, User.display_name_en).outerjoin(
        User, User.id == Delivery.user_id
    )
    if view == "all":
        stmt = stmt.order_by(Delivery.id.desc())
        if after is not None:
            stmt = stmt.where(Delivery.id < after)
    else:
        order = (Delivery.next_attempt_at, Delivery.id)
        stmt = stmt.where(Delivery.status == view)
        descending = view in _DESCENDING
        stmt = stmt.order_by(*(c.desc() for c in order) if descending else order)
        cursor = session.get(Delivery, after) if after is not None else None
        if cursor is not None:
            position = tuple_(*order)
            mark = tuple_(cursor.next_attempt_at, cursor.id)
            stmt = stmt.where(position < mark if descending else position > mark)
    found = session.execute(stmt.limit(page_size + 1)).all()
    rows = [_row(d, name, name_en) for d, name, name_en in found[:page_size]]
    return DeliveryPage(
        view=view,
        rows=rows,
        next_after=rows[-1].id if len(found) > page_size else None,
        dead=count(session, "dead", paging.COUNT_CAP),  # "1000+", as lists show counts
        pending=count(session, "pending", paging.COUNT_CAP),
    )


def retry(session: Session, clock: Clock, delivery_id: int, user: User | None = None) -> str:
    """Send a dead letter (or a pending delivery) again now, with a fresh count of attempts;
    returns its key."""
    _require_administrator(user)
    row = session.get(Delivery, delivery_id, with_for_update=True)
    if row is None:
        raise NotFound(Message("No delivery %(id)s.", id=delivery_id))
    if row.status not in ("dead", "pending"):
        raise Conflict(
            Message(
                "Delivery %(id)s is being sent or was sent; only a failed or waiting one is "
                "retried.",
                id=delivery_id,
            )
        )
    _requeue(session, clock, row, user)
    return row.key


def retry_all_dead(session: Session, clock: Clock, user: User | None = None) -> int:
    """Queue every dead letter again; returns how many."""
    _require_administrator(user)
    rows = session.scalars(
        select(Delivery).where(Delivery.status == "dead").with_for_update()
    ).all()
    for row in rows:
        _requeue(session, clock, row, user)
    return len(rows)


def _requeue(session: Session, clock: Clock, row: Delivery, user: User | None) -> None:
    before = {"status": row.status, "attempts": row.attempts}
    now = clock.now()
    row.status, row.attempts, row.next_attempt_at, row.claim = "pending", 0, now, None
    record(
        session,
        now,
        "delivery_retried",
        actor_id=user.id if user else None,
        object_type="delivery",
        object_ref=row.key,
        before=before,
        after={"status": "pending", "attempts": 0},
        channel=row.channel,
        last_error=(row.last_error or "")[:500],
    )


def queue_test(
    session: Session,
    clock: Clock,
    username: str,
    channel: str,
    address: str | None,
    user: User | None = None,
) -> int:
    """Queue an urgent test message to ``username`` on ``channel`` (e-mail to ``address``,
    the webhook to ``address`` or the configured URL); returns the delivery's id."""
    _require_administrator(user)
    if channel not in CHANNELS:
        raise ValidationFailed(
            Message("Channel: choose e-mail or webhook."),
            [{"field": "channel", "label": Message(N_("Channel")), "message": Message("unknown")}],
        )
    recipient = user_by_name(session, username)
    if channel == "email" and not address:
        address = settings_of(session, recipient).email_address or None  # from 通知设置
    if channel == "email" and not (address and "@" in address):
        raise ValidationFailed(
            Message(
                "E-mail address: the official has none in their notification settings; give "
                "the address the test message goes to."
            ),
            [
                {
                    "field": "to",
                    "label": Message(N_("E-mail address")),
                    "message": Message("required"),
                }
            ],
        )
    now = clock.now()
    key = f"test:{recipient.username}:{channel}:{now.isoformat()}"
    subject = Message("Test message from the government data-sharing system").render()
    text = Message(
        "This test message was sent to %(name)s to check the channel %(channel)s.",
        name=recipient.display_name,
        channel=Message(CHANNEL_LABELS[channel]),
    ).render()
    enqueue(
        session,
        key=key,
        channel=channel,
        user_id=recipient.id,
        address=address,
        subject=subject,
        text=text,
        link="/",
        data={"kind": "test", "title": subject, "text": text, "link": "/"},
        urgent=True,
        now=now,
    )
    delivery_id = session.scalar(select(Delivery.id).where(Delivery.key == key))
    assert delivery_id is not None
    record(
        session,
        now,
        "delivery_test_queued",
        actor_id=user.id if user else None,
        object_type="delivery",
        object_ref=key,
        channel=channel,
        recipient=recipient.username,
    )
    return delivery_id


def delivery_status(session: Session, delivery_id: int) -> DeliveryRow:
    """One delivery as administrators see it."""
    found = session.execute(
        select(Delivery, User.display_name, User.display_name_en)
        .outerjoin(User, User.id == Delivery.user_id)
        .where(Delivery.id == delivery_id)
    ).first()
    if found is None:
        raise NotFound(Message("No delivery %(id)s.", id=delivery_id))
    return _row(*found)
