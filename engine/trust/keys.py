"""The departments' SM2 signing keys, private keys encrypted at rest.

The key-encryption key (KEK) comes from configuration: ``GOVSHARE_KEY_ENCRYPTION_KEY``, 32 bytes
written as 64 hex digits or in base64. Demo mode (``GOVSHARE_DEMO=1``) uses a fixed demo KEK;
outside it, the web app, the worker and every CLI command that signs refuse to start without one
(:func:`require_key_encryption_key`). A private key is sealed with AES-256-GCM, a fresh 12-byte
nonce, and the key id as associated data, so a sealed key moved to another key's row does not
open.

A department's first signature makes its key (or ``govshare keys generate``); rotating retires
the active key, which keeps verifying what it signed, and makes a new one. Both are audited.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record
from engine.clock import Clock
from engine.directory import authority_of, department_by_slug, region_code
from engine.directory.models import Department
from engine.errors import GovshareError
from engine.i18n import Label, Message
from engine.trust import sm
from engine.trust.models import SigningKey

KEK_SETTING = "GOVSHARE_KEY_ENCRYPTION_KEY"
# Seals demo-mode keys only; production refuses to start without its own (docs/trust.md).
DEMO_KEK = sm.sm3(b"govshare demo key-encryption key, not a secret")
NONCE_BYTES = 12


class KeyConfigurationError(ValueError):
    """The key-encryption key is missing or malformed; the message names the setting."""


def key_encryption_key(environ: dict[str, str] | None = None) -> bytes:
    """The 32-byte KEK from ``GOVSHARE_KEY_ENCRYPTION_KEY`` (hex or base64); in demo mode without
    one, the demo KEK. Raises :class:`KeyConfigurationError` otherwise."""
    env = os.environ if environ is None else environ
    value = env.get(KEK_SETTING, "").strip()
    if not value:
        if env.get("GOVSHARE_DEMO", "").strip().lower() in ("1", "true", "yes", "on"):
            return DEMO_KEK  # demo mode (engine.seed.demo_mode reads the same setting)
        raise KeyConfigurationError(
            f"{KEK_SETTING} is not set: outside demo mode govshare refuses to start without the "
            "key-encryption key that protects the departments' signing keys. Set it to 32 random "
            "bytes in hex (python -c 'import secrets; print(secrets.token_hex(32))'), or run the "
            "demo with GOVSHARE_DEMO=1."
        )
    key = _decode_kek(value)
    if key is None or len(key) != 32:
        raise KeyConfigurationError(
            f"{KEK_SETTING} must be 32 bytes written as 64 hex digits or in base64."
        )
    demo = env.get("GOVSHARE_DEMO", "").strip().lower() in ("1", "true", "yes", "on")
    if key == DEMO_KEK and not demo:
        raise KeyConfigurationError(
            f"{KEK_SETTING} is the demo's key, which is published with the source: outside demo "
            "mode set it to 32 random bytes of your own."
        )
    return key


def _decode_kek(value: str) -> bytes | None:
    if len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def require_key_encryption_key() -> None:
    """Refuse to start (web, worker, signing commands) without a usable KEK."""
    key_encryption_key()


def seal(private: bytes, key_id: str, kek: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, private, key_id.encode())


def unseal(sealed: bytes, key_id: str, kek: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], key_id.encode())
    except InvalidTag:
        raise KeyConfigurationError(
            f"the signing key {key_id[:16]} does not open with the configured {KEK_SETTING} (a "
            "key made in demo mode, or under another key-encryption key): retire it with "
            "govshare keys rotate DEPARTMENT, which makes a new key under the configured one"
        ) from None


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    department: Label
    department_slug: str
    status: str
    created_at: datetime
    retired_at: datetime | None
    public_key_pem: str


def key_info(key: SigningKey) -> KeyInfo:
    return KeyInfo(
        key.key_id,
        key.department.label,
        key.department.slug,
        key.status,
        key.created_at,
        key.retired_at,
        sm.public_key_pem(key.public_key),
    )


def active_key(session: Session, department_id: int) -> SigningKey | None:
    """The department's key that signs now (the newest active one). Read without flushing the
    command's pending changes first: they concern neither keys nor each other's reading here."""
    with session.no_autoflush:
        return session.scalars(
            select(SigningKey)
            .where(SigningKey.department_id == department_id, SigningKey.status == "active")
            .order_by(SigningKey.id.desc())
            .limit(1)
        ).first()


def _new_key(
    session: Session, clock: Clock, department: Department, actor_id: int | None, why: str
) -> SigningKey:
    kek = key_encryption_key()
    pair = sm.generate_keypair()
    key_id = sm.fingerprint(pair.public)
    row = SigningKey(
        key_id=key_id,
        department=department,
        public_key=pair.public,
        private_key_encrypted=seal(pair.private, key_id, kek),
        status="active",
        created_at=clock.now(),
    )
    session.add(row)  # written with the command's changes, before its signatures (FK)
    record(
        session,
        clock.now(),
        "signing_key_created",
        actor_id=actor_id,
        object_type="department",
        object_ref=department.slug,
        key_id=key_id,
        reason=why,
    )
    return row


def signing_key_for(
    session: Session, clock: Clock, department_id: int, actor_id: int | None
) -> tuple[Department, SigningKey]:
    """The department and its active key (made on its first signature), read in one query."""
    with session.no_autoflush:
        department, key = session.execute(
            select(Department, SigningKey)
            .outerjoin(
                SigningKey,
                (SigningKey.department_id == Department.id) & (SigningKey.status == "active"),
            )
            .where(Department.id == department_id)
            .order_by(SigningKey.id.desc())
            .limit(1)
        ).one()
    return department, key or _new_key(session, clock, department, actor_id, "first signature")


def private_key(key: SigningKey) -> bytes:
    """The private key of a signing key, opened with the configured KEK."""
    return unseal(key.private_key_encrypted, key.key_id, key_encryption_key())


def generate(session: Session, clock: Clock, slug: str, actor_id: int | None = None) -> KeyInfo:
    """``govshare keys generate``: the department's key, made now if it has none."""
    department = department_by_slug(session, slug)
    key = active_key(session, department.id) or _new_key(
        session, clock, department, actor_id, "generated"
    )
    return key_info(key)


def rotate(session: Session, clock: Clock, slug: str, actor_id: int | None = None) -> KeyInfo:
    """Retire the department's active key (it keeps verifying) and make a new one."""
    department = department_by_slug(session, slug)
    old = active_key(session, department.id)
    if old is not None:
        old.status, old.retired_at = "retired", clock.now()
        record(
            session,
            clock.now(),
            "signing_key_retired",
            actor_id=actor_id,
            object_type="department",
            object_ref=department.slug,
            key_id=old.key_id,
        )
        session.flush()
    return key_info(_new_key(session, clock, department, actor_id, "rotated"))


def list_keys(session: Session, slug: str | None = None) -> list[KeyInfo]:
    """Every signing key (or one department's), by department, newest first."""
    query = select(SigningKey).order_by(SigningKey.department_id, SigningKey.id.desc())
    if slug:
        query = query.where(SigningKey.department_id == department_by_slug(session, slug).id)
    return [key_info(k) for k in session.scalars(query)]


def key_by_id(session: Session, key_id: str) -> SigningKey:
    key = session.scalars(select(SigningKey).where(SigningKey.key_id == key_id)).first()
    if key is None:
        raise GovshareError(Message("No signing key %(id)s.", id=key_id))
    return key


# a key's id and a function signing bytes with it (DER, default signer ID)
Signer = tuple[str, Callable[[bytes], bytes]]


def region_signer(session: Session, clock: Clock) -> Signer:
    """The region's data-sharing authority's active key (made on first use), which signs the
    audit chain's checkpoints and the auditor's bundles."""
    authority = authority_of(session, region_code(session))
    _, key = signing_key_for(session, clock, authority.id, None)
    secret, public = private_key(key), key.public_key
    return key.key_id, lambda data: sm.sign(data, secret, public)


def sign_checkpoint(session: Session, clock: Clock, payload: bytes) -> tuple[str, str]:
    """The audit chain's checkpoint signer (:func:`engine.audit.set_checkpoint_signer`): the
    region authority's key id and its SM2 signature (DER, hex) on the checkpoint."""
    key_id, sign = region_signer(session, clock)
    return key_id, sign(payload).hex()


def verify_checkpoint(session: Session, key_id: str, signature_hex: str, payload: bytes) -> bool:
    """The audit chain's checkpoint verifier (:func:`engine.audit.set_checkpoint_verifier`):
    whether ``signature_hex`` (DER, hex) is an SM2 signature on ``payload`` (default signer ID)
    by the key ``key_id``, a key (active or retired) of the region's data-sharing authority whose
    public key has that id."""
    authority = authority_of(session, region_code(session))
    key = session.scalars(
        select(SigningKey).where(
            SigningKey.key_id == key_id, SigningKey.department_id == authority.id
        )
    ).first()
    if key is None or sm.fingerprint(key.public_key) != key_id:
        return False
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    return sm.verify(payload, signature, key.public_key)
