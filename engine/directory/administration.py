"""Directory administration (issue 14): divisions, departments, names with their history, the
data-sharing authority of each level and the duties departments hold (art. 4, 10, 20).

Every service checks the actor first (:mod:`engine.directory.admin`): the system administrator
administers everything, a level administrator their level and the levels below, the CLI's
operator (``actor=None``) everything. Every change writes an audit event with before and after.
Moves, mergers and splits carry work between departments of every area: they live in
:mod:`engine.reorganisation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.admin import require_admin, require_system_admin
from engine.directory.models import (
    GENERAL_OFFICE,
    Department,
    DepartmentName,
    Division,
    User,
)
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import Checks, storable

PAGE_SIZE = 50
LEVELS = ("region", "city", "county")
LEVEL_LABELS = {
    "region": Message(N_("Region")),
    "city": Message(N_("City")),
    "county": Message(N_("County")),
}
PARENT_LEVEL = {"city": "region", "county": "city"}
AUTHORITY = "authority"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,58}[a-z0-9]")
CODE = re.compile(r"\d{6}")

# The duties an administrator assigns (art. 10, art. 20): key -> label. A review seat and a base
# database have exactly one lead at the region level; a thematic resource may be led jointly.
REVIEW_SEATS = {
    "project_review:drc": Message(N_("Project review: development and reform")),
    "project_review:industry_it": Message(
        N_("Project review: industry and information technology")
    ),
    "project_review:finance": Message(N_("Project review: finance")),
    "project_review:data_sharing": Message(N_("Project review: data sharing")),
    "project_review:cyberspace": Message(N_("Project review: cyberspace affairs")),
}
BASE_LEADS = {
    "base:population": Message(N_("Base database lead: population")),
    "base:legal_entities": Message(N_("Base database lead: legal entities")),
    "base:natural_resources_geospatial": Message(
        N_("Base database lead: natural resources and geospatial")
    ),
    "base:e_licences": Message(N_("Base database lead: e-licences")),
}
THEMATIC_LEADS = {
    "thematic:social_security": Message(N_("Thematic lead: social security")),
    "thematic:ecology": Message(N_("Thematic lead: ecology and environment")),
    "thematic:urban_rural_construction": Message(N_("Thematic lead: urban and rural construction")),
    "thematic:health": Message(N_("Thematic lead: health")),
    "thematic:work_safety": Message(N_("Thematic lead: work safety")),
    "thematic:food_drug_safety": Message(N_("Thematic lead: food and drug safety")),
}
OTHER_DUTIES = {
    GENERAL_OFFICE: Message(N_("General office of the region government")),
    AUTHORITY: Message(N_("Data-sharing authority")),
}
EXCLUSIVE = {**REVIEW_SEATS, **BASE_LEADS, GENERAL_OFFICE: OTHER_DUTIES[GENERAL_OFFICE]}
DUTY_LABELS: dict[str, Message] = {**REVIEW_SEATS, **BASE_LEADS, **THEMATIC_LEADS, **OTHER_DUTIES}
ASSIGNABLE = {**REVIEW_SEATS, **BASE_LEADS, **THEMATIC_LEADS}

NAME = Message(N_("Chinese name"))
NAME_EN = Message(N_("English name"))
CODE_LABEL = Message(N_("Division code"))
LEVEL_LABEL = Message(N_("Level"))
PARENT_LABEL = Message(N_("Parent division"))
SLUG_LABEL = Message(N_("Short name"))
DIVISION_LABEL = Message(N_("Division"))
REASON_LABEL = Message(N_("Reason"))
DEPARTMENT_LABEL = Message(N_("Department"))
DUTY_LABEL = Message(N_("Duty"))


def duty_label(duty: str) -> Message:
    """The label of a duty; an unknown one is shown as "other duty", never by its key."""
    return DUTY_LABELS.get(duty, Message(N_("Other duty")))


# -- dataclasses --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DivisionRow:
    code: str
    label: Label
    level: str
    level_label: Message
    parent_code: str | None
    departments: int
    children: list[DivisionRow] = field(default_factory=list)


@dataclass(frozen=True)
class DepartmentRow:
    id: int
    slug: str
    label: Label
    division_code: str
    division_label: Label
    is_authority: bool
    duties: list[Message]
    active: bool
    successor: Label | None
    users: int = 0


@dataclass(frozen=True)
class DepartmentPage:
    rows: list[DepartmentRow]
    next_after: int | None
    division: str | None
    query: str
    show_inactive: bool


@dataclass(frozen=True)
class NameChange:
    old: Label
    new: Label
    until: datetime
    by: Label | None
    reason: str
    kind: str


@dataclass(frozen=True)
class DepartmentDetail:
    row: DepartmentRow
    history: list[NameChange]
    predecessors: list[Label]
    duty_keys: list[str]


@dataclass(frozen=True)
class Choice:
    """An option of a picker: the value the form posts and the label people see."""

    value: str
    label: Label | Message
    group: Label | None = None


@dataclass(frozen=True)
class SeatRow:
    duty: str
    label: Message
    holders: list[Choice]
    exclusive: bool


@dataclass(frozen=True)
class AuthorityRow:
    division_code: str
    division: Label
    level_label: Message
    authority: Choice | None
    candidates: list[Choice]


# -- helpers ------------------------------------------------------------------------------------
def department_or_404(session: Session, slug: str) -> Department:
    dept = (
        session.scalar(select(Department).where(Department.slug == slug))
        if storable(slug)
        else None
    )
    if dept is None:
        raise NotFound(Message(N_("Unknown department '%(slug)s'."), slug=slug))
    return dept


def division_or_404(session: Session, code: str) -> Division:
    division = session.get(Division, code) if storable(code) and CODE.fullmatch(code) else None
    if division is None:
        raise NotFound(Message(N_("Unknown administrative division %(code)s."), code=code))
    return division


def _users(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(User.department_id, func.count())
        .where(User.department_id.in_(ids), User.active.is_(True))
        .group_by(User.department_id)
    )
    return {r[0]: r[1] for r in rows}


def _rows(session: Session, depts: list[Department]) -> list[DepartmentRow]:
    users = _users(session, [d.id for d in depts])
    successors = {d.successor_id for d in depts if d.successor_id}
    names = (
        {
            r.id: Label(r.name, r.name_en)
            for r in session.execute(
                select(Department.id, Department.name, Department.name_en).where(
                    Department.id.in_(successors)
                )
            )
        }
        if successors
        else {}
    )
    return [
        DepartmentRow(
            id=d.id,
            slug=d.slug,
            label=d.label,
            division_code=d.division_code,
            division_label=d.division.label,
            is_authority=bool(d.is_authority),
            duties=[duty_label(x) for x in (d.duties or []) if x != AUTHORITY],
            active=bool(d.active),
            successor=names.get(d.successor_id) if d.successor_id else None,
            users=users.get(d.id, 0),
        )
        for d in depts
    ]


def department_row(session: Session, dept: Department) -> DepartmentRow:
    return _rows(session, [dept])[0]


def name_at(session: Session, department_id: int, at: datetime) -> Label:
    """The name a department had at ``at`` (its first rename after ``at`` holds the old name)."""
    later = session.scalar(
        select(DepartmentName)
        .where(
            DepartmentName.department_id == department_id,
            DepartmentName.kind == "rename",
            DepartmentName.until > at,
        )
        .order_by(DepartmentName.until, DepartmentName.id)
        .limit(1)
    )
    if later is not None:
        return Label(later.name, later.name_en)
    return session.get_one(Department, department_id).label


def record_name(
    session: Session,
    clock: Clock,
    actor: User | None,
    dept: Department,
    new: Label,
    reason: str,
    kind: str,
) -> None:
    """Keep the name ``dept`` had until now (a rename, or its end by a merger or split)."""
    session.add(
        DepartmentName(
            department_id=dept.id,
            name=dept.name,
            name_en=dept.name_en,
            new_name=new.zh,
            new_name_en=new.en,
            until=clock.now(),
            changed_by_id=actor.id if actor is not None else None,
            reason=reason,
            kind=kind,
        )
    )


def snapshot(dept: Department) -> dict:
    """What the audit trail keeps of a department, before and after a change."""
    return {
        "name": dept.name,
        "name_en": dept.name_en,
        "division": dept.division_code,
        "is_authority": bool(dept.is_authority),
        "duties": list(dept.duties or []),
        "active": bool(dept.active),
        "successor_id": dept.successor_id,
    }


def check_reason(checks: Checks, reason: str) -> None:
    checks.text("reason", reason, REASON_LABEL, max_length=2000, multiline=True, required=True)


# -- divisions ----------------------------------------------------------------------------------
def division_tree(session: Session, actor: User | None) -> list[DivisionRow]:
    """Region → cities → counties, as far as the actor administers them, with the number of
    active departments of each."""
    scope = require_admin(session, actor)
    stmt = select(Division).order_by(Division.code)
    sub = scope.divisions()
    if sub is not None:
        stmt = stmt.where(Division.code.in_(sub))
    divisions = list(session.scalars(stmt))
    counts = dict(
        session.execute(
            select(Department.division_code, func.count())
            .where(Department.active.is_(True))
            .group_by(Department.division_code)
        ).all()
    )
    rows: dict[str, DivisionRow] = {
        d.code: DivisionRow(
            code=d.code,
            label=d.label,
            level=d.level,
            level_label=LEVEL_LABELS.get(d.level, Message(N_("Other level"))),
            parent_code=d.parent_code,
            departments=counts.get(d.code, 0),
        )
        for d in divisions
    }
    roots = []
    for row in rows.values():
        parent = rows.get(row.parent_code or "")
        if parent is None:
            roots.append(row)
        else:
            parent.children.append(row)
    return roots


def division_choices(session: Session, actor: User | None) -> list[Choice]:
    """The divisions the actor administers, for pickers (region, then cities and counties)."""
    out: list[Choice] = []

    def walk(rows: list[DivisionRow], depth: int) -> None:
        for r in rows:
            out.append(Choice(r.code, r.label))
            walk(r.children, depth + 1)

    walk(division_tree(session, actor), 0)
    return out


def create_division(
    session: Session,
    clock: Clock,
    actor: User | None,
    code: str,
    name: str,
    name_en: str,
    level: str,
    parent_code: str,
) -> DivisionRow:
    """A new division (GB/T 2260 code): only the system administrator creates divisions."""
    require_system_admin(actor)
    checks = Checks()
    if checks.text("code", code, CODE_LABEL, max_length=6, required=True) and not CODE.fullmatch(
        code
    ):
        checks.add("code", CODE_LABEL, Message(N_("must be six digits (GB/T 2260)")))
    checks.text("name", name, NAME, column=Division.name, required=True)
    checks.text("name_en", name_en, NAME_EN, column=Division.name_en, required=True)
    parent = None
    if level not in LEVELS:
        checks.add("level", LEVEL_LABEL, Message(N_("choose one of the levels offered")))
    elif level == "region":
        if session.scalar(select(Division.code).where(Division.level == "region")):
            checks.add("level", LEVEL_LABEL, Message(N_("the directory has its region already")))
    else:
        parent = session.get(Division, parent_code) if storable(parent_code) else None
        if parent is None or parent.level != PARENT_LEVEL[level]:
            checks.add(
                "parent", PARENT_LABEL, Message(N_("must be a division one level above this one"))
            )
    if not checks.problems and session.get(Division, code) is not None:
        checks.add("code", CODE_LABEL, Message(N_("is taken by another division")))
    if not checks.problems:
        _names_taken(session, checks, Division, name, name_en)
    checks.done()
    division = Division(
        code=code,
        name=name.strip(),
        name_en=name_en.strip(),
        level=level,
        parent_code=parent.code if parent else None,
    )
    session.add(division)
    session.flush()
    audit.record(
        session,
        clock.now(),
        "division_created",
        actor_id=actor.id if actor else None,
        object_type="division",
        object_ref=code,
        after={"name": division.name, "name_en": division.name_en, "level": level},
    )
    return DivisionRow(code, division.label, level, LEVEL_LABELS[level], division.parent_code, 0)


def rename_division(
    session: Session, clock: Clock, actor: User | None, code: str, name: str, name_en: str
) -> None:
    division = division_or_404(session, code)
    require_admin(session, actor, division.code)
    checks = Checks()
    checks.text("name", name, NAME, column=Division.name, required=True)
    checks.text("name_en", name_en, NAME_EN, column=Division.name_en, required=True)
    if not checks.problems:
        _names_taken(session, checks, Division, name, name_en, keep=division.code)
    checks.done()
    before = {"name": division.name, "name_en": division.name_en}
    division.name, division.name_en = name.strip(), name_en.strip()
    audit.record(
        session,
        clock.now(),
        "division_renamed",
        actor_id=actor.id if actor else None,
        object_type="division",
        object_ref=code,
        before=before,
        after={"name": division.name, "name_en": division.name_en},
    )


def _names_taken(
    session: Session,
    checks: Checks,
    model: type[Division] | type[Department],
    name: str,
    name_en: str,
    keep: str | int | None = None,
) -> None:
    """Two divisions, or two departments still in use, never share a name (in either language):
    every picker and page tells them apart by name alone."""
    others: Select
    if model is Division:
        others = select(Division.code).where(Division.code != (keep or ""))
        names, names_en = Division.name, Division.name_en
        taken = Message(N_("is the name of another division"))
    else:
        others = select(Department.id).where(
            Department.id != (keep or 0), Department.active.is_(True)
        )
        names, names_en = Department.name, Department.name_en
        taken = Message(N_("is the name of another department"))
    if session.scalar(others.where(names == name.strip()).limit(1)) is not None:
        checks.add("name", NAME, taken)
    if (
        session.scalar(others.where(func.lower(names_en) == name_en.strip().lower()).limit(1))
        is not None
    ):
        checks.add("name_en", NAME_EN, taken)


# -- departments --------------------------------------------------------------------------------
def list_departments(
    session: Session,
    actor: User | None,
    division: str | None = None,
    query: str = "",
    show_inactive: bool = False,
    after: int | None = None,
    page_size: int = PAGE_SIZE,
) -> DepartmentPage:
    """One page of the departments the actor administers (by id, after ``after``): of one
    division, whose name contains ``query``, active only unless ``show_inactive``."""
    scope = require_admin(session, actor, division or None)
    stmt = select(Department).order_by(Department.id)
    sub = scope.departments()
    if sub is not None:
        stmt = stmt.where(Department.id.in_(sub))
    if division:
        stmt = stmt.where(Department.division_code == division)
    if not show_inactive:
        stmt = stmt.where(Department.active.is_(True))
    query = (query or "").strip()
    if query:
        checks = Checks()
        checks.text("q", query, Message(N_("Name contains")), max_length=100)
        checks.done()
        like = f"%{query}%"
        stmt = stmt.where(
            or_(
                Department.name.like(like),
                Department.name_en.ilike(like),
                Department.slug.like(like),
            )
        )
    if after is not None:
        stmt = stmt.where(Department.id > after)
    found = list(session.scalars(stmt.limit(page_size + 1)))
    rows = _rows(session, found[:page_size])
    return DepartmentPage(
        rows=rows,
        next_after=rows[-1].id if len(found) > page_size else None,
        division=division or None,
        query=query,
        show_inactive=show_inactive,
    )


def department_detail(session: Session, actor: User | None, slug: str) -> DepartmentDetail:
    dept = department_or_404(session, slug)
    require_admin(session, actor, dept.division_code)
    changes = list(
        session.scalars(
            select(DepartmentName)
            .where(DepartmentName.department_id == dept.id)
            .order_by(DepartmentName.until.desc(), DepartmentName.id.desc())
        )
    )
    who = {
        u.id: u.label
        for u in session.scalars(
            select(User).where(User.id.in_({c.changed_by_id for c in changes if c.changed_by_id}))
        )
    }
    predecessors = [
        p.label
        for p in session.scalars(
            select(Department).where(Department.successor_id == dept.id).order_by(Department.id)
        )
    ]
    return DepartmentDetail(
        row=department_row(session, dept),
        history=[
            NameChange(
                old=Label(c.name, c.name_en),
                new=Label(c.new_name, c.new_name_en),
                until=c.until,
                by=who.get(c.changed_by_id) if c.changed_by_id else None,
                reason=c.reason,
                kind=c.kind,
            )
            for c in changes
        ],
        predecessors=predecessors,
        duty_keys=list(dept.duties or []),
    )


def department_choices(
    session: Session, actor: User | None, division: str | None = None
) -> list[Choice]:
    """The active departments the actor administers, grouped by division (for pickers)."""
    scope = require_admin(session, actor)
    stmt = (
        select(Department)
        .where(Department.active.is_(True))
        .order_by(Department.division_code, Department.id)
    )
    sub = scope.departments()
    if sub is not None:
        stmt = stmt.where(Department.id.in_(sub))
    if division:
        stmt = stmt.where(Department.division_code == division)
    return [Choice(d.slug, d.label, d.division.label) for d in session.scalars(stmt)]


def _check_department(
    checks: Checks, slug: str | None, name: str, name_en: str, division: str | None
) -> None:
    if slug is not None and checks.text(
        "slug", slug, SLUG_LABEL, column=Department.slug, required=True
    ):
        if not SLUG.fullmatch(slug):
            checks.add(
                "slug",
                SLUG_LABEL,
                Message(N_("use 3 to 60 lower-case letters, digits and hyphens")),
            )
    checks.text("name", name, NAME, column=Department.name, required=True)
    checks.text("name_en", name_en, NAME_EN, column=Department.name_en, required=True)
    if division is not None:
        checks.text("division", division, DIVISION_LABEL, max_length=6, required=True)


def create_department(
    session: Session,
    clock: Clock,
    actor: User | None,
    slug: str,
    name: str,
    name_en: str,
    division: str,
) -> DepartmentRow:
    checks = Checks()
    _check_department(checks, slug, name, name_en, division)
    checks.done()
    place = division_or_404(session, division)
    require_admin(session, actor, place.code)
    if session.scalar(select(Department.id).where(Department.slug == slug)) is not None:
        checks.add("slug", SLUG_LABEL, Message(N_("is taken by another department")))
    _names_taken(session, checks, Department, name, name_en)
    checks.done()
    dept = Department(
        slug=slug,
        name=name.strip(),
        name_en=name_en.strip(),
        division_code=place.code,
        is_authority=False,
        duties=[],
        active=True,
    )
    session.add(dept)
    session.flush()
    audit.record(
        session,
        clock.now(),
        "department_created",
        actor_id=actor.id if actor else None,
        object_type="department",
        object_ref=slug,
        after=snapshot(dept),
    )
    return department_row(session, dept)


def rename_department(
    session: Session,
    clock: Clock,
    actor: User | None,
    slug: str,
    name: str,
    name_en: str,
    reason: str,
) -> DepartmentRow:
    """A new name from now on; the old one stays in the history (pages say "formerly …")."""
    dept = department_or_404(session, slug)
    require_admin(session, actor, dept.division_code)
    checks = Checks()
    _check_department(checks, None, name, name_en, None)
    check_reason(checks, reason)
    if not checks.problems:
        _names_taken(session, checks, Department, name, name_en, keep=dept.id)
    checks.done()
    if not dept.active:
        raise Conflict(Message(N_("%(dept)s is no longer active."), dept=dept.label))
    new = Label(name.strip(), name_en.strip())
    if (new.zh, new.en) == (dept.name, dept.name_en):
        raise ValidationFailed(
            Message(N_("The new name is the same as the current one.")),
            [{"field": "name", "label": NAME, "message": Message(N_("is unchanged"))}],
        )
    before = snapshot(dept)
    record_name(session, clock, actor, dept, new, reason.strip(), "rename")
    dept.name, dept.name_en = new.zh, new.en
    audit.record(
        session,
        clock.now(),
        "department_renamed",
        actor_id=actor.id if actor else None,
        object_type="department",
        object_ref=slug,
        before=before,
        after=snapshot(dept),
        reason=reason.strip(),
    )
    return department_row(session, dept)


# -- the authority of each level and the duties -------------------------------------------------
def authorities(session: Session, actor: User | None) -> list[AuthorityRow]:
    """Each division the actor administers, its data-sharing authority and who could be one."""
    scope = require_admin(session, actor)
    stmt = select(Division).order_by(Division.code)
    sub = scope.divisions()
    if sub is not None:
        stmt = stmt.where(Division.code.in_(sub))
    divisions = list(session.scalars(stmt))
    codes = [d.code for d in divisions]
    by_division: dict[str, list[Department]] = {c: [] for c in codes}
    for dept in session.scalars(
        select(Department)
        .where(Department.division_code.in_(codes), Department.active.is_(True))
        .order_by(Department.id)
    ):
        by_division[dept.division_code].append(dept)
    out = []
    for d in divisions:
        depts = by_division[d.code]
        current = next((x for x in depts if x.is_authority), None)
        out.append(
            AuthorityRow(
                division_code=d.code,
                division=d.label,
                level_label=LEVEL_LABELS.get(d.level, Message(N_("Other level"))),
                authority=Choice(current.slug, current.label) if current else None,
                candidates=[Choice(x.slug, x.label) for x in depts],
            )
        )
    return out


def designate_authority(
    session: Session, clock: Clock, actor: User | None, division: str, slug: str, reason: str
) -> DepartmentRow:
    """``slug`` becomes the data-sharing authority of ``division``; the one before loses it, in
    the same step (exactly one authority per division)."""
    place = division_or_404(session, division)
    require_admin(session, actor, place.code)
    checks = Checks()
    check_reason(checks, reason)
    checks.done()
    # two designations for one division at once: the second waits, then sees the first's
    session.get(Division, place.code, with_for_update=True, populate_existing=True)
    dept = department_or_404(session, slug)
    if dept.division_code != place.code or not dept.active:
        raise ValidationFailed(
            Message(N_("The authority of a division must be an active department of it.")),
            [
                {
                    "field": "department",
                    "label": DEPARTMENT_LABEL,
                    "message": Message(N_("is not an active department of this division")),
                }
            ],
        )
    session.refresh(dept)
    old = session.scalars(
        select(Department)
        .where(
            Department.division_code == place.code,
            Department.is_authority.is_(True),
            Department.id != dept.id,
        )
        .execution_options(populate_existing=True)
    ).all()
    if dept.is_authority and not old:
        raise Conflict(
            Message(
                N_("%(dept)s is the authority of %(division)s already."),
                dept=dept.label,
                division=place.label,
            )
        )
    before = {"authority": [o.slug for o in old]}
    for o in old:
        o.is_authority = False
        o.duties = [x for x in (o.duties or []) if x != AUTHORITY]
    dept.is_authority = True
    dept.duties = [*[x for x in (dept.duties or []) if x != AUTHORITY], AUTHORITY]
    audit.record(
        session,
        clock.now(),
        "authority_designated",
        actor_id=actor.id if actor else None,
        object_type="division",
        object_ref=place.code,
        before=before,
        after={"authority": dept.slug},
        reason=reason.strip(),
    )
    return department_row(session, dept)


def _region_departments(session: Session) -> list[Department]:
    region = session.scalar(select(Division.code).where(Division.level == "region"))
    return list(
        session.scalars(
            select(Department)
            .where(Department.division_code == region, Department.active.is_(True))
            .order_by(Department.id)
            .execution_options(populate_existing=True)
        )
    )


def seats(session: Session, actor: User | None) -> list[SeatRow]:
    """The art. 20 review seats and the art. 10 base and thematic leads, with who holds them;
    none for an administrator of a level below the region (the seats sit at the region)."""
    scope = require_admin(session, actor)
    region = session.scalar(select(Division.code).where(Division.level == "region"))
    if region is None or not scope.covers(session, region):
        return []
    depts = _region_departments(session)
    return [
        SeatRow(
            duty=key,
            label=label,
            holders=[Choice(d.slug, d.label) for d in depts if key in (d.duties or [])],
            exclusive=key in EXCLUSIVE,
        )
        for key, label in ASSIGNABLE.items()
    ]


def seat_candidates(session: Session, actor: User | None) -> list[Choice]:
    require_admin(session, actor)
    return [Choice(d.slug, d.label) for d in _region_departments(session)]


def assign_duty(
    session: Session,
    clock: Clock,
    actor: User | None,
    duty: str,
    slug: str,
    release: bool = False,
) -> DepartmentRow:
    """Give ``duty`` to the department ``slug`` (a seat held by one department moves from its
    holder in the same step), or take it back (``release``; only a shared thematic lead)."""
    if duty not in ASSIGNABLE:
        raise ValidationFailed(
            Message(N_("Choose one of the duties offered.")),
            [{"field": "duty", "label": DUTY_LABEL, "message": Message(N_("is unknown"))}],
        )
    if not slug:
        raise ValidationFailed(
            Message(N_("Choose the department to give the duty to.")),
            [
                {
                    "field": "department",
                    "label": DEPARTMENT_LABEL,
                    "message": Message(N_("is required")),
                }
            ],
        )
    dept = department_or_404(session, slug)
    require_admin(session, actor, dept.division_code)
    region = session.scalar(select(Division.code).where(Division.level == "region"))
    if region is not None:  # one change of the seats at a time: the second sees the first's
        session.get(Division, region, with_for_update=True, populate_existing=True)
    if dept.division_code != region or not dept.active:
        raise ValidationFailed(
            Message(N_("Review seats and leads are held by active departments of the region.")),
            [
                {
                    "field": "department",
                    "label": DEPARTMENT_LABEL,
                    "message": Message(N_("is not an active department of the region")),
                }
            ],
        )
    holders = [d for d in _region_departments(session) if duty in (d.duties or [])]
    exclusive = duty in EXCLUSIVE
    if release:
        if exclusive:
            raise ValidationFailed(
                Message(
                    N_("A seat held by one department moves to another; it is never left empty.")
                ),
                [
                    {
                        "field": "duty",
                        "label": DUTY_LABEL,
                        "message": Message(N_("cannot be left empty")),
                    }
                ],
            )
        if dept not in holders:
            raise Conflict(Message(N_("%(dept)s does not hold this duty."), dept=dept.label))
        if len(holders) == 1:
            raise ValidationFailed(
                Message(N_("The last lead of a thematic resource cannot be released.")),
                [
                    {
                        "field": "duty",
                        "label": DUTY_LABEL,
                        "message": Message(N_("cannot be left empty")),
                    }
                ],
            )
        losing, gaining = [dept], []
    else:
        if dept in holders and (not exclusive or len(holders) == 1):
            raise Conflict(Message(N_("%(dept)s holds this duty already."), dept=dept.label))
        losing = [d for d in holders if d.id != dept.id] if exclusive else []
        gaining = [dept]
    before = {"holders": [d.slug for d in holders]}
    for d in losing:
        d.duties = [x for x in (d.duties or []) if x != duty]
    for d in gaining:
        d.duties = [*(d.duties or []), duty]
    audit.record(
        session,
        clock.now(),
        "duty_assigned" if not release else "duty_released",
        actor_id=actor.id if actor else None,
        object_type="duty",
        object_ref=duty,
        before=before,
        after={
            "holders": sorted(
                {*before["holders"], *[d.slug for d in gaining]} - {d.slug for d in losing}
            )
        },
    )
    return department_row(session, dept)


# -- what a department holds, for reorganisations (engine.reorganisation) ----------------------
@dataclass(frozen=True)
class Holding:
    """Something a department holds that a merger or split carries to a successor: an official,
    a running case, an open task, a grant, a catalog entry, a ledger entry … ``key`` identifies it
    within its kind (user name, business key, catalog code, id); ``follows`` is the key of the
    case an open task goes with (a task always goes where its case goes)."""

    kind: str
    key: str
    label: str | Message
    follows: str | None = None


def user_holdings(session: Session, department_id: int) -> list[Holding]:
    return [
        Holding("users", u.username, u.label)
        for u in session.scalars(
            select(User)
            .where(User.department_id == department_id, User.active.is_(True))
            .order_by(User.username)
        )
    ]


def transfer_users(session: Session, department_id: int, moves: dict[str, int]) -> int:
    n = 0
    for user in session.scalars(
        select(User).where(User.department_id == department_id, User.active.is_(True))
    ):
        if user.username in moves:
            user.department_id = moves[user.username]
            n += 1
    return n
