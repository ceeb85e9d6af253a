"""Department systems (art. 5, 7): registered API clients of a department and their scoped tokens.

Only the SHA-256 of a token is stored; the token itself is shown once, when it is issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime
from engine.directory.models import Department


class ApiClient(Base):
    """A department's system that calls the API, on the e-government internal network or the
    extranet (``network``: internal | extranet, the catalog's values)."""

    __tablename__ = "api_client"
    __table_args__ = (UniqueConstraint("department_id", "name", name="uq_api_client_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    network: Mapped[str] = mapped_column(String(20))
    contact: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    department: Mapped[Department] = relationship(lazy="select")


class ApiClientToken(Base):
    """One token of a client: its scopes, expiry, revocation, rotation and last use."""

    __tablename__ = "api_client_token"
    __table_args__ = (Index("ix_api_client_token_client", "client_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rotated_from_id: Mapped[int | None] = mapped_column(ForeignKey("api_client_token.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    client: Mapped[ApiClient] = relationship(lazy="select")
