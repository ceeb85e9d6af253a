"""Catalog tables (art. 8, 9, 10): entries, their versions, the search index and update events."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime

if TYPE_CHECKING:
    from engine.directory.models import Department, User


class Resource(Base):
    """A catalog entry. Its columns are the *published* version's metadata (what requests,
    search and filters use); every change is a ``ResourceVersion``."""

    __tablename__ = "resource"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    share_type: Mapped[str] = mapped_column(
        String(20), index=True
    )  # unconditional | conditional | not_shared
    conditions: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    info_items: Mapped[list] = mapped_column(
        JSON, default=list
    )  # [{name, data_type, share_type, conditions, base}]
    summary: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str] = mapped_column(
        String(20), default="department", index=True
    )  # base | thematic | department
    network: Mapped[str] = mapped_column(
        String(20), default="extranet", index=True
    )  # internal | extranet
    open_to_public: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    division_code: Mapped[str | None] = mapped_column(
        String(6), index=True
    )  # the catalog's level (provider's division)
    status: Mapped[str] = mapped_column(
        String(20), default="published", index=True
    )  # draft | published
    published_version: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    search_text: Mapped[str] = mapped_column(
        Text, default=""
    )  # name, code, summary, items: for LIKE verification
    connected: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )  # art. 7: provided through the platform
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict] = mapped_column(
        "metadata", JSON, default=dict
    )  # the full published entry
    provider: Mapped[Department] = relationship(lazy="select")


class ResourceVersion(Base):
    """One saved state of a catalog entry: who changed what, and where it is in publication."""

    __tablename__ = "resource_version"
    __table_args__ = (UniqueConstraint("resource_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(
        String(20)
    )  # draft | submitted | returned | published | superseded
    data: Mapped[dict] = mapped_column(JSON)
    changed_fields: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review_comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="select")


class CatalogTerm(Base):
    """Search index of published entries: CJK character bigrams and lower-cased ASCII words.

    Chinese has no spaces; bigrams (as Lucene's CJK analyzer does) make any two-character query an
    index lookup on both SQLite and PostgreSQL; the matched rows are then verified with LIKE.
    """

    __tablename__ = "catalog_term"
    __table_args__ = (Index("ix_catalog_term", "term", "resource_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)


class CatalogEvent(Base):
    """A law revision or change of function (art. 8): affected departments update their catalog
    within 15 working days."""

    __tablename__ = "catalog_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # law_revision | function_change
    occurred_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    department_ids: Mapped[list] = mapped_column(JSON)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
