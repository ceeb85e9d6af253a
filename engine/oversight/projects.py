"""Government IT projects (art. 20): the catalog is a prerequisite of approval, connection a
condition of acceptance; a project failing either gate is not eligible for approval, or for
operation-and-maintenance funding.

Gate 1 (approval): the project's pre-compiled data-resource catalog exists and every entry passes
every catalog rule. Gate 2 (acceptance): every project resource is published in the catalog and
connected to the sharing platform. Both are completion checks of the applicant's tasks in
``project_approval``: a failing gate refuses the step and lists exactly what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from engine import audit, rules
from engine.catalog import mark_connected as mark_resource_connected
from engine.catalog import resource_id_of, resources_by_code
from engine.catalog.entry import normalize
from engine.catalog.rules import check, text_problems
from engine.clock import Clock
from engine.directory import authority_of, authority_scope, departments_in, region_code
from engine.directory.models import Department, User
from engine.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import Checks, require
from engine.oversight.breaches import CaseRef, case_ref
from engine.oversight.models import Project
from engine.workflow.deployment import active_definition
from engine.workflow.handlers import CheckContext, StepContext
from engine.workflow.history import TaskInfo, instance_by_id, task_info, tasks_of
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import start_instance

SEATS = ("drc", "industry_it", "finance", "data_sharing", "cyberspace")


def holds_seat(user: User) -> bool:
    """The holders of a joint-review seat (art. 20) see every project they may have to review."""
    return any(d.startswith("project_review:") for d in (user.department.duties or []))


def may_review(user: User) -> bool:
    """Data-sharing authorities (for their level and below) and seat holders see projects."""
    return user.department.is_authority or holds_seat(user)


def _scope(user: User) -> ColumnElement[bool] | None:
    """Which projects a user sees: seat holders all, authority staff those of their level and
    the levels below (:func:`engine.directory.authority_scope`), others their own."""
    if holds_seat(user):
        return None
    scope = authority_scope(user)
    if scope is not None:
        return Project.department_id.in_(departments_in(scope))
    return Project.department_id == user.department_id


def project_for(session: Session, user: User, project_id: int) -> Project:
    """A project, for its applying department and the reviewers (NotFound, else Forbidden)."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(Message("No project %(id)s.", id=project_id))
    scope = _scope(user)
    if scope is not None and not session.scalar(
        select(Project.id).where(Project.id == project_id, scope)
    ):
        raise Forbidden(Message("Project %(id)s belongs to another department.", id=project_id))
    return project


@dataclass(frozen=True)
class ProjectSummary:
    """A project as its pages show it."""

    id: int
    name: str
    department_id: int
    department_name: Label
    description: str
    catalog: list[dict[str, Any]]  # the project's draft catalog entries
    status: str
    instance_id: int | None


def summary_of(project: Project) -> ProjectSummary:
    return ProjectSummary(
        id=project.id,
        name=project.name,
        department_id=project.department_id,
        department_name=project.department.label,
        description=project.description or "",
        catalog=[dict(e) for e in project.catalog or []],
        status=project.status,
        instance_id=project.instance_id,
    )


def projects_for(
    session: Session, user: User, limit: int = 200, q: str = ""
) -> list[ProjectSummary]:
    """The projects a user sees, newest first: the reviewers every project, others their own;
    with ``q``, those whose name contains it."""
    stmt = select(Project).options(selectinload(Project.department)).order_by(Project.id.desc())
    scope = _scope(user)
    if scope is not None:
        stmt = stmt.where(scope)
    if q:
        require("q", q, Message(N_("Search")), max_length=100)
    if q.strip():
        stmt = stmt.where(func.lower(Project.name).like(f"%{q.strip().lower()}%"))
    return [summary_of(p) for p in session.scalars(stmt.limit(limit))]


def _check_catalog(checks: Checks, catalog: list[dict]) -> None:
    """The project catalog's texts pass the input boundary (its rules are the gates')."""
    label = Message(N_("Project data-resource catalog"))
    if not isinstance(catalog, list) or not all(isinstance(e, dict) for e in catalog):
        checks.add("catalog", label, Message(N_("must be a list of entries")))
        return
    for n, entry in enumerate(catalog, 1):
        for problem in text_problems(normalize(entry)):
            message = Message(
                N_("entry %(n)s, %(field)s: %(problem)s"),
                n=n,
                field=problem.get("label") or problem["field"],
                problem=problem["message"],
            )
            checks.add("catalog", label, message)
            return


def create(
    session: Session, clock: Clock, user: User, name: str, description: str, catalog: list[dict]
) -> Project:
    checks = Checks()
    checks.text("name", name, Message(N_("Project name")), column=Project.name, required=True)
    checks.text("description", description, Message(N_("Description")), multiline=True)
    _check_catalog(checks, catalog)
    checks.done(Message(N_("The project cannot be saved")))
    project = Project(
        name=name.strip(),
        department_id=user.department_id,
        description=description or "",
        catalog=[normalize(e) for e in catalog or []],
        status="draft",
        created_at=clock.now(),
    )
    session.add(project)
    session.flush()
    _audit(session, clock, user, project, "project_created", after={"name": project.name})
    return project


def _audit(
    session: Session, clock: Clock, user: User, project: Project, kind: str, **change: Any
) -> None:
    audit.record(
        session,
        clock.now(),
        kind,
        actor_id=user.id,
        object_type="project",
        object_ref=str(project.id),
        **change,
    )


def set_catalog(
    session: Session, clock: Clock, user: User, project: Project, catalog: list[dict]
) -> Project:
    if project.department_id != user.department_id:
        raise Forbidden(Message("Only the applying department edits its project."))
    if project.status in ("in_review", "approved", "accepted"):
        raise Conflict(
            Message(
                "The project catalog cannot change while the project is %(status)s.",
                status=project.status,
            )
        )
    checks = Checks()
    _check_catalog(checks, catalog)
    checks.done(Message(N_("The project catalog cannot be saved")))
    before = len(project.catalog or [])
    project.catalog = [normalize(e) for e in catalog]
    _audit(
        session,
        clock,
        user,
        project,
        "project_catalog_set",
        before={"entries": before},
        after={"entries": len(project.catalog), "codes": [e.get("code") for e in project.catalog]},
    )
    session.flush()
    return project


def approval_problems(session: Session, project: Project) -> list[FieldProblem]:
    """Gate 1: what keeps the project from approval (empty when it may be approved)."""
    if not project.catalog:
        return [
            {
                "field": "catalog",
                "message": Message("The project has no data-resource catalog (art. 20)."),
            }
        ]
    problems: list[FieldProblem] = []
    slug = session.get_one(Department, project.department_id).slug
    for n, entry in enumerate(project.catalog, 1):
        code = entry.get("code") or f"#{n}"
        if entry.get("provider") != slug:
            problems.append(
                {
                    "field": f"catalog[{n}]",
                    "message": Message(
                        "%(code)s: the provider must be the applying department", code=code
                    ),
                }
            )
        existing = resource_id_of(session, entry.get("code"))
        for p in check(session, entry, existing):
            problems.append(
                {
                    "field": f"catalog[{n}]",
                    "message": Message(
                        "%(code)s %(field)s: %(problem)s",
                        code=code,
                        field=p["field"],
                        problem=p["message"],
                    ),
                }
            )
    return problems


def acceptance_problems(session: Session, project: Project) -> list[FieldProblem]:
    """Gate 2: project resources not yet published or not connected to the platform."""
    problems: list[FieldProblem] = []
    resources = resources_by_code(session, [e["code"] for e in project.catalog])
    for entry in project.catalog:
        resource = resources.get(entry["code"])
        if resource is None or resource.status != "published":
            problems.append(
                {
                    "field": entry["code"],
                    "message": Message(
                        "%(code)s is not published in the catalog", code=entry["code"]
                    ),
                }
            )
        elif not resource.connected:
            problems.append(
                {
                    "field": entry["code"],
                    "message": Message(
                        "%(code)s is not connected to the sharing platform", code=entry["code"]
                    ),
                }
            )
    return problems


def eligibility(session: Session, project: Project) -> dict:
    """What the project page shows, visibly: eligible for approval, for O&M funding."""
    gate1 = approval_problems(session, project)
    gate2 = (
        acceptance_problems(session, project) if project.status in ("approved", "accepted") else []
    )
    return {
        "approval": not gate1,
        "approval_problems": gate1,
        "om_funding": project.status == "accepted" or (project.status == "approved" and not gate2),
        "acceptance_problems": gate2,
    }


def submit(session: Session, clock: Clock, user: User, project: Project) -> ProcessInstance:
    """Start ``project_approval`` (the applicant then submits the application task)."""
    if project.department_id != user.department_id:
        raise Forbidden(Message("Only the applying department edits its project."))
    if project.instance_id is not None:
        raise Conflict(Message("The project was already submitted."))
    holders = {
        duty.split(":", 1)[1]: d.id
        for d in session.scalars(select(Department))
        for duty in (d.duties or [])
        if duty.startswith("project_review:")
    }
    missing = [seat for seat in SEATS if seat not in holders]
    if missing:
        raise NotFound(
            Message("No department holds the joint-review seat %(seat)s.", seat=", ".join(missing))
        )
    authority = authority_of(session, region_code(session))  # the seats sit at the region
    seats = recused({seat: holders[seat] for seat in SEATS}, project.department_id, authority.id)
    data = {
        "project_id": project.id,
        "project_name": project.name,
        **rules.start_data(session, clock, "project_review", "project_application"),
        "review_days": rules.days(session, clock, "project_review"),
        "provider_name": project.department.name,
    }
    summary = {
        "resource_name": project.name,
        "provider_name": project.department.name,
        "project_id": project.id,
    }
    instance = start_instance(
        session,
        clock,
        active_definition(session, "project_approval"),
        data,
        {"provider": project.department_id, **seats, "authority": authority.id},
        user.id,
        summary,
    )
    project.instance_id = instance.id
    session.flush()
    return instance


def recused(seats: dict[str, int], applicant_id: int, authority_id: int) -> dict[str, int]:
    """No seat reviews its own department's project: a seat the applicant holds is taken by the
    data-sharing authority (art. 4), and the authority's own seat, when the authority applies,
    by the development and reform seat (the approving department)."""
    stand_in = {seat: authority_id for seat in SEATS}
    stand_in["data_sharing"] = seats["drc"]
    return {
        seat: (stand_in[seat] if holder == applicant_id else holder)
        for seat, holder in seats.items()
    }


def mark_connected(
    session: Session, clock: Clock, user: User, code: str, connected: bool = True
) -> None:
    """A project resource is connected to the sharing platform (gate 2): the providing
    department marks it (:func:`engine.catalog.mark_connected`)."""
    mark_resource_connected(session, clock, user, code, connected)


@dataclass(frozen=True)
class ResourceState:
    """Where a project resource stands in the catalog (gate 2)."""

    status: str
    connected: bool
    provider_id: int


@dataclass(frozen=True)
class Review:
    """One seat's review in one round of the joint review, as the project page keeps it on
    record: given (``completed``, with the seat's answers), still ``open``, or ``cancelled``
    (withdrawn when another seat returned the application, or when the round ended)."""

    round: int  # 1 for the first submission, 2 after the first return, …
    seat: str  # the seat (a lane of project_approval)
    task: TaskInfo  # the review task: its department, state, answers and when


@dataclass(frozen=True)
class Return:
    """Why the application came back: the returning seat, its department and its reasons."""

    seat: str
    department: Label  # in both languages
    reasons: str


@dataclass(frozen=True)
class ProjectPage:
    project: ProjectSummary
    resources: dict[str, ResourceState]  # catalog code -> its state, for entries in the catalog
    instance: CaseRef | None  # its project_approval, once submitted
    eligibility: dict  # as :func:`eligibility`
    reviews: list[Review]  # every seat's review of every round, latest round first
    returned: Return | None  # the latest return, while the applicant revises
    forms: dict  # the procedure's form schemas, to label the reviews' answers


def project_page(session: Session, user: User, project_id: int) -> ProjectPage:
    project = project_for(session, user, project_id)
    resources = resources_by_code(session, [e.get("code") for e in project.catalog])
    instance = instance_by_id(session, project.instance_id)
    return ProjectPage(
        project=summary_of(project),
        resources={
            code: ResourceState(r.status, bool(r.connected), r.provider_id)
            for code, r in resources.items()
        },
        instance=case_ref(instance),
        eligibility=eligibility(session, project),
        reviews=review_record(session, instance) if instance else [],
        returned=latest_return(session, instance) if instance else None,
        forms=dict(instance.definition.forms or {}) if instance else {},
    )


def review_record(session: Session, instance: ProcessInstance) -> list[Review]:
    """Every review of the joint review, by round (latest first) and seat: reviews given stay
    on record after a return; a new submission is reviewed again by all five seats."""
    seen: dict[str, int] = {}
    reviews = []
    for row in tasks_of(session, instance.id):
        if row.role not in SEATS:
            continue
        seen[row.role] = seen.get(row.role, 0) + 1
        reviews.append(Review(seen[row.role], row.role, task_info(row)))
    return sorted(reviews, key=lambda r: (-r.round, SEATS.index(r.seat)))


def latest_return(session: Session, instance: ProcessInstance) -> Return | None:
    """The return the applicant is answering (the instance summary's ``returned_by`` and
    ``return_reasons``, cleared when the application is submitted again)."""
    summary = instance.summary or {}
    seat = summary.get("returned_by")
    if not seat or seat not in (instance.bindings or {}):
        return None
    department = session.get_one(Department, instance.bindings[seat])
    return Return(str(seat), department.label, str(summary.get("return_reasons") or ""))


def check_project(session: Session, user: User, project_id: int) -> None:
    """Raise unless the user may see the project (as :func:`project_for`)."""
    project_for(session, user, project_id)


def create_project(
    session: Session, clock: Clock, user: User, name: str, description: str, catalog: list[dict]
) -> ProjectSummary:
    """:func:`create` a project."""
    return summary_of(create(session, clock, user, name, description, catalog))


def set_catalog_of(
    session: Session, clock: Clock, user: User, project_id: int, entries: list[dict]
) -> ProjectSummary:
    """:func:`set_catalog` of the project ``project_id``."""
    project = project_for(session, user, project_id)
    return summary_of(set_catalog(session, clock, user, project, entries))


def submit_project(session: Session, clock: Clock, user: User, project_id: int) -> CaseRef:
    """:func:`submit` the project ``project_id``."""
    instance = submit(session, clock, user, project_for(session, user, project_id))
    return CaseRef(instance.business_key, instance.status, str(instance.summary["resource_name"]))


def _project_of(session: Session, data: Mapping[str, Any]) -> Project:
    """The project a ``project_approval`` instance was started for."""
    return session.get_one(Project, data["project_id"])


def set_status(ctx: StepContext, status: str) -> None:
    """Action ``project_status``: where the project is in its procedure."""
    _project_of(ctx.session, ctx.data).status = status


def close_joint_review(ctx: StepContext, returned_by: str = "") -> None:
    """Action ``close_joint_review``: the reviews (and their supervisions) still open when a seat
    returned the application, or when the round ended, are withdrawn; each gets a history entry
    saying why. Their timers went with them (they were inside the joint review)."""
    for row in ctx.withdrawn:
        ctx.audit(
            "task_withdrawn",
            task=row.task_name,
            title=row.title,
            title_en=row.title_en,
            returned_by=returned_by or None,
        )


def approval_gate(ctx: CheckContext) -> None:
    """Gate 1 (art. 20): the application completes only with a valid project catalog."""
    problems = approval_problems(ctx.session, _project_of(ctx.session, ctx.data))
    if problems:
        raise ValidationFailed(
            Message(
                "The project cannot be approved: %(n)s thing(s) missing in its data-resource catalog (art. 20).",
                n=len(problems),
            ),
            problems,
        )


def acceptance_gate(ctx: CheckContext) -> None:
    """Gate 2 (art. 20): acceptance completes only once every resource is published and connected."""
    problems = acceptance_problems(ctx.session, _project_of(ctx.session, ctx.data))
    if problems:
        raise ValidationFailed(
            Message(
                "The project cannot be accepted: %(n)s resource(s) not published or not connected (art. 20).",
                n=len(problems),
            ),
            problems,
        )
