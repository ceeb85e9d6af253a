"""Account changes that end sessions: deactivating a user, setting or changing a password.

Each is audited (object_type ``user``, object_ref the user name) and revokes every session record
of the user (engine.directory.sessions), so a browser that was signed in must sign in again. The
command line (an operator on the server) passes no actor; a person acting through the web passes
themselves, and only an administrator may change another user.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.models import User
from engine.directory.passwords import check_password, hash_password
from engine.directory.sessions import revoke_sessions
from engine.errors import FieldProblem, Forbidden, NotFound, ValidationFailed
from engine.i18n import Message

MIN_PASSWORD_LENGTH = 10


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        raise NotFound(Message("Unknown user '%(name)s'.", name=username))
    return user


def _may_administer(actor: User | None) -> None:
    if actor is not None and "admin" not in (actor.job_roles or []):
        raise Forbidden(Message("Only an administrator may change another user's account."))


def password_problems(password: str, field: str = "new_password") -> list[FieldProblem]:
    """What the password policy finds wrong with a new password (empty: acceptable)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return [
            {
                "field": field,
                "message": Message(
                    "New password: use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH
                ),
            }
        ]
    if not (password or "").strip():
        return [{"field": field, "message": Message("New password: must not be only spaces.")}]
    return []


def deactivate_user(
    session: Session, clock: Clock, username: str, actor: User | None = None
) -> int:
    """Deactivate a user: no more sign-in, API tokens refused, every session revoked.
    Returns how many sessions were open. Deactivating an inactive user changes nothing."""
    _may_administer(actor)
    user = _user(session, username)
    if not user.active:
        return 0
    now = clock.now()
    user.active = False
    revoked = revoke_sessions(session, now, user.id)
    audit.record(
        session,
        now,
        "user_deactivated",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref=user.username,
        before={"active": True},
        after={"active": False},
        sessions_revoked=revoked,
    )
    return revoked


def _store_password(
    session: Session, clock: Clock, user: User, new_password: str, kind: str, actor_id: int | None
) -> int:
    now = clock.now()
    user.password_hash = hash_password(new_password)
    revoked = revoke_sessions(session, now, user.id)
    audit.record(
        session,
        now,
        kind,
        actor_id=actor_id,
        object_type="user",
        object_ref=user.username,
        sessions_revoked=revoked,
    )
    return revoked


def set_password(
    session: Session, clock: Clock, username: str, new_password: str, actor: User | None = None
) -> int:
    """Set a user's password (an operator or administrator); revokes the user's sessions."""
    _may_administer(actor)
    user = _user(session, username)
    problems = password_problems(new_password)
    if problems:
        raise ValidationFailed(Message("The new password is not acceptable."), problems)
    return _store_password(
        session, clock, user, new_password, "password_set", actor.id if actor else None
    )


def change_password(
    session: Session, clock: Clock, user: User, current: str, new_password: str, repeat: str
) -> int:
    """A signed-in user changes their own password; every session of theirs is revoked
    (the caller opens a fresh one for the browser that made the change)."""
    problems: list[FieldProblem] = []
    if not check_password(user.password_hash, current or ""):
        problems.append(
            {"field": "current_password", "message": Message("Current password: it is wrong.")}
        )
    problems += password_problems(new_password)
    if new_password != repeat:
        problems.append(
            {
                "field": "repeat_password",
                "message": Message("Repeat new password: it differs from the new password."),
            }
        )
    if problems:
        raise ValidationFailed(Message("The password was not changed."), problems)
    return _store_password(session, clock, user, new_password, "password_changed", user.id)
