"""Versioned statutory rule sets: one row per version, one row per limit of a version."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime


class RuleSet(Base):
    """A version of the time limits. Published versions never change; the one in force at an
    instant is the published version with the latest effective date on or before that day."""

    __tablename__ = "rule_set"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(Text, default="")  # the texts it implements, notes
    state: Mapped[str] = mapped_column(String(20))  # draft | published
    effective_from: Mapped[date | None] = mapped_column(Date, index=True)  # set on publishing
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    limits: Mapped[list[RuleLimit]] = relationship(
        back_populates="rule_set", order_by="RuleLimit.id", cascade="all, delete-orphan"
    )


class RuleLimit(Base):
    """One limit of a version: working days, or (the annual report) a month and day."""

    __tablename__ = "rule_limit"
    __table_args__ = (UniqueConstraint("rule_set_id", "name", name="uq_rule_limit_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("rule_set.id"))
    name: Mapped[str] = mapped_column(String(40))
    days: Mapped[int | None] = mapped_column(Integer)  # working days
    month_day: Mapped[str | None] = mapped_column(String(5))  # MM-DD (the annual report)
    article: Mapped[str] = mapped_column(String(200), default="")  # "" = no statutory limit
    statutory: Mapped[bool] = mapped_column(Boolean, default=False)
    rule_set: Mapped[RuleSet] = relationship(back_populates="limits")
