"""Delivery of external messages (e-mail, the outgoing webhook): the ``delivery`` table and
:func:`enqueue`, written in the transaction of the change that caused the message.

One row is one message to one recipient on one channel. Its ``key`` (e.g. ``n123:email``) is
unique: enqueuing the same key again leaves the first row as it is, so a producer that runs twice
(a retried command, a re-drained outbox) never sends twice. Transport is at-least-once (a worker
killed after sending, before recording it, sends again after its lease expires); the key travels
with every message (e-mail ``Message-ID`` and ``X-Govshare-Delivery``, webhook
``Idempotency-Key``) so a receiver that remembers keys sees each message exactly once. The
worker that sends due rows is :mod:`notifications.sending`.

States: ``pending`` (due at ``next_attempt_at``) → ``sending`` (claimed by a worker until
``next_attempt_at``, its lease expiry) → ``sent``; or, after the configured number of attempts,
``dead`` (a dead letter an administrator may retry).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Table, Text, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base, UTCDateTime
from engine.i18n import N_

CHANNELS = ("email", "webhook")
STATUSES = ("pending", "sending", "sent", "dead")
# what people read for the channels and states (translated where shown)
CHANNEL_LABELS = {"email": N_("E-mail"), "webhook": N_("Messaging platform (webhook)")}
STATUS_LABELS = {
    "pending": N_("waiting"),
    "sending": N_("being sent"),
    "sent": N_("sent"),
    "dead": N_("failed"),
}


class Delivery(Base):
    """One external message to one recipient on one channel."""

    __tablename__ = "delivery"
    __table_args__ = (Index("ix_delivery_due", "status", "next_attempt_at", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(500))  # None on the webhook: configured
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # pending: when the next attempt is due; sending: when the claiming worker's lease expires
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(40))  # the lease holder's token
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def first_attempt_at(now: datetime, not_before: datetime | None, urgent: bool) -> datetime:
    """When a new delivery is first due: now, or after the recipient's quiet hours unless urgent."""
    if urgent or not_before is None or not_before <= now:
        return now
    return not_before


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    user_id: int | None,
    address: str | None,
    subject: str,
    text: str,
    link: str | None,
    data: dict[str, Any] | None,
    urgent: bool = False,
    not_before: datetime | None = None,
    now: datetime,
) -> bool:
    """Queue one message in the caller's transaction; True if queued, False if ``key`` exists
    (the existing row is left as it is, whatever its state). ``not_before`` (quiet hours) is
    ignored for ``urgent`` messages. Raises ValueError for an unknown channel or an e-mail
    without address."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown delivery channel {channel!r}")
    if channel == "email" and not address:
        raise ValueError("an e-mail delivery needs an address")
    values = {
        "key": key,
        "channel": channel,
        "user_id": user_id,
        "address": address,
        "subject": subject[:500],
        "text": text,
        "link": link,
        "data": data or {},
        "urgent": urgent,
        "not_before": not_before,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": first_attempt_at(now, not_before, urgent),
        "created_at": now,
    }
    table: Table = Delivery.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])
    else:  # pragma: no cover - the two supported databases are above
        stmt = insert(table)
    inserted = session.execute(stmt.values(values).returning(table.c.id)).first()
    return inserted is not None
