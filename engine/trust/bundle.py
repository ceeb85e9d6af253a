"""The auditor's bundle (issue 16, part 5): the signed decisions of a period, the segment of the
audit chain that covers it, the checkpoints that anchor that segment and the public keys, in one
zip file that an auditor verifies offline with one command (``govshare bundle verify FILE``: no
database, no network, no configuration).

Layout (docs/trust.md, "Auditor's bundle")::

    manifest.json          what the bundle holds and the SM3 digest of every other file
    manifest.sig           the region authority's SM2 signature on manifest.json (DER), if a key
                           signs checkpoints
    keys/<key id>.pem      every public key a signature, checkpoint or the manifest names
    signatures.jsonl       one signed decision per line: the signed text, its SM3 digest, the DER
                           signature (hex), the key id, the signer ID and the verification code
    audit/anchor.json      the checkpoint the segment starts after (position and hash), or the
                           chain's start
    audit/events.txt       the events of the segment in chain order, one per line: the stored
                           hash (64 hex digits), a space, and exactly the bytes the hash covers
                           (the event's canonical JSON, engine.audit.canonical)
    audit/checkpoints.jsonl  the checkpoints inside the segment, with their signatures

Verification recomputes everything from the bytes: the manifest's digests (a changed, missing or
added file), each key id from its key, each signature over its text, the chain from the anchor
(each event's hash from the previous one and its own line, positions without gaps), each
checkpoint's hash at its position and its signature, and the manifest's signature. A single
flipped byte anywhere fails it, and the report names where.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import SHANGHAI, Clock
from engine.errors import NotFound
from engine.i18n import N_, Message
from engine.inputs import Checks
from engine.trust import sm
from engine.trust.keys import Signer
from engine.trust.models import Signature, SigningKey

FORMAT = "govshare-audit-bundle/1"
# what reading a damaged or foreign zip file raises
UNREADABLE = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError)
BATCH = 1000  # rows read per query while the bundle is written
MANIFEST, MANIFEST_SIG = "manifest.json", "manifest.sig"
SIGNATURES = "signatures.jsonl"
ANCHOR, EVENTS, CHECKPOINTS = "audit/anchor.json", "audit/events.txt", "audit/checkpoints.jsonl"


_json = audit.canonical_json  # the bundle's files are written in the chain's canonical JSON


@dataclass
class ExportSummary:
    signatures: int = 0
    events: int = 0
    checkpoints: int = 0
    keys: int = 0
    first_seq: int = 0
    last_seq: int = 0
    signed: bool = False


def period(start: object, end: object) -> tuple[date, date]:
    """The bundle's days as entered (ISO dates), checked: each a date, the last not before the
    first; :class:`~engine.errors.ValidationFailed` naming the field otherwise."""
    checks = Checks()
    first_ok = checks.day("from", start, Message(N_("First day")))
    last_ok = checks.day("to", end, Message(N_("Last day")))
    if first_ok and last_ok:
        checks.period("to", start, end, Message(N_("Last day")))
    checks.done(Message(N_("The bundle cannot be exported")))
    return date.fromisoformat(str(start)), date.fromisoformat(str(end))


def trusted_keys(values: Iterable[str]) -> list[str]:
    """The region authority's key ids an auditor names, checked: each the whole id (64
    hexadecimal digits, as ``govshare keys list`` prints it)."""
    keys = [v.strip().lower() for v in values]
    checks = Checks()
    if not keys or any(len(k) != 64 or any(c not in "0123456789abcdef" for c in k) for k in keys):
        checks.add(
            "region_key",
            Message(N_("Region authority's key id")),
            Message(
                N_("must be a whole key id: 64 hexadecimal digits, as govshare keys list prints it")
            ),
        )
    checks.done(Message(N_("The bundle cannot be verified")))
    return keys


def file_problem(path: str, writing: bool = False) -> None:
    """A bundle file named on the command line: it exists (to read), or its folder does (to
    write); ValidationFailed naming it otherwise."""
    p = Path(path)
    missing = not p.parent.is_dir() if writing else not p.is_file()
    checks = Checks()
    if missing:
        checks.add(
            "file",
            Message(N_("Bundle file")),
            Message(N_("its folder does not exist") if writing else N_("no such file")),
        )
    checks.done(
        Message(
            N_("The bundle cannot be exported") if writing else N_("The bundle cannot be verified")
        )
    )


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants the days ``start`` … ``end`` (Asia/Shanghai, both included) span."""
    return (
        datetime.combine(start, time(0), SHANGHAI),
        datetime.combine(end + timedelta(days=1), time(0), SHANGHAI),
    )


def _closing(
    session: Session, since: datetime, until: datetime, now: datetime
) -> audit.AuditCheckpoint | None:
    """The checkpoint a period's segment ends at: the first after the period, or while the
    period runs, the newest within it."""
    cp = audit.AuditCheckpoint
    if until <= now:
        stmt = select(cp).where(cp.at >= until).order_by(cp.at, cp.id)
    else:
        stmt = select(cp).where(cp.at >= since).order_by(cp.at.desc(), cp.id.desc())
    return session.scalars(stmt.limit(1)).first()


def close_period(
    session: Session, clock: Clock, start: date, end: date, actor_id: int | None = None
) -> audit.AuditCheckpoint:
    """The checkpoint that closes the period: the first recorded after its last day, recorded
    now when there is none yet (always now while the period runs). Run it in its own transaction
    before :func:`export`, so that the export itself records nothing before it has read the
    chain (and so holds no lock on the chain's head while it streams)."""
    since, until = _bounds(start, end)
    closing = _closing(session, since, until, clock.now()) if until <= clock.now() else None
    return closing or audit.write_checkpoint(session, clock, actor_id)


def _segment(
    session: Session, since: datetime, until: datetime, now: datetime
) -> tuple[audit.AuditCheckpoint | None, audit.AuditCheckpoint]:
    """The checkpoints around the period: the last before it (None: the chain's start) and the
    first after it (:func:`close_period` records it)."""
    cp = audit.AuditCheckpoint
    anchor = session.scalars(
        select(cp).where(cp.at < since).order_by(cp.at.desc(), cp.id.desc()).limit(1)
    ).first()
    closing = _closing(session, since, until, now)
    if closing is None:
        raise NotFound(
            Message(
                N_(
                    "No checkpoint closes the period yet: record one first "
                    "(govshare audit checkpoint, or the export command does it)."
                )
            )
        )
    return anchor, closing


class _Writer:
    """Streams the bundle's files into the zip, keeping each one's SM3 digest and the key ids
    they name."""

    def __init__(self, zf: zipfile.ZipFile, session: Session) -> None:
        self.zf, self.session = zf, session
        self.digests: dict[str, str] = {}
        self.key_ids: set[str] = set()
        self.summary = ExportSummary()

    def put(self, name: str, chunks: Iterable[bytes]) -> None:
        digest = Sm3Stream()
        with self.zf.open(name, "w") as f:
            for chunk in chunks:
                digest.update(chunk)
                f.write(chunk)
        self.digests[name] = digest.hexdigest()

    def signatures(self, since: datetime, until: datetime) -> Iterator[bytes]:
        stmt = (
            select(Signature)
            .where(Signature.signed_at >= since, Signature.signed_at < until)
            .order_by(Signature.id)
        )
        for row in self.session.scalars(stmt.execution_options(yield_per=BATCH)):
            self.key_ids.add(row.key_id)
            self.summary.signatures += 1
            yield (
                _json(
                    {
                        "kind": row.kind,
                        "subject": row.subject,
                        "code": row.code,
                        "key_id": row.key_id,
                        "signer_id": row.signer_id,
                        "digest": row.digest,
                        "signature": bytes(row.signature).hex(),
                        "canonical": row.canonical,
                        "signed_at": audit.instant(row.signed_at),
                    }
                )
                + b"\n"
            )

    def events(self, first: int, last: int) -> Iterator[bytes]:
        """The segment's events in chain order, read in batches (constant memory)."""
        seq = first
        while seq <= last:
            rows = self.session.scalars(
                select(audit.AuditEvent)
                .where(audit.AuditEvent.seq >= seq, audit.AuditEvent.seq <= last)
                .order_by(audit.AuditEvent.seq)
                .limit(BATCH)
            ).all()
            if not rows:
                return
            for row in rows:
                self.summary.events += 1
                yield f"{row.hash} ".encode() + audit.canonical(row) + b"\n"
                self.session.expunge(row)
            seq = (rows[-1].seq or seq) + 1

    def checkpoints(self, first: int, closing: audit.AuditCheckpoint) -> Iterator[bytes]:
        cp = audit.AuditCheckpoint
        stmt = (
            select(cp)
            .where(cp.seq >= first, cp.seq <= closing.seq, cp.id <= closing.id)
            .order_by(cp.seq, cp.id)
        )
        for row in self.session.scalars(stmt):
            self.summary.checkpoints += 1
            if row.key_id:
                self.key_ids.add(row.key_id)
            yield _json(_checkpoint_doc(row)) + b"\n"

    def keys(self) -> None:
        rows = self.session.scalars(
            select(SigningKey).where(SigningKey.key_id.in_(self.key_ids))
        ).all()
        for key in sorted(rows, key=lambda k: k.key_id):
            self.put(f"keys/{key.key_id}.pem", [sm.public_key_pem(key.public_key).encode()])
        self.summary.keys = len(rows)


def export(
    session: Session,
    clock: Clock,
    start: date,
    end: date,
    out: IO[bytes],
    actor_id: int | None = None,
    signer: Signer | None = None,
) -> ExportSummary:
    """Write the bundle of the days ``start`` … ``end`` (Asia/Shanghai, both included) to
    ``out``, its manifest signed by ``signer`` (the region authority's key,
    :func:`engine.trust.keys.region_signer`): the decisions signed in those days and the audit chain from the last checkpoint
    before the period to the first after it (:func:`close_period` records that one, in its own
    transaction before). The export reads first and records ``bundle_exported`` last, so the
    chain's head is locked only at its commit."""
    since, until = _bounds(start, end)
    anchor, closing = _segment(session, since, until, clock.now())
    first = anchor.seq + 1 if anchor is not None else 1
    manifest_key = signer
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        w = _Writer(zf, session)
        if manifest_key is not None:
            w.key_ids.add(manifest_key[0])
        if anchor is not None and anchor.key_id:
            w.key_ids.add(anchor.key_id)
        w.put(SIGNATURES, w.signatures(since, until))
        anchor_doc = {
            "seq": first - 1,
            "hash": anchor.hash if anchor is not None else audit.GENESIS.hex(),
            "checkpoint": _checkpoint_doc(anchor) if anchor is not None else None,
        }
        w.put(ANCHOR, [_json(anchor_doc)])
        w.put(EVENTS, w.events(first, closing.seq))
        w.put(CHECKPOINTS, w.checkpoints(first, closing))
        w.keys()
        summary = w.summary
        summary.first_seq, summary.last_seq = first, closing.seq
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "period": {"from": start.isoformat(), "to": end.isoformat()},
            "created_at": audit.instant(clock.now()),
            "segment": {"from": first, "to": closing.seq},
            "counts": {
                "signatures": summary.signatures,
                "events": summary.events,
                "checkpoints": summary.checkpoints,
                "keys": summary.keys,
            },
            "files": dict(sorted(w.digests.items())),
        }
        if manifest_key is not None:
            manifest["signed_by"] = manifest_key[0]
        body = _json(manifest)
        zf.writestr(MANIFEST, body)
        if manifest_key is not None:
            zf.writestr(MANIFEST_SIG, manifest_key[1](body))
            summary.signed = True
    audit.record(
        session,
        clock.now(),
        "bundle_exported",
        actor_id=actor_id,
        object_type="audit_bundle",
        object_ref=f"{start.isoformat()}..{end.isoformat()}",
        after={
            "signatures": summary.signatures,
            "events": summary.events,
            "segment": [summary.first_seq, summary.last_seq],
        },
    )
    return summary


def _checkpoint_doc(cp: audit.AuditCheckpoint) -> dict[str, Any]:
    return {
        "seq": cp.seq,
        "hash": cp.hash,
        "at": audit.instant(cp.at),
        "key_id": cp.key_id,
        "signature": cp.signature,
    }


class Sm3Stream:
    """SM3 over data given in pieces (``cryptography``'s hash context)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import hashes

        self._h = hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.finalize().hex()


# -- offline verification ------------------------------------------------------------------------
@dataclass
class BundleReport:
    """What an offline verification found: counts, and every problem (empty: valid)."""

    period: tuple[str, str] | None = None
    signatures: int = 0
    events: int = 0
    checkpoints: int = 0
    keys: int = 0
    segment: tuple[int, int] | None = None
    manifest_signed: bool = False
    signed_by: str | None = None  # the key that signed the manifest (one of the trusted keys)
    problems: list[Message] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def verify(source: str | IO[bytes], trusted: Iterable[str]) -> BundleReport:
    """Verify a bundle from its bytes alone (no database): see the module's docstring.
    ``trusted``: the ids (SM3 fingerprints, as ``govshare keys list`` prints them) of the region
    authority's keys, learnt from the region and not from the bundle: the manifest and every
    checkpoint, the anchor's included, must be signed by one of them."""
    report = BundleReport()
    trusted = {k.strip().lower() for k in trusted if k.strip()}
    if not trusted:
        report.problems.append(Message(N_("Name the region authority's key to trust.")))
        return report
    try:
        zf = zipfile.ZipFile(source)
    except UNREADABLE as exc:
        report.problems.append(
            Message(N_("The file is not a readable bundle: %(error)s"), error=str(exc))
        )
        return report
    with zf:
        try:
            contents = {name: zf.read(name) for name in zf.namelist()}
        except UNREADABLE as exc:  # a damaged entry fails its CRC or does not inflate
            report.problems.append(Message(N_("The bundle is damaged: %(error)s"), error=str(exc)))
            return report
    _verify_contents(contents, report, trusted)
    return report


def _verify_contents(contents: dict[str, bytes], report: BundleReport, trusted: set[str]) -> None:
    problems = report.problems
    try:
        manifest = json.loads(contents[MANIFEST])
        files: dict[str, str] = manifest["files"]
        if manifest.get("format") != FORMAT:
            problems.append(Message(N_("The bundle's format is not %(format)s."), format=FORMAT))
            return
    except (KeyError, ValueError, TypeError):
        problems.append(Message(N_("The bundle has no readable manifest.json.")))
        return
    period = manifest.get("period") or {}
    report.period = (str(period.get("from")), str(period.get("to")))
    for name in sorted(set(files) | set(contents) - {MANIFEST, MANIFEST_SIG}):
        if name not in contents:
            problems.append(
                Message(N_("%(file)s is listed in the manifest but missing."), file=name)
            )
        elif name not in files:
            problems.append(Message(N_("%(file)s is not listed in the manifest."), file=name))
        elif sm.sm3(contents[name]).hex() != files[name]:
            problems.append(
                Message(N_("%(file)s does not match its SM3 digest in the manifest."), file=name)
            )
    keys = _keys(contents, problems)
    report.keys = len(keys)
    _verify_signatures(contents.get(SIGNATURES, b""), keys, report)
    region = {k: v for k, v in keys.items() if k in trusted}
    _verify_chain(contents, region, report)
    _verify_manifest(manifest, contents, region, report)


def _verify_manifest(
    manifest: dict[str, Any],
    contents: dict[str, bytes],
    region: dict[str, bytes],
    report: BundleReport,
) -> None:
    """The manifest is signed by a trusted key and says what the files hold."""
    signed_by = str(manifest.get("signed_by") or "")
    signature = contents.get(MANIFEST_SIG)
    key = region.get(signed_by)
    if (
        signature is None
        or key is None
        or not sm.verify(contents[MANIFEST], signature, key, sm.DEFAULT_SIGNER_ID)
    ):
        report.problems.append(
            Message(N_("The manifest is not signed by a trusted key of the region authority."))
        )
    else:
        report.manifest_signed, report.signed_by = True, signed_by
    segment = manifest.get("segment") or {}
    counts = manifest.get("counts") or {}
    said = (
        (segment.get("from"), segment.get("to")),
        counts.get("signatures"),
        counts.get("events"),
        counts.get("checkpoints"),
    )
    found = (report.segment, report.signatures, report.events, report.checkpoints)
    if report.segment is not None and (tuple(said[0]), *said[1:]) != found:
        report.problems.append(
            Message(N_("The manifest's positions or counts do not match the files."))
        )


def _keys(contents: dict[str, bytes], problems: list[Message]) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for name, data in contents.items():
        if not (name.startswith("keys/") and name.endswith(".pem")):
            continue
        key_id = name[len("keys/") : -len(".pem")]
        try:
            public = sm.public_key_from_pem(data.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            problems.append(Message(N_("%(file)s is not an SM2 public key."), file=name))
            continue
        if sm.fingerprint(public) != key_id:
            problems.append(
                Message(N_("%(file)s holds a key whose id is not its file name."), file=name)
            )
            continue
        keys[key_id] = public
    return keys


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line]


def _verify_signatures(data: bytes, keys: dict[str, bytes], report: BundleReport) -> None:
    for n, line in enumerate(_lines(data), start=1):
        report.signatures += 1
        try:
            entry = json.loads(line)
            text = entry["canonical"].encode("utf-8")
            document = json.loads(text)
            signature = bytes.fromhex(entry["signature"])
        except (ValueError, KeyError, TypeError, AttributeError):
            report.problems.append(
                Message(N_("Signed decision %(n)s in signatures.jsonl cannot be read."), n=n)
            )
            continue
        where = {"n": n, "code": entry.get("code", "?")}
        key = keys.get(entry.get("key_id", ""))
        if sm.sm3(text).hex() != entry.get("digest"):
            problem = N_("Signed decision %(n)s (%(code)s): its text does not match its digest.")
        elif not isinstance(document, dict) or (
            document.get("kind"),
            document.get("subject"),
            document.get("key_id"),
        ) != (entry.get("kind"), entry.get("subject"), entry.get("key_id")):
            problem = N_("Signed decision %(n)s (%(code)s): its text names another decision.")
        elif key is None:
            problem = N_("Signed decision %(n)s (%(code)s): the bundle lacks its public key.")
        elif not sm.verify(text, signature, key, entry.get("signer_id") or sm.DEFAULT_SIGNER_ID):
            problem = N_("Signed decision %(n)s (%(code)s): the SM2 signature does not verify.")
        else:
            continue
        report.problems.append(Message(problem, **where))


def _verify_chain(
    contents: dict[str, bytes], region: dict[str, bytes], report: BundleReport
) -> None:
    """The segment links from its anchor, which is a signed checkpoint (or the chain's start),
    through every event, to a signed checkpoint at its last position."""
    try:
        anchor = json.loads(contents[ANCHOR])
        seq, previous = int(anchor["seq"]), str(anchor["hash"])
        bytes.fromhex(previous)
    except (KeyError, ValueError, TypeError):
        report.problems.append(Message(N_("The audit segment's anchor cannot be read.")))
        return
    if seq > 0:  # not the chain's start: the anchor is a checkpoint the region signed
        cp = anchor.get("checkpoint") or {}
        problem = _checkpoint_problem(cp, {seq: previous}, region)
        if problem is None and int(cp.get("seq", -1)) != seq:
            problem = Message(N_("The audit segment's anchor is not the checkpoint it names."))
        if problem is not None:
            report.problems.append(problem)
            return
    elif previous != audit.GENESIS.hex():
        report.problems.append(Message(N_("The audit segment's anchor is not the chain's start.")))
        return
    hashes = _verify_events(_lines(contents.get(EVENTS, b"")), seq, previous, report)
    if hashes is None:
        return
    last = _verify_checkpoints(_lines(contents.get(CHECKPOINTS, b"")), hashes, region, report)
    if report.segment is not None and last != report.segment[1]:
        report.problems.append(
            Message(
                N_(
                    "The audit segment does not end at a signed checkpoint (last position %(seq)s)."
                ),
                seq=report.segment[1],
            )
        )


def _verify_events(
    lines: list[bytes], seq: int, previous: str, report: BundleReport
) -> dict[int, str] | None:
    """Walk the events from the anchor: the hash at each position, or None at the first break
    (named in the report)."""
    at_seq = {seq: previous}
    first = seq + 1
    for entry in lines:
        stored, _, line = entry.partition(b" ")
        problem: Message | None
        try:
            row = json.loads(line)
            position = int(row["seq"])
        except (ValueError, KeyError, TypeError):
            problem = Message(N_("Audit event after position %(seq)s cannot be read."), seq=seq)
        else:
            problem = _event_problem(row, line, stored, position, seq, at_seq[seq])
        if problem is not None:
            report.problems.append(problem)
            return None
        seq = position
        at_seq[seq] = stored.decode("ascii")
        report.events += 1
    report.segment = (first, seq)
    return at_seq


def _event_problem(
    row: Any, line: bytes, stored: bytes, position: int, seq: int, previous: str
) -> Message | None:
    if position != seq + 1:
        return Message(
            N_("Audit events are missing or out of order: position %(found)s follows %(seq)s."),
            found=position,
            seq=seq,
        )
    if _json(row) != line:
        return Message(N_("Audit event %(seq)s is not in its canonical form."), seq=position)
    if sm.sm3(bytes.fromhex(previous) + line).hex() != stored.decode("ascii", "replace"):
        return Message(
            N_("Audit event %(seq)s does not match its hash: the event or the chain was changed."),
            seq=position,
        )
    return None


def _verify_checkpoints(
    lines: list[bytes], at_seq: dict[int, str], region: dict[str, bytes], report: BundleReport
) -> int | None:
    """Check every checkpoint of the segment; the position of the last one."""
    last = None
    for n, line in enumerate(lines, start=1):
        report.checkpoints += 1
        try:
            cp = json.loads(line)
        except ValueError:
            report.problems.append(Message(N_("Checkpoint %(n)s cannot be read."), n=n))
            continue
        problem = _checkpoint_problem(cp, at_seq, region)
        if problem is not None:
            report.problems.append(problem)
        else:
            last = int(cp["seq"])
    return last


def _checkpoint_problem(
    cp: Any, at_seq: dict[int, str], region: dict[str, bytes]
) -> Message | None:
    """A checkpoint matches the chain's hash at its position and is signed by a trusted key."""
    try:
        seq, hash_hex = int(cp["seq"]), str(cp["hash"])
        signature = bytes.fromhex(cp.get("signature") or "")
        at = datetime.strptime(str(cp["at"]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        payload = audit.checkpoint_bytes(seq, hash_hex, at)  # what the region's key signed
    except (ValueError, KeyError, TypeError, AttributeError):
        return Message(N_("A checkpoint cannot be read."))
    if at_seq.get(seq) != hash_hex:
        return Message(
            N_("Checkpoint at position %(seq)s does not match the chain's hash there."), seq=seq
        )
    key = region.get(str(cp.get("key_id") or ""))
    if key is None or not sm.verify(payload, signature, key, sm.DEFAULT_SIGNER_ID):
        return Message(
            N_(
                "Checkpoint at position %(seq)s is not signed by a trusted key of the region authority."
            ),
            seq=seq,
        )
    return None


def export_bytes(session: Session, clock: Clock, start: date, end: date, **kw: Any) -> bytes:
    """The bundle as bytes (tests, the web download)."""
    buf = io.BytesIO()
    export(session, clock, start, end, buf, **kw)
    return buf.getvalue()
