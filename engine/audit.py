"""The audit trail: one row per change of state, whoever made it and wherever it happened.

Every service that changes something records an event here in the transaction of the change,
so an event exists exactly when the change was committed. An event names its actor (a user id,
or none for the worker), the time by the injected clock, what kind of change it was, the object
it concerns (``object_type`` and ``object_ref``: a business key, a catalog code, a user name,
``process:version``) and, where it means something, the values before and after.

The table sits in the foundation so that every area, the directory included, may write to it.

**The chain.** Each event commits to the one before it (docs/trust.md, "审计链 / Audit chain"):
its chain position ``seq`` (1, 2, 3 … without gaps) and ``hash = SM3(hash of seq − 1 ‖ canonical
bytes of this event)`` (:func:`canonical`, :func:`link`; the first event links to 32 zero bytes).
The position and hash are given when the transaction commits, in commit order: the events a
transaction records wait in the session (:func:`record` → :func:`engine.db.add_row`, diverted
here; events added to the session as objects are taken out of its flush), and just before the
commit they are written with one multi-row ``INSERT`` after one ``SELECT … FOR UPDATE`` of the
one-row chain head (``audit_chain_head``), which is then moved on (one ``UPDATE``). The head lock
is the last lock the transaction takes: the events have no foreign keys (nothing else is locked
by their insert), so two committing transactions never wait for each other in a circle; it is held
for the insert, the head's update and the commit. On SQLite, writers are serialised already
(engine/db.py), and the same code runs. A transaction that reads events before it commits (a
query naming :class:`AuditEvent`) has its waiting events written first, taking the head lock then.

:func:`verify` walks the chain in batches and names the first broken link; checkpoints
(:class:`AuditCheckpoint`) record the head at an instant, for an auditor to verify a range.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Index,
    String,
    Table,
    Text,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, SessionTransaction, mapped_column

from engine.clock import Clock
from engine.db import Base, UTCDateTime, add_row, divert, is_postgres, reads_first
from engine.errors import NotFound
from engine.i18n import N_, Message
from engine.inputs import Checks
from engine.trust.sm import sm3

GENESIS = bytes(32)  # what the first event links to
HEAD_ID = 1  # the chain head's one row


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_ref", "id"),
        Index("ix_audit_event_seq", "seq", unique=True),
        Index("ix_audit_event_at", "at", "id"),
        Index("ix_audit_event_kind_at", "kind", "at", "id"),
        Index("ix_audit_event_actor_at", "actor_id", "at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # no foreign keys: the trail outlives what it names, and writing it locks no other row (the
    # chain head's lock must be a transaction's last, see the module's docstring)
    instance_id: Mapped[int | None] = mapped_column(index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_ref: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    seq: Mapped[int | None] = mapped_column(BigInteger)  # the chain position (given at commit)
    hash: Mapped[str | None] = mapped_column(String(64))  # SM3, hex (given at commit)


class AuditChainHead(Base):
    """The chain's last position and hash: one row (``id`` 1), locked by each committing writer."""

    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)  # 0: no event yet
    hash: Mapped[str] = mapped_column(String(64))


event.listen(
    AuditChainHead.__table__,
    "after_create",
    # a database made from the models (not the migrations) starts with the empty chain's head
    DDL(f"INSERT INTO audit_chain_head (id, seq, hash) VALUES ({HEAD_ID}, 0, '{GENESIS.hex()}')"),
)


class AuditCheckpoint(Base):
    """The chain head as it was at an instant, optionally signed (:func:`sign_checkpoint`)."""

    __tablename__ = "audit_checkpoint"
    __table_args__ = (Index("ix_audit_checkpoint_at", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str | None] = mapped_column(String(80))  # the signing key (region authority)
    signature: Mapped[str | None] = mapped_column(Text)  # SM2 over the checkpoint, hex DER
    # the events since the checkpoint before (all, for the first) verified when it was recorded
    verified: Mapped[bool | None] = mapped_column()
    problem: Mapped[dict | None] = mapped_column(JSON)  # the first break found: msgid and params


def record(
    session: Session,
    at: datetime,
    kind: str,
    *,
    actor_id: int | None = None,
    instance_id: int | None = None,
    object_type: str | None = None,
    object_ref: str | None = None,
    before: Any = None,
    after: Any = None,
    **detail: Any,
) -> None:
    """Append an event to the caller's transaction (it is written with the change, or not at all;
    chained when the transaction commits, see the module's docstring).

    ``before`` and ``after`` are kept in ``detail`` when given; the remaining keyword arguments
    are stored as they are (plain JSON values)."""
    if before is not None:
        detail["before"] = before
    if after is not None:
        detail["after"] = after
    add_row(
        session,
        AuditEvent,
        instance_id=instance_id,
        at=at,
        actor_id=actor_id,
        kind=kind,
        object_type=object_type,
        object_ref=None if object_ref is None else str(object_ref)[:200],
        detail=detail,
    )


def events_for(
    session: Session, object_type: str, object_ref: str, limit: int = 200
) -> list[AuditEvent]:
    """The newest events of one object (indexed), newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_ref == object_ref)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )


# -- the canonical form and the link -----------------------------------------------------------
def instant(at: datetime) -> str:
    """An instant as the chain hashes it: UTC, microseconds, ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Any) -> bytes:
    """The bytes an event's hash covers: every column but ``id`` and ``hash`` as canonical JSON
    (UTF-8, keys sorted, no whitespace). ``row``: an :class:`AuditEvent` or a row with its
    columns as attributes."""
    return canonical_json(
        {
            "actor": row.actor_id,
            "at": instant(row.at),
            "detail": row.detail if row.detail is not None else {},
            "instance": row.instance_id,
            "kind": row.kind,
            "object_ref": row.object_ref,
            "object_type": row.object_type,
            "seq": row.seq,
        }
    )


def canonical_json(value: Any) -> bytes:
    """The chain's canonical JSON: UTF-8, keys sorted, no whitespace (the auditor's bundle writes
    its files and checks each event's line with it)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def link(previous: bytes, row: Any) -> bytes:
    """The hash of ``row`` after the event whose hash is ``previous``."""
    return sm3(previous + canonical(row))


# -- chaining at commit ---------------------------------------------------------------------------
_CHAIN = "govshare.audit_chain"
_TABLE: Table = AuditEvent.__table__  # type: ignore[assignment]
_HEAD: Table = AuditChainHead.__table__  # type: ignore[assignment]
_COLUMNS = ("instance_id", "at", "actor_id", "kind", "object_type", "object_ref", "detail")


class _Row:
    """An event waiting for its chain position."""

    __slots__ = (*_COLUMNS, "seq", "hash")

    def __init__(self, values: dict[str, Any]) -> None:
        for column in _COLUMNS:
            setattr(self, column, values.get(column))
        # as stored and read back: plain JSON (tuples become lists, keys strings)
        detail = values.get("detail")
        self.detail = json.loads(json.dumps(detail if detail is not None else {}))
        self.seq: int | None = None
        self.hash: str | None = None

    def values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


class _Chain:
    """The events of a session's transaction not yet written, and the head once locked."""

    def __init__(self) -> None:
        self.rows: list[_Row] = []
        self.head: tuple[int, bytes] | None = None  # (seq, hash) after this transaction's writes
        # each savepoint's start, to forget what a savepoint rolled back
        self.marks: dict[SessionTransaction, tuple[int, tuple[int, bytes] | None]] = {}


def _chain(session: Session) -> _Chain:
    chain = session.info.get(_CHAIN)
    if chain is None:
        chain = session.info[_CHAIN] = _Chain()
    return chain


def _take(session: Session, rows: list[dict[str, Any]]) -> None:
    """The rows of the audit table a command appended (engine.db.add_row, DeferredRows.write)."""
    _chain(session).rows.extend(_Row(r) for r in rows)


divert(_TABLE, _take)


def _write(session: Session, chain: _Chain) -> None:
    """Chain and insert the waiting events: lock the head (once per transaction), one INSERT,
    move the head on."""
    conn = session.connection()
    if chain.head is None:
        row = conn.execute(
            select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID).with_for_update()
        ).first()
        if row is None:  # a database made without the migrations' head row
            conn.execute(insert(_HEAD).values(id=HEAD_ID, seq=0, hash=GENESIS.hex()))
            chain.head = (0, GENESIS)
        else:
            chain.head = (int(row[0]), bytes.fromhex(row[1]))
    seq, previous = chain.head
    rows, chain.rows = chain.rows, []
    for r in rows:
        seq += 1
        r.seq = seq
        previous = link(previous, r)
        r.hash = previous.hex()
    conn.execute(insert(_TABLE), [r.values() for r in rows])
    conn.execute(update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(seq=seq, hash=previous.hex()))
    chain.head = (seq, previous)


@event.listens_for(Session, "before_flush")
def _divert_objects(session: Session, _context: Any, _instances: Any) -> None:
    """Events added to the session as objects wait with the others instead of being flushed."""
    for obj in list(session.new):
        if isinstance(obj, AuditEvent):
            _take(session, [{c: getattr(obj, c) for c in _COLUMNS}])
            session.expunge(obj)


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: its events wait for the transaction's commit
    # everything else goes out first (the head's lock must be the transaction's last), and
    # events added as objects join the waiting ones
    session.flush()
    chain = session.info.get(_CHAIN)
    if chain is not None and chain.rows:
        _write(session, chain)


@event.listens_for(Session, "do_orm_execute")
def _write_before_reading(state: ORMExecuteState) -> None:
    """A query of the events in a transaction that recorded some: write them first."""
    if not state.is_select or not any(m.class_ is AuditEvent for m in state.all_mappers):
        return
    session = state.session
    if any(isinstance(o, AuditEvent) for o in session.new):
        session.flush()
    chain = session.info.get(_CHAIN)
    if chain is not None and chain.rows:
        _write(session, chain)


@event.listens_for(Session, "after_transaction_create")
def _mark(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        chain = _chain(session)
        chain.marks[transaction] = (len(chain.rows), chain.head)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: SessionTransaction) -> None:
    chain = session.info.get(_CHAIN)
    if chain is None:
        return
    if previous.nested and previous in chain.marks:
        count, chain.head = chain.marks.pop(previous)
        del chain.rows[count:]
    elif not previous.nested:
        session.info.pop(_CHAIN, None)


@event.listens_for(Session, "after_transaction_end")
def _end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_CHAIN, None)


# -- verification -----------------------------------------------------------------------------
VERIFY_BATCH = 1000  # events read per query while the chain is walked


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link: what kind of tampering it shows, where, and a message saying so."""

    kind: str  # "edited", "deleted", "inserted", "head" or "checkpoint"
    seq: int | None
    event_id: int | None
    message: Message


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify`: the positions checked and the first break, if any."""

    checked: int  # events whose link was checked
    first: int  # the first position checked
    last: int  # the last position checked (first − 1: none)
    head_seq: int  # the chain head's position when the walk began
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def head(session: Session) -> tuple[int, str]:
    """The chain head as committed: (position, hash hex)."""
    row = session.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID)
    ).first()
    return (int(row[0]), row[1]) if row is not None else (0, GENESIS.hex())


def _stored(row: Any) -> str:
    """An event's stored values, as a break message quotes them."""
    return (
        f"at={instant(row.at)}, actor={row.actor_id}, kind={row.kind}, "
        f"object={row.object_type}:{row.object_ref}, instance={row.instance_id}, "
        f"detail={json.dumps(row.detail, ensure_ascii=False, sort_keys=True)}, "
        f"hash={row.hash}"
    )


def _break_of_link(session: Session, row: Any, previous_id: int | None) -> ChainBreak:
    """The event at its expected position does not link to the one before: inserted (its
    position held twice, or no hash), or edited (the event, or the one before with its hash
    recomputed)."""
    twin = session.scalar(
        select(AuditEvent.id).where(AuditEvent.seq == row.seq, AuditEvent.id != row.id).limit(1)
    )
    if twin is not None or row.hash is None:
        return ChainBreak(
            "inserted",
            row.seq,
            row.id,
            Message(
                "Inserted event: event id %(id)s at chain position %(seq)s does not link to the "
                "chain (position also held by event id %(twin)s). Stored values: %(values)s",
                id=row.id,
                seq=row.seq,
                twin=twin if twin is not None else "-",
                values=_stored(row),
            ),
        )
    return ChainBreak(
        "edited",
        row.seq,
        row.id,
        Message(
            "Edited event: chain position %(seq)s (event id %(id)s) does not match its hash: its "
            "stored values were changed after it was recorded (or the event before it, id "
            "%(previous)s, was changed and its hash recomputed). Stored values: %(values)s",
            seq=row.seq,
            id=row.id,
            previous=previous_id if previous_id is not None else "-",
            values=_stored(row),
        ),
    )


def verify(
    session: Session,
    from_seq: int | None = None,
    to_seq: int | None = None,
    start_hash: str | None = None,
    end_hash: str | None = None,
    batch: int = VERIFY_BATCH,
) -> ChainReport:
    """Walk the chain from position ``from_seq`` (default 1) to ``to_seq`` (default: the head)
    in batches of ``batch`` events (keyset on ``seq``: constant memory, O(events)) and report the
    first broken link. The walk starts from the hash of position ``from_seq − 1``: ``start_hash``
    when given (a checkpoint's), else as stored. An event without a chain position anywhere, a
    gap, a position held twice, an event that does not hash to its link, and a head that does
    not match the last event each break the chain; so does a hash at ``to_seq`` other than
    ``end_hash`` (a checkpoint's) when given. Every checkpoint at a position in the range must
    record the hash the chain has there and, when a verifier is configured
    (:func:`set_checkpoint_verifier`), carry a valid signature by the region authority's key."""
    head_seq, head_hash = head(session)
    _check_range(from_seq, to_seq, head_seq)
    walk = _Walk(session, max(1, from_seq or 1), head_seq)
    last = head_seq if to_seq is None else to_seq
    ending = to_seq is None or to_seq >= head_seq
    broken = walk.stray() or walk.start(start_hash)
    if broken is None:
        broken = walk.run(None if ending else last, batch)
    if broken is None and walk.expected - 1 < last:
        broken = _missing(walk.expected, last, walk.previous_id, None)
    if broken is None and end_hash is not None and walk.previous.hex() != end_hash:
        broken = _rehashed(walk, "checkpoint")
    if broken is None and ending and walk.previous.hex() != head_hash:
        broken = _rehashed(walk, "head")
    return ChainReport(walk.checked, walk.first, walk.expected - 1, head_seq, broken)


_EVENT_COLUMNS = (
    AuditEvent.id,
    AuditEvent.seq,
    AuditEvent.hash,
    AuditEvent.instance_id,
    AuditEvent.at,
    AuditEvent.actor_id,
    AuditEvent.kind,
    AuditEvent.object_type,
    AuditEvent.object_ref,
    AuditEvent.detail,
)


def _check_range(from_seq: int | None, to_seq: int | None, head_seq: int) -> None:
    """Positions within the chain (1 … head), the last not before the first; else refused,
    naming each bad one."""
    checks = Checks()
    top = max(head_seq, 1)
    within = Message(N_("must be a chain position from 1 to %(head)s"), head=top)
    if from_seq is not None and not 1 <= from_seq <= top:
        checks.add("from", Message(N_("First position")), within)
    if to_seq is not None and not 1 <= to_seq <= top:  # past the head nothing is missing
        checks.add("to", Message(N_("Last position")), within)
    elif to_seq is not None and from_seq is not None and to_seq < from_seq:
        checks.add(
            "to",
            Message(N_("Last position")),
            Message(N_("must not be before the first position")),
        )
    checks.done(Message(N_("The audit chain cannot be verified")))


class _Walk:
    """The state of a walk along the chain (:func:`verify`)."""

    def __init__(self, session: Session, first: int, head_seq: int) -> None:
        self.session, self.first, self.head_seq = session, first, head_seq
        self.expected, self.checked = first, 0
        self.previous: bytes = GENESIS
        self.previous_id: int | None = None
        self.anchors: dict[int, list[AuditCheckpoint]] = {}  # the checkpoints in the range

    def stray(self) -> ChainBreak | None:
        """An event without a chain position (indexed: ``seq IS NULL``)."""
        stray = self.session.scalar(select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1))
        if stray is None:
            return None
        row = self.session.get_one(AuditEvent, stray)
        return ChainBreak(
            "inserted",
            None,
            stray,
            Message(
                "Inserted event: event id %(id)s has no chain position (it was not written "
                "through the audit trail). Stored values: %(values)s",
                id=stray,
                values=_stored(row),
            ),
        )

    def start(self, start_hash: str | None) -> ChainBreak | None:
        """The hash the walk starts from: given, the genesis, or the stored one before."""
        if start_hash is not None:
            self.previous = bytes.fromhex(start_hash)
        elif self.first > 1:
            before = self.session.execute(
                select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.seq == self.first - 1)
            ).first()
            if before is None or before[1] is None:
                return _missing(self.first - 1, self.first - 1, None, None)
            self.previous_id, self.previous = before[0], bytes.fromhex(before[1])
        return None

    def run(self, last: int | None, batch: int) -> ChainBreak | None:
        for checkpoint in self.session.scalars(
            select(AuditCheckpoint)
            .where(
                AuditCheckpoint.seq >= self.first,
                AuditCheckpoint.seq <= (self.head_seq if last is None else last),
            )
            .order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
        ):
            self.anchors.setdefault(checkpoint.seq, []).append(checkpoint)
        stmt = (
            select(*_EVENT_COLUMNS)  # plain rows: no objects to track, constant memory
            .where(AuditEvent.seq >= self.first)
            .order_by(AuditEvent.seq, AuditEvent.id)
            .limit(batch)
        )
        if last is not None:
            stmt = stmt.where(AuditEvent.seq <= last)
        after: int | None = None
        while True:
            page = stmt if after is None else stmt.where(AuditEvent.seq > after)
            rows = self.session.execute(page).all()
            for row in rows:
                broken = self.step(row)
                if broken is not None:
                    return broken
            if len(rows) < batch:
                return None
            after = int(rows[-1].seq or 0)

    def step(self, row: Any) -> ChainBreak | None:
        seq = int(row.seq or 0)
        if seq < self.expected:  # the position of the event before, again
            return _break_of_link(self.session, row, self.previous_id)
        if seq > self.expected:
            return _missing(self.expected, seq - 1, self.previous_id, row.id)
        if seq > self.head_seq:
            return ChainBreak(
                "inserted",
                seq,
                row.id,
                Message(
                    "Inserted event: event id %(id)s at chain position %(seq)s lies beyond "
                    "the chain head (position %(head)s). Stored values: %(values)s",
                    id=row.id,
                    seq=seq,
                    head=self.head_seq,
                    values=_stored(row),
                ),
            )
        linked = link(self.previous, row)
        if row.hash != linked.hex():
            return _break_of_link(self.session, row, self.previous_id)
        self.previous, self.previous_id = linked, row.id
        self.expected, self.checked = seq + 1, self.checked + 1
        return self.anchored(seq, row.id)

    def anchored(self, seq: int, event_id: int) -> ChainBreak | None:
        """The checkpoints at ``seq``: each signed by the region's authority (when a verifier is
        configured) and recording the hash the chain has reached."""
        for checkpoint in self.anchors.get(seq, ()):
            problem = checkpoint_signature_problem(self.session, checkpoint)
            if problem is not None:
                return ChainBreak("checkpoint", seq, event_id, problem)
            if checkpoint.hash != self.previous.hex():
                return ChainBreak(
                    "checkpoint",
                    seq,
                    event_id,
                    Message(
                        "The chain at position %(seq)s (event id %(id)s) does not match the hash "
                        "the checkpoint recorded (checkpoint %(checkpoint)s): events up to it "
                        "were changed and re-hashed.",
                        seq=seq,
                        id=event_id,
                        checkpoint=checkpoint.id,
                    ),
                )
        return None


def _rehashed(walk: _Walk, against: str) -> ChainBreak:
    seq, event_id = walk.expected - 1, walk.previous_id
    if against == "head":
        message = Message(
            "The chain head (position %(seq)s) does not match the last event (id %(id)s): the "
            "head or the last event was changed.",
            seq=walk.head_seq,
            id=event_id if event_id is not None else "-",
        )
    else:
        message = Message(
            "The chain at position %(seq)s (event id %(id)s) does not match the hash the "
            "checkpoint recorded: events up to it were changed and re-hashed.",
            seq=seq,
            id=event_id if event_id is not None else "-",
        )
    return ChainBreak("head", seq, event_id, message)


def _missing(start: int, end: int, before_id: int | None, after_id: int | None) -> ChainBreak:
    return ChainBreak(
        "deleted",
        start,
        None,
        Message(
            "Deleted events: chain positions %(start)s to %(end)s are missing (after event id "
            "%(before)s, before event id %(after)s).",
            start=start,
            end=end,
            before=before_id if before_id is not None else "-",
            after=after_id if after_id is not None else "-",
        ),
    )


# -- checkpoints --------------------------------------------------------------------------------
CHECKPOINT_INTERVAL = timedelta(days=1)  # the worker's default (GOVSHARE_AUDIT_CHECKPOINT_HOURS)

# (key id, signature hex) over a checkpoint's canonical bytes, by the region authority's key,
# given the session and clock of the transaction that records the checkpoint
CheckpointSigner = Callable[[Session, Clock, bytes], tuple[str, str]]
_SIGNER: list[CheckpointSigner] = []


def set_checkpoint_signer(signer: CheckpointSigner | None) -> CheckpointSigner | None:
    """Configure who signs checkpoints (the composition root, engine/app.py, sets the region
    authority's SM2 key, engine.trust.keys.sign_checkpoint; None: checkpoints stay unsigned).
    Returns the signer configured before."""
    before = _SIGNER[0] if _SIGNER else None
    _SIGNER[:] = [signer] if signer is not None else []
    return before


# whether a checkpoint's signature (key id, signature hex) over its canonical bytes is valid: by a
# key of the region's data-sharing authority (active or retired), SM2 with the default signer ID
CheckpointVerifier = Callable[[Session, str, str, bytes], bool]
_VERIFIER: list[CheckpointVerifier] = []


def set_checkpoint_verifier(verifier: CheckpointVerifier | None) -> CheckpointVerifier | None:
    """Configure how checkpoints' signatures are verified (the composition root, engine/app.py,
    sets engine.trust.keys.verify_checkpoint; None: signatures are not checked). Returns the
    verifier configured before."""
    before = _VERIFIER[0] if _VERIFIER else None
    _VERIFIER[:] = [verifier] if verifier is not None else []
    return before


def checkpoint_signature_problem(session: Session, checkpoint: AuditCheckpoint) -> Message | None:
    """Why a checkpoint's signature is not trusted (None: it is, or no verifier is configured):
    unsigned, or not a valid signature by a key of the region's authority."""
    if not _VERIFIER:
        return None
    if not checkpoint.signature or not checkpoint.key_id:
        return Message(
            "Checkpoint %(id)s (position %(seq)s) is not signed: a signed checkpoint may have "
            "been replaced.",
            id=checkpoint.id,
            seq=checkpoint.seq,
        )
    payload = checkpoint_bytes(checkpoint.seq, checkpoint.hash, checkpoint.at)
    if not _VERIFIER[0](session, checkpoint.key_id, checkpoint.signature, payload):
        return Message(
            "Checkpoint %(id)s (position %(seq)s) has a signature that does not verify with a "
            "key of the region's data-sharing authority: it was forged or changed.",
            id=checkpoint.id,
            seq=checkpoint.seq,
        )
    return None


def checkpoint_bytes(seq: int, hash_hex: str, at: datetime) -> bytes:
    """What a checkpoint's signature covers: canonical JSON of its position, hash and instant."""
    return json.dumps(
        {"at": instant(at), "hash": hash_hex, "seq": seq}, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def sign_checkpoint(session: Session, clock: Clock, payload: bytes) -> tuple[str, str] | None:
    """The hook that signs a checkpoint: (key id, signature) from the configured signer
    (:func:`set_checkpoint_signer`), or None (a no-op) when none is configured."""
    if not _SIGNER:
        return None
    return _SIGNER[0](session, clock, payload)


def write_checkpoint(
    session: Session, clock: Clock, actor_id: int | None = None
) -> AuditCheckpoint:
    """Record the chain head as committed now (signed when a signer is configured); the
    checkpoint's own audit event is chained after it."""
    seq, hash_hex = head(session)
    at = clock.now()
    before = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
    ).first()
    start = before.seq + 1 if before is not None else 1
    broken = None  # nothing recorded since the checkpoint before: nothing to verify
    if seq >= start:
        broken = verify(
            session,
            from_seq=start,
            to_seq=seq,
            start_hash=before.hash if before is not None else None,
            end_hash=hash_hex,
        ).broken
    signed = sign_checkpoint(session, clock, checkpoint_bytes(seq, hash_hex, at))
    checkpoint = AuditCheckpoint(
        seq=seq,
        hash=hash_hex,
        at=at,
        key_id=signed[0] if signed else None,
        signature=signed[1] if signed else None,
        verified=broken is None,
        problem=(
            None
            if broken is None
            else {"msgid": broken.message.msgid, "params": _plain(broken.message.params)}
        ),
    )
    session.add(checkpoint)
    session.flush()
    record(
        session,
        at,
        "audit_checkpoint",
        actor_id=actor_id,
        object_type="audit_checkpoint",
        object_ref=str(checkpoint.id),
        seq=seq,
        hash=hash_hex,
        signed=signed is not None,
        verified=broken is None,
    )
    return checkpoint


def _plain(params: dict[str, object]) -> dict[str, object]:
    return {k: v if isinstance(v, int | str) or v is None else str(v) for k, v in params.items()}


def checkpoint_problem(checkpoint: AuditCheckpoint) -> Message | None:
    """The break a checkpoint's verification found, as a message (None: none found)."""
    if not checkpoint.problem:
        return None
    return Message(checkpoint.problem["msgid"], **checkpoint.problem.get("params", {}))


def checkpoint_due(session: Session, clock: Clock, interval: timedelta) -> datetime:
    """When the next checkpoint is due: ``interval`` after the last one (now, if none)."""
    last = session.scalar(select(func.max(AuditCheckpoint.at)))
    return clock.now() if last is None else last + interval


def checkpoint_if_due(
    session: Session, clock: Clock, interval: timedelta = CHECKPOINT_INTERVAL
) -> AuditCheckpoint | None:
    """The worker's job: a checkpoint when the last is ``interval`` old (one indexed read else)."""
    if checkpoint_due(session, clock, interval) > clock.now():
        return None
    return write_checkpoint(session, clock)


def checkpoints(session: Session, limit: int = 20) -> list[AuditCheckpoint]:
    """The newest checkpoints, newest first."""
    return list(
        session.scalars(
            select(AuditCheckpoint)
            .order_by(AuditCheckpoint.at.desc(), AuditCheckpoint.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class CheckpointRange:
    """A range verified between checkpoints: from ``start`` to ``end`` (None: to the head)."""

    start: AuditCheckpoint
    end: AuditCheckpoint | None
    report: ChainReport


def verify_from_checkpoint(session: Session, checkpoint_id: int | None = None) -> CheckpointRange:
    """Verify the events after checkpoint ``checkpoint_id`` (default: the last one) up to the
    next checkpoint (or the head): the walk starts from the checkpoint's recorded hash (when its
    signature verifies, see :func:`checkpoint_signature_problem`), and the hash reached at the
    next checkpoint's position must be the one that checkpoint recorded."""
    if checkpoint_id is None:
        start = session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
        ).first()
    else:
        start = session.get(AuditCheckpoint, checkpoint_id)
    if start is None:
        raise NotFound(
            Message("No checkpoint %(id)s.", id=checkpoint_id)
            if checkpoint_id is not None
            else Message("No checkpoint has been recorded yet: run govshare audit checkpoint.")
        )
    untrusted = checkpoint_signature_problem(session, start)
    if untrusted is not None:  # the walk would start from a hash nobody signed
        head_seq, _ = head(session)
        broken = ChainBreak("checkpoint", start.seq, None, untrusted)
        return CheckpointRange(
            start, None, ChainReport(0, start.seq + 1, start.seq, head_seq, broken)
        )
    end = session.scalars(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.seq > start.seq)
        .order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
    ).first()
    head_seq, _ = head(session)
    if start.seq >= head_seq:  # nothing recorded since
        return CheckpointRange(
            start, None, ChainReport(0, start.seq + 1, start.seq, head_seq, None)
        )
    report = verify(
        session,
        from_seq=start.seq + 1,
        to_seq=end.seq if end is not None else None,
        start_hash=start.hash,
        end_hash=end.hash if end is not None else None,
    )
    return CheckpointRange(start, end, report)


def verify_chain(
    sessions: Callable[[], Session],
    from_seq: int | None = None,
    to_seq: int | None = None,
    checkpoint: int | None = None,
    from_checkpoint: bool = False,
) -> CheckpointRange | ChainReport:
    """:func:`verify` (or :func:`verify_from_checkpoint`) in a transaction of its own that only
    reads: a snapshot that keeps no writer waiting (SQLite: a deferred transaction; PostgreSQL:
    repeatable read, so the head and the events are read as of one instant)."""
    reads_first(True)
    try:
        with sessions() as session:
            if is_postgres(session):
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            if from_checkpoint or checkpoint is not None:
                return verify_from_checkpoint(session, checkpoint)
            return verify(session, from_seq, to_seq)
    finally:
        reads_first(False)
