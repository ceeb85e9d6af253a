"""Oversight tables: the breach ledger (art. 23), evaluation campaigns (art. 17), IT projects (art. 20)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime

if TYPE_CHECKING:
    from engine.directory.models import Department


class Breach(Base):
    """An entry of the breach ledger (art. 23), with its evidence."""

    __tablename__ = "breach"
    __table_args__ = (
        # the ledger pages newest first: all of it, or one department's (migration 0025)
        Index("ix_breach_recorded", "recorded_at", "id"),
        Index("ix_breach_department_recorded", "department_id", "recorded_at", "id"),
        # a refused use's entry of the day (migration 0047)
        Index("uq_breach_once", "once", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    article: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(60))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(
        String(20), default="recorded", server_default="recorded"
    )  # recorded | withdrawn
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appeal_status: Mapped[str | None] = mapped_column(String(20))  # pending | upheld | rejected
    appeal_decision: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rectification_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # a refused use (art. 14) is one entry per department, grant (or resource) and day: ``once``
    # names it and ``count`` says how many refusals it stands for (NULL ``once``: one event)
    once: Mapped[str | None] = mapped_column(String(120))
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    department: Mapped[Department] = relationship(lazy="select")


class EvaluationCampaign(Base):
    """The yearly evaluation (art. 17) started for a year, exactly once."""

    __tablename__ = "evaluation_campaign"
    year: Mapped[int] = mapped_column(
        Integer, primary_key=True
    )  # the year in which reports are due (about the year before)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FigureTally(Base):
    """The yearly figures (art. 17, 24) kept in step with the process facts: how many facts of a
    figure and value a year holds, per department (``department_id`` 0: none, or the region's
    rows of figures that count instances once). Written by the transaction that records the fact
    (:func:`engine.oversight.summary.tally_fact`); :func:`engine.oversight.summary.rebuild`
    recounts it from ``process_fact``."""

    __tablename__ = "figure_tally"
    __table_args__ = (
        # the region's figures by name, whatever the departments' own rows (migration 0045)
        Index("ix_tally_figure", "year", "figure", "department_id", "value", "n"),
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    figure: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    n: Mapped[int] = mapped_column(Integer, default=0)


class Project(Base):
    """A government IT project (art. 20) with its pre-compiled project data-resource catalog."""

    __tablename__ = "project"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    catalog: Mapped[list] = mapped_column(
        JSON, default=list
    )  # draft catalog entries of the project
    status: Mapped[str] = mapped_column(
        String(20), default="draft"
    )  # draft | in_review | returned | approved | accepted
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    department: Mapped[Department] = relationship(lazy="select")
