"""Notification tables: what each official is told (one row per recipient), their preferences and
their department's defaults, and the marks that keep the daily jobs to once a day.

The bell on every page counts a user's unread rows through ``ix_notification_unread`` (a partial
index on ``user_id`` of the unread rows), so the count costs one index range scan however many
notifications are stored; the list pages through ``ix_notification_user`` newest first.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime

UNREAD = text("read_at IS NULL")


class Notification(Base):
    """One message to one official: what happened (``kind`` and ``payload``, rendered in the
    reader's language when shown or sent), where to act (``link``), by when (``due_at``)."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user", "user_id", "id"),
        Index(
            "ix_notification_unread",
            "user_id",
            "id",
            postgresql_where=UNREAD,
            sqlite_where=UNREAD,
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(60))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    business_key: Mapped[str | None] = mapped_column(String(40))
    link: Mapped[str] = mapped_column(String(300), default="")  # the page that acts on it
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the deadline, if any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # what made it, once per recipient: "o<outbox id>:u<user id>", "due:<task id>:u<user id>" …
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)


class NotificationPreference(Base):
    """A user's own choices; None means "as my department's defaults say"."""

    __tablename__ = "notification_preference"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(5), default="zh")  # zh | en
    email: Mapped[bool | None] = mapped_column(Boolean)
    webhook: Mapped[bool | None] = mapped_column(Boolean)
    digest: Mapped[bool | None] = mapped_column(Boolean)
    email_address: Mapped[str] = mapped_column(String(200), default="")
    messaging_id: Mapped[str] = mapped_column(String(100), default="")  # account on the platform
    quiet_from: Mapped[str | None] = mapped_column(String(5))  # "HH:MM", Asia/Shanghai
    quiet_until: Mapped[str | None] = mapped_column(String(5))


class DepartmentNotificationDefaults(Base):
    """What a department's officials get unless they choose otherwise; its leader edits them."""

    __tablename__ = "notification_department_default"
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook: Mapped[bool] = mapped_column(Boolean, default=False)
    digest: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_from: Mapped[str] = mapped_column(String(5), default="")
    quiet_until: Mapped[str] = mapped_column(String(5), default="")


class NotificationJobMark(Base):
    """How far a daily job got: the day it last ran and, for windows, the last day it covered.
    The job locks its row, so two workers never run the same day twice."""

    __tablename__ = "notification_job_mark"
    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date | None] = mapped_column(Date)
    through: Mapped[date | None] = mapped_column(Date)
