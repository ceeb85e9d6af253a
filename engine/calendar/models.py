"""Administrator calendar entries: days and schedules published after the shipped data."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
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


class DeadlineRecord(Base):
    """How a process variable holding a deadline was counted: its start and working days.

    Written by the runtime in the command whose script called ``deadline(start, n)`` and assigned
    the result to ``variable`` (one row per instance and variable, the latest assignment); deleted
    when the instance completes. A calendar notice finds the deadlines whose counting window
    ``(start_day, due_day]`` covers a changed day through ``ix_deadline_window``, so recomputing
    costs the deadlines touched, never everything stored.
    """

    __tablename__ = "deadline"
    __table_args__ = (
        UniqueConstraint("instance_id", "variable"),
        Index("ix_deadline_window", "start_day", "due_day"),
        Index("ix_deadline_days", "working_days"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    variable: Mapped[str] = mapped_column(String(100))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    working_days: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    start_day: Mapped[date] = mapped_column(Date)  # Asia/Shanghai day of the start (not counted)
    due_day: Mapped[date] = mapped_column(Date)  # the last working day counted


class CalendarNotice(Base):
    """A notice an administrator entered (national or regional), with what applying it did."""

    __tablename__ = "calendar_notice"
    __table_args__ = (UniqueConstraint("scope", "reference"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str] = mapped_column(String(300))
    days: Mapped[list] = mapped_column(JSON)  # [{day, kind, name, before, after}]
    moved: Mapped[int] = mapped_column(Integer)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class DeadlineChange(Base):
    """One deadline a notice moved: before → after, on the task and case pages."""

    __tablename__ = "deadline_change"
    __table_args__ = (
        Index("ix_deadline_change_notice", "notice_id", "id"),
        Index("ix_deadline_change_instance", "instance_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("calendar_notice.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    variable: Mapped[str] = mapped_column(String(100))
    before: Mapped[datetime] = mapped_column(UTCDateTime())
    after: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(500))  # the notice's days in the window, named
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
