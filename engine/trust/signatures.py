"""Signed decisions: a department's SM2 signature on the canonical JSON of a binding decision.

**Canonical form** (docs/trust.md): the decision document is a JSON object encoded as UTF-8 with
keys sorted, no insignificant whitespace (separators ``,`` and ``:``), non-ASCII characters as
themselves (not ``\\u`` escapes), and every time as UTC in ``YYYY-MM-DDTHH:MM:SSZ``. The signed
bytes are exactly the stored ``canonical`` text; its SM3 digest is stored beside it. The
document names what was decided (``kind``, the process and task, the submitted decision with its
scope and reasons), the object (``subject``: a business key), who (official and department),
when (``signed_at``), the rule-set version, and the key and signer ID.

A signature is **valid** when its canonical text hashes to the stored digest, the document names
the same kind, subject and key as its row, the key's public key has that key id (its SM3
fingerprint) and belongs to the row's department, the document names the row's department (by
its code), official (by user name) and time of signing, and the signature verifies with the
public key (retired keys included) under the stored signer ID. Anything else is **invalid**, and
says why. What is shown as signer, official and time is what the signed document says, never the
row's own (unsigned) columns.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, object_session

from engine.audit import record
from engine.clock import Clock
from engine.db import add_row
from engine.directory.models import Department, User
from engine.errors import NotFound
from engine.i18n import N_, Label, Message
from engine.trust import sm
from engine.trust.keys import private_key, signing_key_for
from engine.trust.models import Signature, SigningKey

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# what each kind of signed decision is called on pages, in the CLI and in the PDF
KIND_LABELS = {
    "provider_reply": Label("提供部门答复", "Provider's reply"),
    "coordination_decision": Label("协调决定", "Coordination decision"),
    "review_opinion": Label("联合审查意见", "Joint review opinion"),
    "annual_report": Label("年度共享工作情况报告", "Annual data-sharing report"),
    "appeal_decision": Label("申诉决定", "Appeal decision"),
}


def appeal_subject(breach_id: int) -> str:
    """What the signature of an appeal decision is filed under (and verified by): ``WG-<id>``,
    the entry of the breach ledger (违规) it decides."""
    return f"WG-{breach_id}"


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TIME_FORMAT)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return canonical_time(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def canonical_json(document: dict[str, Any]) -> bytes:
    """The signed bytes of a decision document (the canonical form above)."""
    return json.dumps(
        _plain(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def verification_code(signature: bytes) -> str:
    """A short code people type to find a signature: 12 base32 letters of SM3(signature)."""
    letters = base64.b32encode(sm.sm3(signature)).decode()[:12]
    return "-".join(letters[i : i + 4] for i in range(0, 12, 4))


def sign_decision(
    session: Session,
    clock: Clock,
    *,
    kind: str,
    subject: str,
    department_id: int,
    user: User | None,
    decision: dict[str, Any],
    what: dict[str, Any],
    rule_set_version: int | None = None,
    instance_id: int | None = None,
    task_id: int | None = None,
) -> str:
    """Sign ``decision`` (what was decided: scope, reasons …) for the department with its active
    key (made on its first signature), in the caller's transaction (inside a command, with its
    rows), and audit it; the signature's verification code."""
    department, key = signing_key_for(session, clock, department_id, user.id if user else None)
    signed_at = clock.now()
    document = {
        "kind": kind,
        "subject": subject,
        "what": what,
        "decision": decision,
        "signer": {
            "department": department.slug,
            "department_name": department.name,
            "official": user.username if user else None,
            "official_name": user.display_name if user else None,
        },
        "signed_at": signed_at,
        "rule_set_version": rule_set_version,
        "key_id": key.key_id,
        "signer_id": sm.DEFAULT_SIGNER_ID,
    }
    canonical = canonical_json(document)
    der = sm.sign(canonical, private_key(key), key.public_key)
    code = verification_code(der)
    add_row(  # with the command's other new rows, in one INSERT (engine.db.deferring)
        session,
        Signature,
        kind=kind,
        subject=subject,
        instance_id=instance_id,
        task_id=task_id,
        department_id=department_id,
        signer_user_id=user.id if user else None,
        canonical=canonical.decode("utf-8"),
        digest=sm.sm3(canonical).hex(),
        signature=der,
        key_id=key.key_id,
        signer_id=sm.DEFAULT_SIGNER_ID,
        code=code,
        signed_at=signed_at,
    )
    record(
        session,
        signed_at,
        "decision_signed",
        actor_id=user.id if user else None,
        instance_id=instance_id,
        object_type="signature",
        object_ref=subject,
        decision=kind,
        code=code,
        key_id=key.key_id,
        digest=sm.sm3(canonical).hex(),
    )
    return code


@dataclass(frozen=True)
class SignatureCheck:
    """One signature as anyone may verify it."""

    id: int
    kind: str
    kind_label: Label | str
    subject: str
    department: Label
    official: Label | None
    signed_at: datetime
    key_id: str
    signer_id: str
    code: str
    digest: str
    valid: bool
    problem: Message | None  # why it is invalid
    canonical: str
    signature_hex: str
    public_key_pem: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "department": self.department,
            "official": self.official,
            "signed_at": self.signed_at.isoformat(),
            "key_id": self.key_id,
            "signer_id": self.signer_id,
            "verification_code": self.code,
            "digest_sm3": self.digest,
            "valid": self.valid,
            "problem": self.problem,
            "canonical": self.canonical,
            "signature_der_hex": self.signature_hex,
            "public_key_pem": self.public_key_pem,
        }


def check(row: Signature) -> SignatureCheck:
    """Verify one stored signature (see the module's definition of valid); who signed and when
    as the signed document says."""
    document = _document(row)
    problem = _problem(row, row.key, document)
    department, official, signed_at = _signed_by(row, document)
    return SignatureCheck(
        id=row.id,
        kind=row.kind,
        kind_label=KIND_LABELS.get(row.kind, row.kind),
        subject=row.subject,
        department=department,
        official=official,
        signed_at=signed_at,
        key_id=row.key_id,
        signer_id=row.signer_id,
        code=row.code,
        digest=row.digest,
        valid=problem is None,
        problem=problem,
        canonical=row.canonical,
        signature_hex=row.signature.hex(),
        public_key_pem=sm.public_key_pem(row.key.public_key),
    )


def _document(row: Signature) -> dict[str, Any] | None:
    """The signed document (None: not a JSON object)."""
    try:
        document = json.loads(row.canonical)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _signer(document: dict[str, Any]) -> dict[str, Any]:
    signer = document.get("signer")
    return signer if isinstance(signer, dict) else {}


def _signed_by(
    row: Signature, document: dict[str, Any] | None
) -> tuple[Label, Label | None, datetime]:
    """The department, official and time the signed document names (the row's own columns only
    for a document that cannot be read, which is invalid anyway). The names are the signed ones;
    their English forms those of the department and user the document names."""
    if document is None:
        return row.department.label, row.signer.label if row.signer else None, row.signed_at
    signer = _signer(document)
    slug, username = signer.get("department"), signer.get("official")
    session = object_session(row)
    named_department = row.department if slug == row.department.slug else None
    if named_department is None and session is not None and isinstance(slug, str):
        named_department = session.scalars(
            select(Department).where(Department.slug == slug)
        ).first()
    department = Label(
        str(signer.get("department_name") or slug or "-"),
        named_department.name_en if named_department is not None else None,
    )
    official = None
    if username is not None:
        user = row.signer if row.signer is not None and row.signer.username == username else None
        if user is None and session is not None and isinstance(username, str):
            user = session.scalars(select(User).where(User.username == username)).first()
        official = Label(
            str(signer.get("official_name") or username),
            (user.display_name_en or None) if user is not None else None,
        )
    try:
        signed_at = datetime.strptime(str(document.get("signed_at")), TIME_FORMAT)
        signed_at = signed_at.replace(tzinfo=UTC)
    except ValueError:
        signed_at = row.signed_at
    return department, official, signed_at


def _problem(row: Signature, key: SigningKey, document: dict[str, Any] | None) -> Message | None:
    signed = row.canonical.encode("utf-8")
    if sm.sm3(signed).hex() != row.digest:
        return Message(N_("The signed text does not match its SM3 digest."))
    if document is None:
        return Message(N_("The signed text is not JSON."))
    if (document.get("kind"), document.get("subject"), document.get("key_id")) != (
        row.kind,
        row.subject,
        row.key_id,
    ):
        return Message(N_("The signed text names another decision or key."))
    if sm.fingerprint(key.public_key) != row.key_id:
        return Message(
            "The public key stored for key %(key)s is not that key (its fingerprint differs).",
            key=row.key_id[:16],
        )
    if key.department_id != row.department_id:
        return Message(
            "Key %(key)s is not a key of the department the signature is filed under.",
            key=row.key_id[:16],
        )
    signer = _signer(document)
    stored_official = row.signer.username if row.signer else None
    if signer.get("department") != row.department.slug:
        return Message(
            "The signed text names the signing department %(signed)s, not %(stored)s.",
            signed=str(signer.get("department")),
            stored=row.department.slug,
        )
    if signer.get("official") != stored_official:
        return Message(
            "The signed text names the official %(signed)s, not %(stored)s.",
            signed=str(signer.get("official") or "-"),
            stored=stored_official or "-",
        )
    if document.get("signed_at") != canonical_time(row.signed_at):
        return Message(
            "The signed text gives the time of signing %(signed)s, not %(stored)s.",
            signed=str(document.get("signed_at")),
            stored=canonical_time(row.signed_at),
        )
    if not sm.verify(signed, bytes(row.signature), key.public_key, row.signer_id):
        return Message(N_("The SM2 signature does not verify with the department's public key."))
    return None


def signatures_of(session: Session, subject: str) -> list[SignatureCheck]:
    """Every signature on decisions about ``subject`` (a business key), oldest first, verified."""
    rows = session.scalars(
        select(Signature).where(Signature.subject == subject).order_by(Signature.id)
    )
    return [check(r) for r in rows]


def verify(session: Session, key: str) -> list[SignatureCheck]:
    """The signatures a business key or a verification code finds, each verified; NotFound when
    there are none."""
    wanted = key.strip()
    code = wanted.upper()
    rows = list(
        session.scalars(
            select(Signature)
            .where(or_(Signature.subject == wanted, Signature.code == code))
            .order_by(Signature.id)
        )
    )
    if not rows:
        raise NotFound(Message("No signed decision has the key or code %(key)s.", key=wanted))
    return [check(r) for r in rows]


def verify_code(session: Session, code: str) -> list[SignatureCheck]:
    """The signature a verification code names (what the public page shows), verified; NotFound
    for a code that names none (letters are matched in either case, spaces and dashes ignored)."""
    letters = "".join(ch for ch in code.upper() if ch.isalnum())[:12]
    wanted = "-".join(letters[i : i + 4] for i in range(0, len(letters), 4))
    row = session.scalars(select(Signature).where(Signature.code == wanted)).first()
    if row is None or len(letters) != 12:
        raise NotFound(Message("No signed decision has the verification code %(code)s.", code=code))
    return [check(row)]
