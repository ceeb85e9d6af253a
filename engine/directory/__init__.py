"""Directory: divisions, departments, users, and "the same-level authority" (art. 4).

Each county-level-and-above government has a data-sharing authority. For two departments the
authority *of the same level* is the county's if both sit in the same county, else the city's if
both sit in the same city, else the region's (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, joinedload

from engine import audit, refcache
from engine.clock import Clock
from engine.directory.models import (
    GENERAL_OFFICE,
    ApiToken,
    Department,
    DepartmentName,
    Division,
    User,
)
from engine.directory.passwords import token_digest
from engine.errors import NotFound
from engine.i18n import N_, Label, Message, translate
from engine.inputs import storable

TOKEN_TOUCH_EVERY = timedelta(minutes=1)

# departments, divisions and the people (their accounts change rarely: a sign-in writes no user
# row) are read by every command and request: cached per process (engine.refcache)
refcache.watch("directory", Division)
refcache.watch("directory", Department)
refcache.watch("directory", DepartmentName)
refcache.watch("directory", User)


@dataclass(frozen=True)
class _Directory:
    """The shape of the region: what every start asks to find its parties."""

    parents: dict[str, str | None]  # division code -> its parent's
    levels: dict[str, str]  # division code -> region | city | county
    authorities: dict[str, int]  # division code -> its data-sharing authority's department id
    departments: dict[int, dict]  # department id -> its row (refcache.attach makes it again)


def _directory(session: Session) -> _Directory:
    def load() -> _Directory:
        divisions = session.execute(
            select(Division.code, Division.parent_code, Division.level)
        ).all()
        rows = {d["id"]: d for d in refcache.fresh_rows(session, Department)}
        authorities: dict[str, int] = {}
        for dept_id in sorted(rows):
            values = rows[dept_id]
            if values["is_authority"]:
                authorities.setdefault(values["division_code"], dept_id)
        return _Directory(
            parents={d.code: d.parent_code for d in divisions},
            levels={d.code: d.level for d in divisions},
            authorities=authorities,
            departments=rows,
        )

    return refcache.cached(session, "directory", "shape", load)


def _department(session: Session, dept_id: int) -> Department:
    return refcache.attach(session, Department, _directory(session).departments[dept_id])


def department_by_id(session: Session, dept_id: int) -> Department:
    """A department by id from the per-process directory cache (no query while the directory is
    unchanged); NotFound for an id the directory lacks."""
    values = _directory(session).departments.get(dept_id)
    if values is None:
        raise NotFound(Message("Unknown department %(id)s.", id=dept_id))
    return refcache.attach(session, Department, values)


def _ancestors(session: Session, code: str) -> list[str]:
    """The division and its parents, nearest first."""
    parents = _directory(session).parents
    chain = []
    current: str | None = code
    while current:
        chain.append(current)
        if current not in parents:
            raise NotFound(Message("Unknown administrative division %(code)s.", code=current))
        current = parents[current]
    return chain


def authority_of(session: Session, division_code: str) -> Department:
    dept_id = _directory(session).authorities.get(division_code)
    dept = _department(session, dept_id) if dept_id is not None else None
    if dept is None:
        raise NotFound(
            Message(
                "Division %(code)s has no data-sharing authority in the directory.",
                code=division_code,
            )
        )
    return dept


def divisions_under(code: str) -> Select[str]:
    """The division ``code`` and every division below it (its cities and their counties: the
    directory has three levels), as a subquery."""
    children = select(Division.code).where(Division.parent_code == code)
    return select(Division.code).where(
        or_(
            Division.code == code,
            Division.parent_code == code,
            Division.parent_code.in_(children),
        )
    )


def authority_scope(user: User) -> Select[str] | None:
    """The levels an authority's staff oversee (art. 4): the divisions of their own level and
    the levels below, never above; None for anyone not on an authority's staff. Projects,
    breach ledgers and disputes all use this one rule."""
    if not user.department.is_authority:
        return None
    return divisions_under(user.department.division_code)


def departments_in(divisions: Select[str]) -> Select[int]:
    """The ids of the departments of ``divisions`` (a subquery)."""
    return select(Department.id).where(Department.division_code.in_(divisions))


def same_level_authority(session: Session, a: Department, b: Department) -> Department:
    """The data-sharing authority of the lowest division containing both departments."""
    chain_b = set(_ancestors(session, b.division_code))
    for code in _ancestors(session, a.division_code):
        if code in chain_b:
            return authority_of(session, code)
    raise NotFound(Message("Departments %(a)s and %(b)s share no division.", a=a.label, b=b.label))


def authorities_under(session: Session, authority: Department) -> list[int]:
    """The ids of the data-sharing authorities at ``authority``'s level and the levels below it
    (itself first): whose procedures it oversees. Empty for a department that is no authority."""
    if not authority.is_authority:
        return []
    rows = session.execute(
        select(Department.id, Department.division_code).where(
            Department.division_code.in_(divisions_under(authority.division_code)),
            Department.is_authority.is_(True),
        )
    ).all()
    own = [r.id for r in rows if r.division_code == authority.division_code]
    return own + sorted(r.id for r in rows if r.division_code != authority.division_code)


def department_by_slug(session: Session, slug: str) -> Department:
    dept = (
        session.scalar(select(Department).where(Department.slug == slug))
        if storable(slug)
        else None
    )
    if dept is None:
        raise NotFound(Message("Unknown department '%(slug)s'.", slug=slug))
    return dept


def user_by_name(session: Session, username: str) -> User:
    """An active user by user name, from the per-process directory cache (no query while the
    directory is unchanged), as :func:`active_user` finds one by id."""

    def load() -> dict | None:
        return next(iter(refcache.fresh_rows(session, User, User.username == username)), None)

    values = (
        refcache.cached(session, "directory", ("username", username), load)
        if storable(username)
        else None
    )
    if values is None or not values["active"]:
        raise NotFound(Message("Unknown user '%(name)s'.", name=username))
    return refcache.attach(session, User, values)


def is_coordinator(user: User) -> bool:
    """A coordinator of a data-sharing authority: decides disputes, appeals and rectifications."""
    return user.department.is_authority and "coordinator" in (user.job_roles or [])


def is_administrator(user: User) -> bool:
    """An administrator of the system: sees and retries process incidents."""
    return "admin" in (user.job_roles or [])


def is_leader(user: User) -> bool:
    """A leader of a department: hands its tasks to other officials of the department."""
    return "leader" in (user.job_roles or [])


# -- who is signed in ---------------------------------------------------------------------------
def active_user(session: Session, user_id: int) -> User | None:
    """The user of a signed-in session, or None once the account is gone or deactivated."""

    def load() -> dict | None:
        return next(iter(refcache.fresh_rows(session, User, User.id == user_id)), None)

    values = refcache.cached(session, "directory", ("user", user_id), load)
    if values is None or not values["active"]:
        return None
    return refcache.attach(session, User, values)


def user_by_token(session: Session, clock: Clock, token: str) -> User | None:
    """The active user an API token belongs to (only the token's SHA-256 is stored), or None.

    Keeps the token's ``last_used_at`` (to the minute) and audits its use once per clock hour in
    which it is used, not one row per call; the caller commits. One statement reads the token
    with its user."""
    row = session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user))
        .where(ApiToken.token_sha256 == token_digest(token))
    )
    if row is None or not row.user.active:
        return None
    now = clock.now()
    last = row.last_used_at
    if last is None or _hour(last) != _hour(now):
        audit.record(
            session,
            now,
            "api_token_used",
            actor_id=row.user_id,
            object_type="user",
            object_ref=row.user.username,
            token=row.label,
            token_id=row.id,
        )
        row.last_used_at = now
    elif now - last >= TOKEN_TOUCH_EVERY:
        row.last_used_at = now
    return row.user


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# -- lists --------------------------------------------------------------------------------------
def departments(
    session: Session, ids: Iterable[int] | None = None, authorities: bool | None = None
) -> list[Department]:
    """Departments, region first then by name: all, those with ``ids``, and/or only
    authorities (``authorities=True``) or only the others (``False``). For pickers and filters:
    without ``ids`` only the departments that still exist (not merged away or deactivated); with
    ``ids`` those departments whatever became of them (history names them)."""
    stmt = select(Department).order_by(Department.division_code, Department.name)
    if ids is not None:
        stmt = stmt.where(Department.id.in_(list(ids)))
    else:
        stmt = stmt.where(Department.active.is_(True))
    if authorities is not None:
        stmt = stmt.where(Department.is_authority.is_(authorities))
    return list(session.scalars(stmt))


FORMERLY = N_("%(name)s (formerly %(old)s)")
MERGED = N_("%(name)s (merged into %(successor)s)")


def both(msgid: str, **params: str | Label) -> Label:
    """``msgid`` filled in, in Chinese and in English (a department's composed name)."""
    zh = translate(msgid, "zh") % {
        k: (v.zh if isinstance(v, Label) else v) for k, v in params.items()
    }
    en = msgid % {k: (v.en if isinstance(v, Label) else v) for k, v in params.items()}
    return Label(zh, en)


def department_labels(session: Session, ids: Iterable[int]) -> dict[int, Label]:
    """The names of the departments ``ids`` in both languages (one query, two more when any
    was renamed or merged), for lists, history and case pages: the current name, with
    "formerly …" for a renamed department and "merged into …" for one that was merged or split
    (one query each, whatever the number of cases listed)."""
    wanted = set(ids)
    if not wanted:
        return {}
    # every department's label, cached per process: the list is the region's, not the data's
    labels = refcache.cached(session, "directory", "labels", lambda: _all_labels(session))
    return {i: labels[i] for i in wanted if i in labels}


def _all_labels(session: Session) -> dict[int, Label]:
    rows = session.execute(
        select(
            Department.id,
            Department.name,
            Department.name_en,
            Department.active,
            Department.successor_id,
        )
    ).all()
    current = {r.id: Label(r.name, r.name_en) for r in rows}
    out = dict(current)
    renames = session.execute(
        select(DepartmentName.department_id, DepartmentName.name, DepartmentName.name_en)
        .where(DepartmentName.kind == "rename")
        .order_by(DepartmentName.until.desc(), DepartmentName.id.desc())
    ).all()
    first: dict[int, Label] = {}
    for change in renames:
        first.setdefault(change.department_id, Label(change.name, change.name_en))
    for dept_id, old in first.items():
        if dept_id in out and old != out[dept_id]:
            out[dept_id] = both(FORMERLY, name=out[dept_id], old=old)
    for r in rows:  # every department is among the rows: a successor's name is there too
        if not r.active and r.successor_id in current:
            out[r.id] = both(MERGED, name=out[r.id], successor=current[r.successor_id])
    return out


def officials(session: Session, department_id: int) -> list[User]:
    """The active officials of a department, by user name."""
    return list(
        session.scalars(
            select(User)
            .where(User.department_id == department_id, User.active.is_(True))
            .order_by(User.username)
        )
    )


def colleagues(session: Session, user: User) -> list[User]:
    """Whom a leader may hand tasks to: the active officials of the department; nobody for others."""
    return officials(session, user.department_id) if is_leader(user) else []


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id) if user_id else None


def region_code(session: Session) -> str:
    """The code of the region (自治区) division."""
    levels = _directory(session).levels
    code = next((c for c, level in levels.items() if level == "region"), None)
    if code is None:
        raise NotFound(Message("The directory has no region yet; load it with `govshare seed`."))
    return code


def general_office(session: Session) -> Department:
    """The region government's general office (自治区人民政府办公厅, duty ``general_office``):
    it coordinates where the region's data-sharing authority is itself a party."""
    region = region_code(session)
    for dept_id, values in sorted(_directory(session).departments.items()):
        if values["division_code"] == region and GENERAL_OFFICE in (values["duties"] or []):
            return _department(session, dept_id)
    raise NotFound(
        Message("The directory has no general office of the region; load it with `govshare seed`.")
    )


def level_above(session: Session, authority: Department) -> Department | None:
    """Who stands above a coordinating body: the authority of the parent division; above the
    region's authority the general office; above the general office nobody."""
    if GENERAL_OFFICE in (authority.duties or []):
        return None
    parent = _directory(session).parents.get(authority.division_code)
    return authority_of(session, parent) if parent else general_office(session)


def impartial_authority(
    session: Session, authority: Department, involved: Iterable[Department]
) -> Department:
    """No one decides their own case: ``authority`` unless its own department is a party, else
    the next level's authority (at region level the general office), going up as long as the
    one found is a party too."""
    ids = {d.id for d in involved}
    current = authority
    while current.id in ids:
        above = level_above(session, current)
        if above is None:
            break
        current = above
    return current


@dataclass(frozen=True)
class Parties:
    """The departments a procedure between two departments binds to its roles (lanes)."""

    requester: Department
    provider: Department
    authority: Department  # the same-level data-sharing authority, unless it is a party
    supervisor: Department | None = None  # the level above the authority (none above the region)

    def bindings(self) -> dict[str, int]:
        bound = {
            "requester": self.requester.id,
            "provider": self.provider.id,
            "authority": self.authority.id,
        }
        if self.supervisor is not None:
            bound["supervisor"] = self.supervisor.id
        return bound

    def names(self) -> dict[str, str]:
        """``requester_name``, ``provider_name``, ``authority_name`` for task data and summaries."""
        return {
            "requester_name": self.requester.name,
            "provider_name": self.provider.name,
            "authority_name": self.authority.name,
        }


def parties(session: Session, requester: Department, provider: Department) -> Parties:
    """The parties of a procedure between two departments and who coordinates and supervises it:
    the same-level authority (art. 4), or, where that authority's own department is the requester
    or the provider, the next level's authority (at region level the general office)."""
    same_level = same_level_authority(session, requester, provider)
    authority = impartial_authority(session, same_level, (requester, provider))
    above = level_above(session, authority)
    return Parties(
        requester, provider, authority, above if above is not None and above.is_authority else None
    )
