"""In-app notifications as officials read them: the bell's unread count on every page, the list
(newest first, paged by id: a page costs the same however many are stored), opening one (marks
it read and goes to the page that acts on it) and marking all read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.calendar import load_calendar
from engine.clock import Clock
from engine.directory.models import User
from engine.errors import NotFound
from engine.i18n import Message
from notifications.external import rendered_for
from notifications.kinds import kind_of
from notifications.models import Notification

PAGE_SIZE = 20
COUNT_CAP = 99  # the bell shows "99+" beyond


@dataclass(frozen=True)
class Item:
    id: int
    kind: str
    family: str  # task | reminder | urgent | supervision | outcome | digest
    subject: str
    text: str
    link: str
    business_key: str | None
    created_at: datetime
    due_at: datetime | None
    read: bool


@dataclass(frozen=True)
class NotificationPage:
    items: list[Item]
    unread: int
    next_before: int | None  # the id to page on from, None on the last page


def unread_count(session: Session, user_id: int, cap: int = COUNT_CAP) -> int:
    """Unread notifications of a user, counted up to ``cap`` + 1 through the partial index
    ``ix_notification_unread``: one index range scan, on every page."""
    ids = (
        select(Notification.id)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .limit(cap + 1)
        .subquery()
    )
    return int(session.execute(select(func.count()).select_from(ids)).scalar_one())


def page(
    session: Session,
    clock: Clock,
    user: User,
    lang: str,
    before: int | None = None,
    unread_only: bool = False,
    size: int = PAGE_SIZE,
) -> NotificationPage:
    """A page of the user's notifications, newest first, from before the id ``before``."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before:
        stmt = stmt.where(Notification.id < before)
    rows = list(session.scalars(stmt.order_by(Notification.id.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    calendar, now = load_calendar(session), clock.now()
    items = []
    for row in rows:
        message = rendered_for(row, lang, now, calendar, base=None)
        lines = message.text.splitlines()
        if lines and lines[0] in message.subject:  # the subject says it already
            lines = lines[1:]
        items.append(
            Item(
                id=row.id,
                kind=row.kind,
                family=kind_of(row.kind).family,
                subject=message.subject,
                text="\n".join(lines),
                link=row.link,
                business_key=row.business_key,
                created_at=row.created_at,
                due_at=row.due_at,
                read=row.read_at is not None,
            )
        )
    return NotificationPage(
        items, unread_count(session, user.id), rows[-1].id if more and rows else None
    )


def _own(session: Session, user: User, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:  # another's notification does not exist for you
        raise NotFound(Message("No notification %(id)s.", id=notification_id))
    return row


def open_notification(session: Session, clock: Clock, user: User, notification_id: int) -> str:
    """Mark one of the user's notifications read; returns the link of the page that acts on it."""
    row = _own(session, user, notification_id)
    if row.read_at is None:
        row.read_at = clock.now()
        audit.record(
            session,
            clock.now(),
            "notification_read",
            actor_id=user.id,
            object_type="notification",
            object_ref=str(row.id),
        )
        session.flush()
    return row.link or "/inbox/mine"


def mark_all_read(session: Session, clock: Clock, user: User) -> int:
    """Mark every unread notification of the user read; returns how many."""
    now = clock.now()
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        audit.record(
            session,
            now,
            "notifications_all_read",
            actor_id=user.id,
            object_type="user",
            object_ref=user.username,
            count=count,
        )
    return count
