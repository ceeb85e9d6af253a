"""Server-side sessions: one record per signed-in browser, checked on every request.

The session cookie carries only the record's random id. A record ends when it is revoked
(sign-out, the user's deactivation, a change of the user's password), ``ABSOLUTE_LIFETIME`` after
sign-in, or after the idle limit the caller passes (``GOVSHARE_IDLE_MINUTES``); an ended record
never works again, whoever still holds the cookie. ``last_seen_at`` is written at most once per
``TOUCH_EVERY`` so that pages do not each write a row.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.models import User, UserSession

ABSOLUTE_LIFETIME = timedelta(hours=8)
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of checking a session record: ``user_id`` when it is valid, else why it ended
    (``"revoked"``, ``"expired"``, ``"idle"`` or ``"unknown"``)."""

    user_id: int | None
    ended: str | None = None


def open_session(
    session: Session, clock: Clock, user: User, address: str = "", user_agent: str = ""
) -> str:
    """A new session record for a user who has just signed in; returns its id for the cookie."""
    now = clock.now()
    record = UserSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        address=address[:64],
        user_agent=user_agent[:200],
    )
    session.add(record)
    return record.id


def check_session(
    session: Session, clock: Clock, session_id: str | None, idle_minutes: int
) -> SessionCheck:
    """Whether a session record is still valid now; an expired one is revoked on the spot."""
    record = session.get(UserSession, session_id) if session_id else None
    if record is None:
        return SessionCheck(None, "unknown")
    if record.revoked_at is not None:
        return SessionCheck(None, "revoked")
    now = clock.now()
    ended = None
    if now - record.created_at > ABSOLUTE_LIFETIME:
        ended = "expired"
    elif now - record.last_seen_at > timedelta(minutes=idle_minutes):
        ended = "idle"
    user = session.get(User, record.user_id)
    if ended is None and (user is None or not user.active):
        ended = "revoked"
    if ended is not None:
        record.revoked_at = now
        audit.record(
            session,
            now,
            "session_ended",
            actor_id=record.user_id,
            object_type="user",
            object_ref=user.username if user else str(record.user_id),
            reason=ended,
            address=record.address,
        )
        return SessionCheck(None, ended)
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
    return SessionCheck(record.user_id)


def end_session(session: Session, clock: Clock, session_id: str | None, address: str = "") -> None:
    """Sign-out: revoke the record (audited); an unknown or ended record is left as it is."""
    record = session.get(UserSession, session_id) if session_id else None
    if record is None or record.revoked_at is not None:
        return
    now = clock.now()
    record.revoked_at = now
    user = session.get(User, record.user_id)
    audit.record(
        session,
        now,
        "sign_out",
        actor_id=record.user_id,
        object_type="user",
        object_ref=user.username if user else str(record.user_id),
        address=address,
    )


def revoke_sessions(session: Session, at: datetime, user_id: int) -> int:
    """Revoke every open session record of a user (deactivation, password change); the caller
    audits the change that asked for it. Returns how many were open."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(session: Session, user_id: int) -> list[UserSession]:
    """The user's records not yet revoked (for tests and a future "your sessions" page)."""
    return list(
        session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.created_at)
        )
    )
