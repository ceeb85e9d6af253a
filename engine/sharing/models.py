"""Sharing tables: grants (art. 12, 14) and dispute dossiers (art. 4, 11)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime


class Grant(Base):
    """A right to use a resource: scope (info items, period) and purpose (art. 12, 14)."""

    __tablename__ = "data_grant"
    __table_args__ = (
        # the art. 14 grant check: a department's grants on a resource, in the order issued
        Index("ix_data_grant_requester_resource", "requester_id", "resource_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    info_items: Mapped[list] = mapped_column(JSON)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date, index=True)  # expiry notices
    purpose: Mapped[str] = mapped_column(Text)
    # the application scenario (应用场景, :class:`UseScenario`) the use is bound to; NULL on grants
    # issued before revision 0047, which a department system uses only by naming the grant
    scenario: Mapped[str | None] = mapped_column(String(40))
    basis: Mapped[str] = mapped_column(
        String(30)
    )  # unconditional | approved | partial | negotiated | coordinated
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # the decision that issued it (NULL on grants issued before revision 0018)
    decision: Mapped[str | None] = mapped_column(String(30))  # granted | granted_in_part
    reasons: Mapped[str | None] = mapped_column(Text)  # why in part (art. 11) or why coordinated
    conditions: Mapped[str | None] = mapped_column(Text)  # conditions of use (共享条件)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # revocation (revision 0050, :func:`engine.sharing.grants.revoke_grant`): when, by whom, why;
    # a revoked grant's item rows end the day before, so no use check finds it any more
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    # the info items again, one row each, for the art. 14 grant check (:class:`GrantItem`)
    item_rows: Mapped[list[GrantItem]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class GrantItem(Base):
    """One info item of a grant, with the grant's department, resource and last day: the art. 14
    check walks the grants holding the item asked about that have not ended
    (``ix_data_grant_item_check``) and never visits a grant for other items or an ended one.
    Written with the grant (``Grant.item_rows``); a department's grants moved to a successor move
    their items too."""

    __tablename__ = "data_grant_item"
    __table_args__ = (
        Index(
            "ix_data_grant_item_check", "requester_id", "resource_id", "item", "until", "grant_id"
        ),
    )
    grant_id: Mapped[int] = mapped_column(
        ForeignKey("data_grant.id", ondelete="CASCADE"), primary_key=True
    )
    item: Mapped[str] = mapped_column(Text, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    until: Mapped[date] = mapped_column(Date)  # the grant's period_end, or FOREVER for none


FOREVER = date(9999, 12, 31)  # GrantItem.until of a grant without an end


class UseScenario(Base):
    """An application scenario (应用场景) a grant is bound to (art. 12, 14): the reference list
    kept by the data-sharing authority (migration 0047 seeds the Ningxia list; ``govshare
    scenarios``). A scenario no longer active is not offered to new requests; grants bound to it
    keep it."""

    __tablename__ = "use_scenario"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class GrantUse(Base):
    """One art. 14 use check, allowed or refused: the access log. Append-only: the application
    inserts these rows and never updates or deletes them (docs/trust.md)."""

    __tablename__ = "grant_use"
    __table_args__ = (
        Index("ix_grant_use_grant", "grant_id", "id"),
        Index("ix_grant_use_department", "department_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # an official's token
    client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))  # a system's
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("data_grant.id"))  # none matched: NULL
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    info_items: Mapped[list] = mapped_column(JSON)
    item_count: Mapped[int] = mapped_column(Integer)
    scenario: Mapped[str | None] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(Text)
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(30))  # the refusal's reason code


class DossierEntry(Base):
    """One piece of a dispute's dossier: an information request or answer, a meeting, the decision."""

    __tablename__ = "dossier_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # info_request | info_answer | meeting | decision
    party: Mapped[str] = mapped_column(String(20), default="")  # requester | provider | authority
    text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


def _append_only(_mapper: object, _connection: object, target: GrantUse) -> None:
    raise RuntimeError(f"the access log is append-only: row {target.id} cannot change")


event.listen(GrantUse, "before_update", _append_only)
event.listen(GrantUse, "before_delete", _append_only)
