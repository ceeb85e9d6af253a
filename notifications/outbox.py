"""Outbox delivery. Messages are written in the transaction of the state change that caused them;
delivery marks them sent. The in-app channel needs nothing more: the department's inbox reads its
messages from the table. SMTP delivery plugs in here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.workflow.models import OutboxMessage


def drain(session: Session, clock: Clock, limit: int = 500) -> int:
    pending = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    now = clock.now()
    for message in pending:
        message.sent_at = now
    return len(pending)
