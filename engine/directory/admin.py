"""Who administers what (issue 14): the system administrator and the administrators of a level.

* A **system administrator** (job role ``admin``) administers the whole installation: every
  division and department, every account, calendars, rule sets, processes and incidents.
* A **level administrator** (job role ``level_admin``) sits on the staff of a data-sharing
  authority and administers the directory and the accounts of that authority's level and the
  levels below (the city authority's administrator: the city and its counties), never above.

Every administration service calls :func:`require_admin` (or :func:`require_system_admin`) first,
so the web pages, the API and the CLI enforce the same rule. The CLI runs as the operator of the
machine and passes ``actor=None``: it may do everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.directory import divisions_under
from engine.directory.models import Department, User
from engine.errors import Forbidden
from engine.i18n import Message

SYSTEM_ADMIN = "admin"
LEVEL_ADMIN = "level_admin"


def is_system_admin(user: User | None) -> bool:
    return user is not None and SYSTEM_ADMIN in (user.job_roles or [])


def is_level_admin(user: User | None) -> bool:
    """An administrator of an authority's level (only on an authority's staff)."""
    return (
        user is not None
        and LEVEL_ADMIN in (user.job_roles or [])
        and bool(user.department.is_authority)
    )


def is_admin(user: User | None) -> bool:
    """Does ``user`` administer anything (the administration menu shows for them)?"""
    return is_system_admin(user) or is_level_admin(user)


@dataclass(frozen=True)
class AdminScope:
    """What an administrator may administer: everything, or one division and those below it."""

    everything: bool
    division_code: str | None = None  # the level administrator's division

    def divisions(self) -> Select[str] | None:
        """The administered divisions as a subquery; None: all of them."""
        if self.everything or self.division_code is None:
            return None
        return divisions_under(self.division_code)

    def covers(self, session: Session, division_code: str) -> bool:
        subquery = self.divisions()
        if subquery is None:
            return True
        return division_code in set(session.scalars(subquery))

    def departments(self) -> Select[int] | None:
        """The administered departments' ids as a subquery; None: all of them."""
        subquery = self.divisions()
        if subquery is None:
            return None
        return select(Department.id).where(Department.division_code.in_(subquery))


OPERATOR = AdminScope(everything=True)  # the CLI's operator (actor None)


def admin_scope(user: User | None) -> AdminScope | None:
    """``user``'s administration scope; None for someone who administers nothing."""
    if is_system_admin(user):
        return OPERATOR
    if is_level_admin(user):
        assert user is not None
        return AdminScope(everything=False, division_code=user.department.division_code)
    return None


def require_admin(
    session: Session, actor: User | None, division_code: str | None = None
) -> AdminScope:
    """The actor's scope, after checking they administer ``division_code`` (when given).

    ``actor=None`` is the operator at the command line: allowed everything."""
    if actor is None:
        return OPERATOR
    scope = admin_scope(actor)
    if scope is None:
        raise Forbidden(Message("Only an administrator may do this."))
    if division_code is not None and not scope.covers(session, division_code):
        raise Forbidden(
            Message("Administrators of a level administer only their level and the levels below.")
        )
    return scope


def require_system_admin(actor: User | None) -> None:
    """Only the system administrator (or the operator at the command line)."""
    if actor is not None and not is_system_admin(actor):
        raise Forbidden(Message("Only the system administrator may do this."))
