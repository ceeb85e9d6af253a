"""Attachments to task submissions: checked for size and type, stored content-addressed on disk."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypedDict

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
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(directory, exist_ok=True)
    target = Path(directory) / digest
    if not target.exists():
        tmp = target.with_suffix(".part")
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
