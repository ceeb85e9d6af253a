"""Sign-in with throttling: failures are counted per account name and per client address.

``MAX_FAILURES_PER_ACCOUNT`` failed sign-ins with one user name, or ``MAX_FAILURES_PER_ADDRESS``
from one client address, within ``WINDOW`` lock that name (or address) until ``WINDOW`` has passed
since the newest of those failures. A locked sign-in is refused even with the right password, and
says how many minutes to wait, never whether the name or the password was wrong. The counters are
rows of ``sign_in_failure`` in the database, so every worker process and host counts the same
failures. An unknown or deactivated name costs the same scrypt work as a known one (it is checked
against a dummy hash) and is counted and locked the same way. Every attempt is audited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.models import SignInFailure, User
from engine.directory.passwords import DUMMY_HASH, check_password
from engine.i18n import Message
from engine.inputs import scrubbed

MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = timedelta(minutes=15)
KEEP_FAILURES = timedelta(days=1)  # older rows are deleted as new failures are recorded

WRONG = Message("User name or password is wrong.")


@dataclass(frozen=True)
class SignInResult:
    """The signed-in user, or the message to show (``locked`` when the wait is the reason)."""

    user: User | None
    message: Message | None = None
    locked: bool = False


def _locked_until(
    session: Session, now: datetime, where: ColumnElement[bool], limit: int
) -> datetime | None:
    count, newest = session.execute(
        select(func.count(SignInFailure.id), func.max(SignInFailure.at)).where(
            where, SignInFailure.at > now - WINDOW
        )
    ).one()
    return newest + WINDOW if count >= limit and newest is not None else None


def locked_until(session: Session, clock: Clock, username: str, address: str) -> datetime | None:
    """When sign-ins with this name or from this address are possible again (None: now)."""
    now = clock.now()
    until = [
        _locked_until(
            session, now, SignInFailure.username == username.strip(), MAX_FAILURES_PER_ACCOUNT
        )
    ]
    if address:
        until.append(
            _locked_until(session, now, SignInFailure.address == address, MAX_FAILURES_PER_ADDRESS)
        )
    known = [u for u in until if u is not None]
    return max(known) if known else None


def sign_in(
    session: Session, clock: Clock, username: str, password: str, address: str = ""
) -> SignInResult:
    """Check a sign-in; the caller commits either way (a failure is recorded and audited)."""
    # a name as typed is stored with the failure and the audit event: NUL and lone surrogates
    # (which PostgreSQL refuses) become U+FFFD; such a name matches no user anyway
    name = str(scrubbed((username or "").strip()[:80]))
    address = str(scrubbed(address or ""))
    now = clock.now()
    event: dict[str, Any] = {"object_type": "user", "object_ref": name, "address": address}
    until = locked_until(session, clock, name, address)
    if until is not None:
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        audit.record(session, now, "sign_in_locked", **event)
        return SignInResult(
            None,
            Message("Too many failed sign-ins. Try again in %(n)s minutes.", n=minutes),
            locked=True,
        )
    user = session.scalar(select(User).where(User.username == name))
    matches = check_password(user.password_hash if user else DUMMY_HASH, password or "")
    if user is None or not user.active or not matches:
        session.execute(delete(SignInFailure).where(SignInFailure.at < now - KEEP_FAILURES))
        session.add(SignInFailure(at=now, username=name, address=address[:64]))
        reason = "unknown" if user is None else ("inactive" if not user.active else "password")
        audit.record(session, now, "sign_in_failed", reason=reason, **event)
        return SignInResult(None, WRONG)
    session.execute(delete(SignInFailure).where(SignInFailure.username == name))
    audit.record(session, now, "sign_in", actor_id=user.id, **event)
    return SignInResult(user)
