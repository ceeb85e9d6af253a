"""Attachments to task submissions: checked for size, type and content, stored content-addressed
on disk (``<directory>/<sha256>``), served only as downloads.

The content must be what the extension says (:func:`check_content`): a PDF begins with ``%PDF-``,
a PNG or JPEG with its signature, a DOCX, XLSX or OFD is a ZIP package with the parts that type
requires, a TXT is text (UTF-8 or GB18030) without NUL bytes. So a page of HTML renamed ``.pdf``
is refused with the file's name and the expected type, and nothing is written.

A file whose upload was killed between writing the file and committing its row is an orphan;
:func:`sweep_orphans` (a worker job, at most once an hour) removes files no row references once
they are older than :data:`ORPHAN_GRACE`, judged by the file's modification time, which
:func:`store` refreshes when it reuses a stored file.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.models import User
from engine.errors import NotFound, ValidationFailed
from engine.i18n import N_, Message
from engine.inputs import Checks
from engine.workflow.history import FileInfo, check_may_see
from engine.workflow.models import Attachment, ProcessInstance


class Limits(TypedDict):
    max_bytes: int
    extensions: tuple[str, ...]


LIMITS: Limits = {
    "max_bytes": 10 * 1024 * 1024,
    "extensions": (".pdf", ".ofd", ".jpg", ".jpeg", ".png", ".docx", ".xlsx", ".txt"),
}
TYPES = {
    ".pdf": "application/pdf",
    ".ofd": "application/ofd",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".txt": "text/plain",
}


def check(filename: str, content_type: str, size: int) -> None:
    checks = Checks()
    name_ok = checks.text(
        "attachments",
        filename,
        Message(N_("File name")),
        column=Attachment.filename,
        required=True,
    )
    if name_ok:
        checks.text(
            "attachments", content_type, Message(N_("File type")), column=Attachment.content_type
        )
    checks.done(Message(N_("The attachment cannot be stored")))
    ext = Path(filename).suffix.lower()
    if ext not in LIMITS["extensions"]:
        raise ValidationFailed(
            Message(
                "Attachment %(name)s: type %(ext)s is not accepted (accepted: %(accepted)s).",
                name=filename,
                ext=ext or "-",
                accepted=", ".join(LIMITS["extensions"]),
            ),
            [
                {
                    "field": "attachments",
                    "message": Message("type not accepted: %(name)s", name=filename),
                }
            ],
        )
    if size > LIMITS["max_bytes"]:
        raise ValidationFailed(
            Message(
                "Attachment %(name)s is larger than %(mb)s MB.",
                name=filename,
                mb=LIMITS["max_bytes"] // (1024 * 1024),
            ),
            [{"field": "attachments", "message": Message("too large: %(name)s", name=filename)}],
        )


def _zip_names(data: bytes) -> set[str]:
    """The member names of a ZIP package (its central directory only; nothing is inflated)."""
    if not data.startswith(b"PK\x03\x04"):
        return set()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            return set(package.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return set()


def _ooxml(folder: str) -> Callable[[bytes], bool]:
    def matches(data: bytes) -> bool:
        names = _zip_names(data)
        return "[Content_Types].xml" in names and any(n.startswith(folder) for n in names)

    return matches


def _text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


# what the content of each accepted extension must look like, and the type named in a refusal
SIGNATURES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    ".pdf": ("PDF", lambda d: d.startswith(b"%PDF-")),
    ".ofd": ("OFD", lambda d: "OFD.xml" in _zip_names(d)),
    ".png": ("PNG", lambda d: d.startswith(b"\x89PNG\r\n\x1a\n")),
    ".jpg": ("JPEG", lambda d: d.startswith(b"\xff\xd8\xff")),
    ".jpeg": ("JPEG", lambda d: d.startswith(b"\xff\xd8\xff")),
    ".docx": ("DOCX", _ooxml("word/")),
    ".xlsx": ("XLSX", _ooxml("xl/")),
    ".txt": ("TXT (UTF-8, GB18030)", _text),
}


def check_content(filename: str, data: bytes) -> None:
    """Refuse ``data`` unless it is what the extension of ``filename`` says it is."""
    expected, matches = SIGNATURES[Path(filename).suffix.lower()]
    if not matches(data):
        raise ValidationFailed(
            Message(
                "Attachment %(name)s is not a %(type)s file: its content does not match its name.",
                name=filename,
                type=expected,
            ),
            [
                {
                    "field": "attachments",
                    "message": Message(
                        "not a %(type)s file: %(name)s", type=expected, name=filename
                    ),
                }
            ],
        )


def default_directory() -> str:
    """Where attachments live: ``attachments/`` in the instance folder (``GOVSHARE_INSTANCE``,
    default ``instance``). The web app and the worker (the orphan sweep) agree on it."""
    instance = os.path.abspath(os.environ.get("GOVSHARE_INSTANCE", "instance"))
    return os.path.join(instance, "attachments")


def store(
    session: Session,
    clock: Clock,
    directory: str,
    instance_id: int,
    task_id: int | None,
    user_id: int,
    filename: str,
    content_type: str,
    stream: BinaryIO,
) -> FileInfo:
    data = stream.read(LIMITS["max_bytes"] + 1)
    check(filename, content_type, len(data))
    check_content(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(directory, exist_ok=True)
    target = Path(directory) / digest
    try:
        os.utime(target)  # the same content again: fresh for the orphan sweep's grace period
    except FileNotFoundError:
        tmp = target.with_suffix(f".{os.getpid()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    row = Attachment(
        instance_id=instance_id,
        task_id=task_id,
        filename=Path(filename).name,
        content_type=TYPES.get(Path(filename).suffix.lower(), "application/octet-stream"),
        size=len(data),
        sha256=digest,
        uploaded_by_id=user_id,
        uploaded_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        clock.now(),
        "attachment_added",
        actor_id=user_id,
        instance_id=instance_id,
        object_type="attachment",
        object_ref=str(row.id),
        filename=row.filename,
        size=row.size,
        sha256=digest,
    )
    return FileInfo(row.id, row.filename, row.size)


@dataclass(frozen=True)
class StoredFile:
    """An attachment to hand out: where its bytes are and how to name and type them."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str


def path_of(directory: str, row: StoredFile | Attachment) -> Path:
    return Path(directory) / row.sha256


def attachment_for(session: Session, user: User, attachment_id: int) -> StoredFile:
    """An attachment, for the departments its instance involves (NotFound, else Forbidden)."""
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(Message("No attachment %(id)s.", id=attachment_id))
    check_may_see(session, user, session.get_one(ProcessInstance, row.instance_id))
    return StoredFile(row.id, row.filename, row.content_type, row.size, row.sha256)


ORPHAN_GRACE = timedelta(hours=24)  # an upload's transaction never stays open this long
SWEEP_EVERY = timedelta(hours=1)
SWEEP_MARK = ".last-orphan-sweep"  # in the directory: when a worker last swept it
_STORED = re.compile(r"[0-9a-f]{64}(\.[0-9]+)?(\.part)?")  # names store() writes; nothing else


def sweep_orphans(
    session: Session, clock: Clock, directory: str | None = None, force: bool = False
) -> list[str]:
    """Remove the files of ``directory`` that no attachment row references and that are older
    than :data:`ORPHAN_GRACE` (a killed upload, a submission refused after its file was written);
    at most once per :data:`SWEEP_EVERY` unless ``force``. One pass over the directory and one
    query per thousand candidates; files not named as :func:`store` names them are never touched.
    Returns the names removed; a batch that removed any is audited."""
    folder = Path(directory or default_directory())
    now = clock.now()
    mark = folder / SWEEP_MARK
    if not folder.is_dir() or (not force and _swept_since(mark, now - SWEEP_EVERY)):
        return []
    cutoff = (now - ORPHAN_GRACE).timestamp()
    candidates = {
        entry.name: entry.name[:64]
        for entry in os.scandir(folder)
        if _STORED.fullmatch(entry.name) and entry.stat().st_mtime < cutoff
    }
    digests = sorted(set(candidates.values()))
    referenced: set[str] = set()
    for start in range(0, len(digests), 1000):
        chunk = digests[start : start + 1000]
        referenced.update(
            session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(chunk)))
        )
    removed = []
    for name, digest in sorted(candidates.items()):
        if digest in referenced and not name.endswith(".part"):
            continue
        path = folder / name
        try:
            if path.stat().st_mtime >= cutoff:  # reused by an upload since the scan
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(name)
    if removed:
        audit.record(
            session,
            now,
            "attachments.orphans_removed",
            object_type="attachment_directory",
            object_ref=str(folder),
            files=removed,
            grace_hours=ORPHAN_GRACE.total_seconds() / 3600,
        )
    mark.write_text(now.isoformat(), "utf-8")
    return removed


def _swept_since(mark: Path, since: datetime) -> bool:
    try:
        last = datetime.fromisoformat(mark.read_text("utf-8").strip())
    except (FileNotFoundError, ValueError):
        return False
    return last.astimezone(UTC) > since
