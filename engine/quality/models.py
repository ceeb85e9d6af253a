"""Data-quality tables (art. 13, 15): verifications of suspected errors, service on proof."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class Verification(Base):
    """A suspected data error under verification (art. 15): while open, the record is flagged."""

    __tablename__ = "verification"
    __table_args__ = (Index("ix_verification_flag", "resource_id", "record_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    record_id: Mapped[str] = mapped_column(String(120))
    field: Mapped[str] = mapped_column(String(120))
    value_seen: Mapped[str] = mapped_column(Text, default="")
    value_expected: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    outcome: Mapped[str | None] = mapped_column(
        String(20)
    )  # corrected | data_correct | ruled_wrong | ruled_right
    corrected_on: Mapped[date | None] = mapped_column(Date)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ServedOnProof(Base):
    """A citizen served on valid proof while the record was under verification (art. 15)."""

    __tablename__ = "served_on_proof"
    id: Mapped[int] = mapped_column(primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("verification.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    proof: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
