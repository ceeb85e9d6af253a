"""Trust tables: the departments' signing keys and the signatures on binding decisions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime

if TYPE_CHECKING:
    from engine.directory.models import Department, User


class SigningKey(Base):
    """One SM2 key pair of a department. The private key is stored only encrypted under the
    key-encryption key (AES-256-GCM, the key id as associated data); a retired key signs nothing
    more but stays, so that what it signed can still be verified."""

    __tablename__ = "signing_key"
    __table_args__ = (Index("ix_signing_key_department_status", "department_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)  # SM3 of the public key's DER
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # 65 bytes: 04 || x || y
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)  # nonce || ciphertext+tag
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | retired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    department: Mapped[Department] = relationship(lazy="select")


class Signature(Base):
    """A department's SM2 signature on the canonical JSON of one decision (docs/trust.md)."""

    __tablename__ = "signature"
    __table_args__ = (Index("ix_signature_subject", "subject", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # provider_reply, coordination_decision, …
    subject: Mapped[str] = mapped_column(String(80))  # a business key, or e.g. "breach:12"
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    signer_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    canonical: Mapped[str] = mapped_column(Text)  # the signed bytes, UTF-8
    digest: Mapped[str] = mapped_column(String(64))  # SM3 of the canonical bytes, hex
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # DER SEQUENCE { r, s }
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_key.key_id"))
    signer_id: Mapped[str] = mapped_column(String(64))  # the SM2 distinguishing ID (Z value)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # verification code for people
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    department: Mapped[Department] = relationship(lazy="select")
    signer: Mapped[User | None] = relationship(lazy="select")
    key: Mapped[SigningKey] = relationship(lazy="select")
