"""Directory: divisions, departments, users, and "the same-level authority" (art. 4).

Each county-level-and-above government has a data-sharing authority. For two departments the
authority *of the same level* is the county's if both sit in the same county, else the city's if
both sit in the same city, else the region's (DESIGN.md).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.directory.models import Department, Division, User
from engine.errors import NotFound
from engine.i18n import Message


def _ancestors(session: Session, code: str) -> list[str]:
    """The division and its parents, nearest first."""
    chain = []
    while code:
        chain.append(code)
        division = session.get(Division, code)
        if division is None:
            raise NotFound(Message("Unknown administrative division %(code)s.", code=code))
        code = division.parent_code
    return chain


def authority_of(session: Session, division_code: str) -> Department:
    dept = session.scalar(
        select(Department).where(
            Department.division_code == division_code, Department.is_authority.is_(True)
        )
    )
    if dept is None:
        raise NotFound(
            Message(
                "Division %(code)s has no data-sharing authority in the directory.",
                code=division_code,
            )
        )
    return dept


def same_level_authority(session: Session, a: Department, b: Department) -> Department:
    """The data-sharing authority of the lowest division containing both departments."""
    chain_b = set(_ancestors(session, b.division_code))
    for code in _ancestors(session, a.division_code):
        if code in chain_b:
            return authority_of(session, code)
    raise NotFound(Message("Departments %(a)s and %(b)s share no division.", a=a.name, b=b.name))


def department_by_slug(session: Session, slug: str) -> Department:
    dept = session.scalar(select(Department).where(Department.slug == slug))
    if dept is None:
        raise NotFound(Message("Unknown department '%(slug)s'.", slug=slug))
    return dept


def user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise NotFound(Message("Unknown user '%(name)s'.", name=username))
    return user


def is_coordinator(user: User) -> bool:
    """A coordinator of a data-sharing authority: decides disputes, appeals and rectifications."""
    return user.department.is_authority and "coordinator" in (user.job_roles or [])
