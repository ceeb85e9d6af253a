"""Accounts (issue 14, item 3): list, create, job roles, moves, deactivation and reactivation,
password resets with a forced change, the password policy, and bulk import from CSV.

Each change is audited (object_type ``user``, object_ref the user name). Deactivating a user,
setting or resetting a password revokes every session record of the user
(engine.directory.sessions), so a browser that was signed in must sign in again.

Who may do what (engine.directory.admin): the operator at the command line (``actor=None``)
everything; the system administrator every account; a level's administrator the accounts of the
departments of their level and the levels below. Only the system administrator grants or
removes the job role ``admin``, and nobody removes the last active system administrator
(deactivating, moving away their role).

Deactivation and moves hand the account's claimed tasks back to the queue: they live in
engine.workflow.accounts (the directory does not reach into the task mirror).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy import String, cast, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.admin import LEVEL_ADMIN, SYSTEM_ADMIN, admin_scope, require_admin
from engine.directory.models import Department, User
from engine.directory.passwords import check_password, hash_password
from engine.directory.sessions import revoke_sessions
from engine.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import Checks, decode_text, storable
from engine.paging import capped_count, page_count

# -- the password policy (docs/administration.md "Accounts") ------------------------------------
MIN_PASSWORD_LENGTH = 10
# refused whatever their length: the most common passwords of leaked lists, and this system's
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "1111111111",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "a123456789",
        "abc1234567",
        "abcdefghij",
        "iloveyou123",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "qwertyuiop",
        "qwerty1234",
        "qwerty123456",
        "welcome123",
        "admin12345",
        "administrator",
        "changeme123",
        "govshare123",
        "woaini1314",
        "zxcvbnm123",
    }
)

JOB_ROLES: dict[str, str] = {
    "official": N_("Official (clerk)"),
    "leader": N_("Leader"),
    "coordinator": N_("Coordinator"),
    LEVEL_ADMIN: N_("Level administrator"),
    SYSTEM_ADMIN: N_("System administrator"),
}
PAGE_SIZE = 25
MAX_IMPORT_ROWS = 2000

USERNAME = Message(N_("User name"))
DISPLAY_NAME = Message(N_("Name (Chinese)"))
DISPLAY_NAME_EN = Message(N_("Name (English)"))
DEPARTMENT = Message(N_("Department"))
ROLES = Message(N_("Job roles"))
EMAIL_ADDRESS = Message(N_("E-mail address"))
# the notifications' own check (notifications.preferences.EMAIL) says the same
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NEW_PASSWORD = Message(N_("New password"))


def role_labels(roles: list[str]) -> list[Message]:
    return [Message(JOB_ROLES[r]) for r in roles if r in JOB_ROLES]


def _user(session: Session, username: str) -> User:
    user = (
        session.scalar(select(User).where(User.username == (username or "").strip()))
        if storable(username or "")
        else None
    )
    if user is None:
        raise NotFound(Message("Unknown user '%(name)s'.", name=username))
    return user


def _may_administer(session: Session, actor: User | None, user: User) -> None:
    """The actor administers the user's department (the operator: everything)."""
    require_admin(session, actor, user.department.division_code)


def password_problems(
    password: str, field: str = "new_password", username: str | None = None
) -> list[FieldProblem]:
    """What the password policy finds wrong with a new password (empty: acceptable): at least
    MIN_PASSWORD_LENGTH characters, not only spaces, not only digits, not the user name (nor
    containing it), not one of COMMON_PASSWORDS."""
    value = password or ""
    problem: Message | None = None
    if len(value) < MIN_PASSWORD_LENGTH:
        problem = Message("New password: use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
    elif not value.strip():
        problem = Message("New password: must not be only spaces.")
    elif value.strip().isdigit():
        problem = Message("New password: must not be only digits.")
    elif username and username.strip().lower() in value.lower():
        problem = Message("New password: must not contain the user name.")
    elif value.strip().lower() in COMMON_PASSWORDS:
        problem = Message("New password: it is one of the most common passwords; choose another.")
    if problem is None:
        return []
    return [{"field": field, "label": NEW_PASSWORD, "message": problem}]


def temporary_password() -> str:
    """A random temporary password that meets the policy (shown once, changed at next sign-in)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(14))
        if not value.isdigit():
            return value


# -- reading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountInfo:
    id: int
    username: str
    name: Label
    display_name: str
    display_name_en: str
    department: Label
    department_slug: str
    roles: list[str]
    role_labels: list[Message]
    active: bool
    must_change_password: bool


def _info(user: User) -> AccountInfo:
    roles = [r for r in (user.job_roles or []) if r in JOB_ROLES]
    return AccountInfo(
        id=user.id,
        username=user.username,
        name=user.label,
        display_name=user.display_name,
        display_name_en=user.display_name_en or "",
        department=user.department.label,
        department_slug=user.department.slug,
        roles=roles,
        role_labels=role_labels(roles),
        active=bool(user.active),
        must_change_password=bool(user.must_change_password),
    )


@dataclass(frozen=True)
class AccountFilters:
    department: str | None = None  # slug
    role: str | None = None
    active: bool | None = None
    q: str | None = None  # part of the user name or display names


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountInfo]
    total: int  # exact up to COUNT_CAP
    page: int
    pages: int
    departments: list[tuple[str, Label]]  # (slug, name) the actor administers
    roles: list[tuple[str, Message]]  # (key, label) the actor may grant


def _departments_of(session: Session, actor: User | None) -> list[Department]:
    scope = require_admin(session, actor)
    stmt = select(Department).order_by(Department.division_code, Department.name)
    subquery = scope.departments()
    if subquery is not None:
        stmt = stmt.where(Department.id.in_(subquery))
    return list(session.scalars(stmt))


def grantable_roles(actor: User | None) -> list[tuple[str, Message]]:
    system = actor is None or SYSTEM_ADMIN in (actor.job_roles or [])
    return [(k, Message(v)) for k, v in JOB_ROLES.items() if system or k != SYSTEM_ADMIN]


def list_accounts(
    session: Session,
    actor: User | None,
    filters: AccountFilters | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> AccountPage:
    """One page of the accounts the actor administers, by user name (O(page), count capped)."""
    f = filters or AccountFilters()
    scope = require_admin(session, actor)
    stmt = select(User)
    subquery = scope.departments()
    if subquery is not None:
        stmt = stmt.where(User.department_id.in_(subquery))
    if f.department:
        stmt = stmt.join(Department, Department.id == User.department_id).where(
            Department.slug == f.department
        )
    if f.role in JOB_ROLES:
        # the roles are a JSON list: its text holds "role" with the quotes (SQLite and PostgreSQL)
        stmt = stmt.where(cast(User.job_roles, String).like(f'%"{f.role}"%'))
    if f.active is not None:
        stmt = stmt.where(User.active.is_(f.active))
    if f.q and f.q.strip() and storable(f.q):
        like = f"%{f.q.strip()}%"
        stmt = stmt.where(
            or_(
                User.username.like(like),
                User.display_name.like(like),
                User.display_name_en.like(like),
            )
        )
    total = capped_count(session, stmt, User.id)
    pages = page_count(total, page_size)
    page = min(max(1, page), pages)
    users = session.scalars(
        stmt.order_by(User.username).limit(page_size).offset((page - 1) * page_size)
    ).all()
    depts = _departments_of(session, actor)
    return AccountPage(
        [_info(u) for u in users],
        total,
        page,
        pages,
        [(d.slug, d.label) for d in depts],
        grantable_roles(actor),
    )


def account(session: Session, actor: User | None, username: str) -> AccountInfo:
    user = _user(session, username)
    _may_administer(session, actor, user)
    return _info(user)


# -- changes --------------------------------------------------------------------------------------
def _check_roles(
    checks: Checks, session: Session, actor: User | None, roles: object, department: Department
) -> list[str]:
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        checks.add("roles", ROLES, Message(N_("must be a list of job roles")))
        return []
    unknown = [r for r in roles if r not in JOB_ROLES]
    if unknown:
        checks.add("roles", ROLES, Message(N_("must be job roles the system knows")))
        return []
    if LEVEL_ADMIN in roles and not department.is_authority:
        checks.add(
            "roles",
            ROLES,
            Message(N_("a level administrator must work at a data-sharing authority")),
        )
    if "coordinator" in roles and not department.coordinates:
        checks.add(
            "roles",
            ROLES,
            Message(
                N_("a coordinator must work at a data-sharing authority or the general office")
            ),
        )
    ordered = [r for r in JOB_ROLES if r in roles]
    return ordered or ["official"]


def _active_system_admins(session: Session) -> list[int]:
    """The active system administrators, their rows locked (PostgreSQL): of two administrators
    removing each other at once, the second waits and then sees it would leave none."""
    return [
        u.id
        for u in session.scalars(
            select(User)
            .where(User.active.is_(True), cast(User.job_roles, String).like(f'%"{SYSTEM_ADMIN}"%'))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if SYSTEM_ADMIN in (u.job_roles or [])
    ]


def _keep_a_system_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave no active system administrator."""
    if SYSTEM_ADMIN in (user.job_roles or []) and user.active:
        if _active_system_admins(session) == [user.id]:
            raise Conflict(
                Message(
                    "%(who)s is the last active system administrator; name another one first.",
                    who=user.label,
                )
            )


def _admin_grant_allowed(actor: User | None, before: list[str], after: list[str]) -> None:
    if (SYSTEM_ADMIN in before) != (SYSTEM_ADMIN in after) and not (
        actor is None or SYSTEM_ADMIN in (actor.job_roles or [])
    ):
        raise Forbidden(Message("Only the system administrator grants or removes the role admin."))


def create_account(
    session: Session, clock: Clock, actor: User | None, form: dict
) -> tuple[AccountInfo, str]:
    """Create an account (``username``, ``display_name``, ``display_name_en``, ``department``
    slug, ``roles``; ``email`` is only checked here: the caller stores it with the notification
    settings, notifications.preferences.set_email_address); returns it and its temporary
    password, to be shown once and changed at the first sign-in. Refused naming each field;
    nothing is written."""
    info, password = _create(session, clock, actor, form)
    return info, password


def _create(
    session: Session, clock: Clock, actor: User | None, form: dict, row: int | None = None
) -> tuple[AccountInfo, str]:
    checks = Checks()
    username = str(form.get("username") or "").strip()
    if checks.text("username", username, USERNAME, column=User.username, required=True):
        if not all(c.isascii() and (c.isalnum() or c in "._-") for c in username):
            checks.add(
                "username",
                USERNAME,
                Message(N_("may use only letters, digits, dots, hyphens and underscores")),
            )
        elif session.scalar(select(User.id).where(User.username == username)) is not None:
            checks.add("username", USERNAME, Message(N_("is taken by another account")))
    name = str(form.get("display_name") or "").strip()
    checks.text("display_name", name, DISPLAY_NAME, column=User.display_name, required=True)
    name_en = str(form.get("display_name_en") or "").strip()
    checks.text("display_name_en", name_en, DISPLAY_NAME_EN, column=User.display_name_en)
    email = str(form.get("email") or "").strip()
    if email and checks.text("email", email, EMAIL_ADDRESS, max_length=200):
        if not EMAIL.match(email):
            checks.add(
                "email",
                EMAIL_ADDRESS,
                Message(N_("must be an e-mail address such as name@example.gov.cn")),
            )
    slug = str(form.get("department") or "").strip()
    department = (
        session.scalar(select(Department).where(Department.slug == slug))
        if storable(slug)
        else None
    )
    roles: list[str] = []
    if department is None:
        checks.add("department", DEPARTMENT, Message(N_("must be a department of the directory")))
    else:
        roles = _check_roles(checks, session, actor, form.get("roles") or ["official"], department)
    checks.done(
        Message(N_("Row %(row)s"), row=row)
        if row is not None
        else Message(N_("The account was not created"))
    )
    assert department is not None
    require_admin(session, actor, department.division_code)
    _admin_grant_allowed(actor, [], roles)
    password = temporary_password()
    user = User(
        username=username,
        display_name=name,
        display_name_en=name_en,
        department_id=department.id,
        job_roles=roles,
        password_hash=hash_password(password),
        active=True,
        must_change_password=True,
    )
    try:
        with session.begin_nested():  # two administrators creating the same name at once
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict(
            Message("The user name %(name)s was just taken by another account.", name=username)
        ) from None
    audit.record(
        session,
        clock.now(),
        "user_created",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref=username,
        after={"department": department.slug, "roles": roles, "display_name": name},
    )
    return _info(user), password


def set_roles(
    session: Session, clock: Clock, actor: User | None, username: str, roles: list[str]
) -> AccountInfo:
    user = _user(session, username)
    _may_administer(session, actor, user)
    checks = Checks()
    new = _check_roles(checks, session, actor, roles, user.department)
    checks.done(Message(N_("The job roles were not changed")))
    before = list(user.job_roles or [])
    _admin_grant_allowed(actor, before, new)
    if SYSTEM_ADMIN in before and SYSTEM_ADMIN not in new:
        _keep_a_system_admin(session, user)
    if before != new:
        user.job_roles = new
        audit.record(
            session,
            clock.now(),
            "user_roles_changed",
            actor_id=actor.id if actor else None,
            object_type="user",
            object_ref=user.username,
            before={"roles": before},
            after={"roles": new},
        )
    return _info(user)


def reactivate_account(
    session: Session, clock: Clock, actor: User | None, username: str
) -> AccountInfo:
    user = _user(session, username)
    _may_administer(session, actor, user)
    if not user.active:
        user.active = True
        audit.record(
            session,
            clock.now(),
            "user_reactivated",
            actor_id=actor.id if actor else None,
            object_type="user",
            object_ref=user.username,
            before={"active": False},
            after={"active": True},
        )
    return _info(user)


def _store_password(
    session: Session,
    clock: Clock,
    user: User,
    new_password: str,
    kind: str,
    actor_id: int | None,
    must_change: bool = False,
) -> int:
    now = clock.now()
    user.password_hash = hash_password(new_password)
    user.must_change_password = must_change
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
    user = _user(session, username)
    _may_administer(session, actor, user)
    problems = password_problems(new_password, username=user.username)
    if problems:
        raise ValidationFailed(Message("The new password is not acceptable."), problems)
    return _store_password(
        session, clock, user, new_password, "password_set", actor.id if actor else None
    )


def reset_password(session: Session, clock: Clock, actor: User | None, username: str) -> str:
    """An administrator resets a password: a temporary one, returned to be shown once, which the
    user must change at the next sign-in (they can do nothing else until then); every session of
    theirs is revoked."""
    user = _user(session, username)
    _may_administer(session, actor, user)
    password = temporary_password()
    _store_password(
        session,
        clock,
        user,
        password,
        "password_reset",
        actor.id if actor else None,
        must_change=True,
    )
    return password


def change_password(
    session: Session, clock: Clock, user: User, current: str, new_password: str, repeat: str
) -> int:
    """A signed-in user changes their own password; every session of theirs is revoked
    (the caller opens a fresh one for the browser that made the change). Clears a forced change."""
    problems: list[FieldProblem] = []
    if not check_password(user.password_hash, current or ""):
        problems.append(
            {"field": "current_password", "message": Message("Current password: it is wrong.")}
        )
    problems += password_problems(new_password, username=user.username)
    if new_password == current and not problems:
        problems.append(
            {
                "field": "new_password",
                "message": Message("New password: must differ from the current password."),
            }
        )
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


# -- bulk import ----------------------------------------------------------------------------------
IMPORT_COLUMNS = ("username", "display_name", "display_name_en", "department", "roles", "email")


@dataclass
class ImportReport:
    """What an import would do (dry run) or did: the accounts, or every problem by row and
    field label. ``passwords`` (applied only): the temporary password of each new account."""

    accounts: list[AccountInfo] = field(default_factory=list)
    problems: list[tuple[int, Message | str, Message | str]] = field(default_factory=list)
    applied: bool = False
    passwords: list[tuple[str, str]] = field(default_factory=list)
    # (user name, e-mail address) of the rows that give one: the caller stores them
    # (notifications.preferences.set_email_address) in the same transaction
    emails: list[tuple[str, str]] = field(default_factory=list)


def import_accounts(
    session: Session, clock: Clock, actor: User | None, data: bytes | str, apply: bool = False
) -> ImportReport:
    """Create accounts from CSV (header: username, display_name, display_name_en, department,
    roles — roles separated by ``;`` — and optionally email). All or nothing: every row is checked (row numbers count
    the header as row 1); with a problem in any row, or without ``apply``, nothing is written."""
    require_admin(session, actor)
    text = data if isinstance(data, str) else decode_text(data, Message(N_("CSV file")))
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [
        c for c in ("username", "display_name", "department") if c not in (reader.fieldnames or [])
    ]
    if missing:
        report.problems.append(
            (
                1,
                Message(N_("CSV file")),
                Message(N_("missing columns: %(cols)s"), cols=", ".join(missing)),
            )
        )
        return report
    seen: set[str] = set()
    with session.begin_nested() as savepoint:
        for number, raw in enumerate(reader, start=2):
            if number - 1 > MAX_IMPORT_ROWS:
                report.problems.append(
                    (
                        number,
                        Message(N_("CSV file")),
                        Message(N_("more than %(n)s rows"), n=MAX_IMPORT_ROWS),
                    )
                )
                break
            form = {k: (raw.get(k) or "").strip() for k in IMPORT_COLUMNS}
            if not any(form.values()):
                continue
            form_roles = [
                r.strip() for r in form["roles"].replace(",", ";").split(";") if r.strip()
            ]
            if form["username"] in seen:
                report.problems.append((number, USERNAME, Message(N_("appears twice in the file"))))
                continue
            seen.add(form["username"])
            try:
                with session.begin_nested():
                    info, password = _create(
                        session, clock, actor, {**form, "roles": form_roles or ["official"]}, number
                    )
            except ValidationFailed as err:
                for p in err.details:
                    report.problems.append((number, p.get("label") or p["field"], p["message"]))
                continue
            except (Forbidden, Conflict) as err:
                report.problems.append((number, DEPARTMENT, err.message))
                continue
            report.accounts.append(info)
            report.passwords.append((info.username, password))
            if form["email"]:
                report.emails.append((info.username, form["email"]))
        if report.problems or not apply:
            savepoint.rollback()
            report.passwords = []
            return report
    report.applied = True
    audit.record(
        session,
        clock.now(),
        "users_imported",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref="",
        after={"created": [a.username for a in report.accounts]},
    )
    return report


def any_admin(session: Session, actor: User | None) -> bool:
    """Does ``actor`` administer accounts (the hub and menus ask)?"""
    return actor is None or admin_scope(actor) is not None
