"""The directory (art. 4): administrative divisions, departments, officials and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime
from engine.i18n import Label

GENERAL_OFFICE = (
    "general_office"  # the duty of 自治区人民政府办公厅 (no one decides their own case)
)


class Division(Base):
    """An administrative division, GB/T 2260 code: region, city or county level."""

    __tablename__ = "division"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))  # region | city | county
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"))

    @property
    def label(self) -> Label:
        """The name in both languages, rendered in the reader's (engine.i18n.Label)."""
        return Label(self.name, self.name_en)


class Department(Base):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"), index=True)
    is_authority: Mapped[bool] = mapped_column(Boolean, default=False)
    duties: Mapped[list] = mapped_column(
        JSON, default=list
    )  # e.g. base:population, project_review:drc
    # a merged, split or dissolved department stays (its history names it) but is inactive
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # the department that took over a merged or split one (the first successor of a split)
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    division: Mapped[Division] = relationship(lazy="select")

    @property
    def coordinates(self) -> bool:
        """Does this department coordinate disputes: a data-sharing authority, or the region
        government's general office (which coordinates where the region authority is a party)?"""
        return self.is_authority or GENERAL_OFFICE in (self.duties or [])

    @property
    def label(self) -> Label:
        """The name in both languages, rendered in the reader's (engine.i18n.Label)."""
        return Label(self.name, self.name_en)


class DepartmentName(Base):
    """One change of a department's name (or its end by a merger or split): the name it had
    until ``until``, what it became, who changed it and why. Pages name a renamed department
    "formerly …" and a case's history shows the name the department had at the time."""

    __tablename__ = "department_name"
    __table_args__ = (Index("ix_department_name_department", "department_id", "until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    name: Mapped[str] = mapped_column(String(200))  # the old name
    name_en: Mapped[str] = mapped_column(String(200))
    new_name: Mapped[str] = mapped_column(String(200))
    new_name_en: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column(UTCDateTime())  # the new name applies from here
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="rename")  # rename | merge | split


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    # the name English pages show; empty: they show display_name
    display_name_en: Mapped[str] = mapped_column(String(100), default="", server_default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    job_roles: Mapped[list] = mapped_column(
        JSON, default=list
    )  # official | leader | coordinator | admin
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # single sign-on: the identity provider's value of the linking claim for this person, when
    # GOVSHARE_OIDC_LINK=external_id (e.g. an employee number); unique (engine.directory.sso)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)
    # the provider's subject (``sub``) this account was first signed in with; from then on only
    # that subject signs it in (engine.directory.sso)
    sso_subject: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # set by an administrator's password reset: the user must choose a new password before
    # anything else (engine.directory.accounts)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    department: Mapped[Department] = relationship(lazy="select")

    # The user protocol of web sign-in (Flask-Login's names; plain Python, no web import).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def has_password(self) -> bool:
        """Has a local password (an account made by single sign-on may have none)."""
        return bool(self.password_hash)

    def get_id(self) -> str:
        return str(self.id)

    @property
    def label(self) -> Label:
        """The display name in both languages (Chinese where no English one is set)."""
        return Label(self.display_name, self.display_name_en or None)


class ApiToken(Base):
    """A department system's credential: only the SHA-256 of the token is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    label: Mapped[str] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user: Mapped[User] = relationship(lazy="select")


class UserSession(Base):
    """A signed-in browser: the session cookie carries only ``id`` (random, unguessable).

    A record ends when it is revoked (sign-out, deactivation, password change), after the
    absolute lifetime or after the idle limit; every request checks it (engine.directory.sessions).
    """

    __tablename__ = "user_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class SignInFailure(Base):
    """One failed or refused sign-in, counted per account name and per client address over a
    window (engine.directory.signin). Kept in the database so that every worker and every host
    counts the same failures."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (
        Index("ix_sign_in_failure_username", "username", "at"),
        Index("ix_sign_in_failure_address", "address", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))


class SsoPendingSignIn(Base):
    """A single sign-on sent to the identity provider and not yet back: its random ``state``
    and ``nonce``, good once (``used_at``) and for a few minutes (engine.directory.sso)."""

    __tablename__ = "sso_pending_sign_in"
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_path: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class Delegation(Base):
    """Leave cover (issue 14): while it runs, the tasks offered to or claimed by ``absent`` are
    offered to ``deputy`` as well (engine.directory.delegation).

    It runs from ``starts_at`` (00:00 Asia/Shanghai of the first day) until ``ends_at`` (24:00 of
    the last day, or the moment it was ended early): every query compares with the clock, so it
    ends by itself and no job is needed."""

    __tablename__ = "delegation"
    __table_args__ = (
        Index("ix_delegation_deputy", "deputy_id", "ends_at"),
        Index("ix_delegation_absent", "absent_id", "ends_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    absent_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    deputy_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_early_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    absent: Mapped[User] = relationship(foreign_keys=[absent_id], lazy="select")
    deputy: Mapped[User] = relationship(foreign_keys=[deputy_id], lazy="select")
