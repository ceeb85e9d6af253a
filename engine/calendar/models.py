"""Administrator calendar entries: days and schedules published after the shipped data."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class CalendarEntry(Base):
    """An administrator's day: a holiday or make-up working day published after the package."""

    __tablename__ = "calendar_day"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday | workday
    scope: Mapped[str] = mapped_column(String(10))  # national | regional
    name: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str] = mapped_column(String(300))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CalendarSchedule(Base):
    """Marks a year's national or regional schedule as entered, with the notice's reference."""

    __tablename__ = "calendar_schedule"
    __table_args__ = (UniqueConstraint("scope", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(300))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
