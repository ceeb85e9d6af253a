"""The audit trail: one row per change of state, whoever made it and wherever it happened.

Every service that changes something records an event here in the transaction of the change,
so an event exists exactly when the change was committed. An event names its actor (a user id,
or none for the worker), the time by the injected clock, what kind of change it was, the object
it concerns (``object_type`` and ``object_ref``: a business key, a catalog code, a user name,
``process:version``) and, where it means something, the values before and after.

The table sits in the foundation so that every area, the directory included, may write to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base, UTCDateTime, add_row


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_ref", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_ref: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


def record(
    session: Session,
    at: datetime,
    kind: str,
    *,
    actor_id: int | None = None,
    instance_id: int | None = None,
    object_type: str | None = None,
    object_ref: str | None = None,
    before: Any = None,
    after: Any = None,
    **detail: Any,
) -> None:
    """Append an event to the caller's transaction (it is written with the change, or not at all;
    inside a command, with the command's other events, :func:`engine.db.deferring`).

    ``before`` and ``after`` are kept in ``detail`` when given; the remaining keyword arguments
    are stored as they are (plain JSON values)."""
    if before is not None:
        detail["before"] = before
    if after is not None:
        detail["after"] = after
    add_row(
        session,
        AuditEvent,
        instance_id=instance_id,
        at=at,
        actor_id=actor_id,
        kind=kind,
        object_type=object_type,
        object_ref=None if object_ref is None else str(object_ref)[:200],
        detail=detail,
    )


def events_for(
    session: Session, object_type: str, object_ref: str, limit: int = 200
) -> list[AuditEvent]:
    """The newest events of one object (indexed), newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_ref == object_ref)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
