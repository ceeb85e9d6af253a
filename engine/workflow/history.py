"""History service (Camunda's HistoryService): what happened on an instance and what is open on it,
for the request and task pages, the diagram and the API.

Who may see an instance is decided here, once: the departments bound to one of its roles
(:meth:`ProcessInstance.involves`), the data-sharing authorities over its own authority (their
level and the levels below), and administrators (job role ``admin``) while the instance is in
incident. Reading the workflow state (a task's data, the diagram's markers) goes through this
module; callers never deserialize an instance themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, selectinload

from engine import rules
from engine.calendar import load_calendar
from engine.clock import Clock
from engine.directory import authorities_under, department_labels, is_administrator
from engine.directory.models import User
from engine.errors import Forbidden, NotFound
from engine.i18n import Label, Message
from engine.inputs import storable
from engine.workflow.inbox import Deadline, describe_deadline, with_rule
from engine.workflow.models import Attachment, HumanTask, ProcessInstance
from engine.workflow.runtime import SUSPENDED, suspended_by, task_data, workflow_states

ROLES = ("requester", "provider", "authority")


def instance_by_key(session: Session, business_key: str) -> ProcessInstance:
    instance = (
        session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
        if storable(business_key)
        else None
    )
    if instance is None:
        raise NotFound(Message("No request with business key %(key)s.", key=business_key))
    return instance


def instance_by_id(session: Session, instance_id: int | None) -> ProcessInstance | None:
    return session.get(ProcessInstance, instance_id) if instance_id else None


def oversees(session: Session, user: User, instance: ProcessInstance) -> bool:
    """Is the user's department a data-sharing authority above the instance's own authority
    (its level or a level above it)? Such an authority sees the requests of its levels."""
    return (
        user.department.is_authority
        and instance.authority_department_id is not None
        and instance.authority_department_id in authorities_under(session, user.department)
    )


def check_may_see(session: Session, user: User, instance: ProcessInstance) -> None:
    """Only the departments bound to a role of the instance see it (its review seats too), the
    data-sharing authorities over its authority (:func:`oversees`), and administrators while it
    is in incident (to diagnose it)."""
    diagnosing = instance.status == "incident" and is_administrator(user)
    if instance.involves(user.department_id) or diagnosing or oversees(session, user, instance):
        return
    raise Forbidden(
        Message("Request %(key)s does not involve your department.", key=instance.business_key)
    )


def instance_for(session: Session, user: User, business_key: str) -> ProcessInstance:
    """An instance the user may see (NotFound, else Forbidden; :func:`check_may_see`)."""
    instance = instance_by_key(session, business_key)
    check_may_see(session, user, instance)
    return instance


def role_of(instance: ProcessInstance, department_id: int) -> str:
    """The department's role in the instance (requester, provider, authority), or ""."""
    for role in ROLES:
        if getattr(instance, f"{role}_department_id") == department_id:
            return role
    return ""


@dataclass(frozen=True)
class Suspension:
    """Why an instance is suspended (status ``suspended``): who, when, the reason."""

    by: Message  # the administrator's name (a Label), or "the operator"
    at: datetime | None
    reason: str


def suspension_of(instance: ProcessInstance) -> Suspension | None:
    if instance.status != SUSPENDED:
        return None
    session = object_session(instance)
    by = suspended_by(session, instance) if session is not None else Message("the operator")
    return Suspension(by, instance.suspended_at, instance.suspend_reason or "")


@dataclass(frozen=True)
class InstanceInfo:
    """An instance as pages show it: plain values, read once."""

    id: int
    business_key: str
    process_id: str
    process_name: str  # the deployed definition's name
    version: int  # the deployed definition's version
    status: str
    summary: dict
    forms: dict  # the definition's form schemas, by name
    suspension: Suspension | None = None  # set while an administrator has it suspended


def party_labels(session: Session, instances: Iterable[ProcessInstance]) -> dict[int, Label]:
    """The names of every department bound to a role of ``instances``, in both languages, by id
    (one query for a whole list)."""
    ids = {d for i in instances for d in (i.bindings or {}).values() if isinstance(d, int)}
    return department_labels(session, ids)


def with_party_names(
    instance: ProcessInstance, data: Mapping, labels: Mapping[int, Label] | None = None
) -> dict:
    """``data`` (the instance's summary or a task's data) with the parties' names
    (``requester_name``, ``provider_name``, ``authority_name``, … for each bound role) as
    :class:`~engine.i18n.Label` of the bound department, so that a page shows them in the
    reader's language. The names stored when the instance started are Chinese snapshots; the
    directory's current names win. ``labels`` from :func:`party_labels` saves the query."""
    bindings = instance.bindings or {}
    if labels is None:
        session = object_session(instance)
        labels = party_labels(session, [instance]) if session is not None else {}
    out = dict(data)
    for role, department_id in bindings.items():
        key = f"{role}_name"
        if key in out and department_id in labels:
            out[key] = labels[department_id]
    return out


def instance_info(
    instance: ProcessInstance, labels: Mapping[int, Label] | None = None
) -> InstanceInfo:
    definition = instance.definition
    return InstanceInfo(
        id=instance.id,
        business_key=instance.business_key,
        process_id=instance.process_id,
        process_name=definition.name,
        version=definition.version,
        status=instance.status,
        summary=with_party_names(instance, instance.summary or {}, labels),
        forms=dict(definition.forms or {}),
        suspension=suspension_of(instance),
    )


@dataclass(frozen=True)
class TaskInfo:
    """A user task as pages show it (names of the department and officials, not rows)."""

    id: int
    instance_id: int
    task_name: str
    title: str
    title_en: str | None
    role: str
    department: Label  # the name of the department the task is offered to
    form: str | None
    statute: str
    state: str
    assignee_id: int | None
    assignee: Label | None  # display name of whoever holds the task
    due_at: datetime | None
    completed_by: Label | None  # display name of whoever completed it
    completed_at: datetime | None
    on_behalf_of: Label | None  # the absent official a deputy completed it for
    data: dict  # the submitted form ({} while open)


def task_info(row: HumanTask) -> TaskInfo:
    """Its department and officials should be loaded with it (see :func:`tasks_of`)."""
    return TaskInfo(
        id=row.id,
        instance_id=row.instance_id,
        task_name=row.task_name,
        title=row.title,
        title_en=row.title_en,
        role=row.role,
        department=row.department.label,
        form=row.form,
        statute=row.statute,
        state=row.state,
        assignee_id=row.assignee_id,
        assignee=row.assignee.label if row.assignee else None,
        due_at=row.due_at,
        completed_by=row.completed_by.label if row.completed_by else None,
        completed_at=row.completed_at,
        on_behalf_of=row.on_behalf_of.label if row.on_behalf_of_id and row.on_behalf_of else None,
        data=dict(row.data or {}),
    )


@dataclass(frozen=True)
class FileInfo:
    """An attachment as listed on a page (its bytes are fetched by id)."""

    id: int
    filename: str
    size: int


def tasks_of(session: Session, instance_id: int, state: str | None = None) -> list[HumanTask]:
    """The instance's tasks in the order they were created (completed ones: as completed), with
    their department and officials loaded."""
    stmt = (
        select(HumanTask)
        .where(HumanTask.instance_id == instance_id)
        .options(
            selectinload(HumanTask.department),
            selectinload(HumanTask.assignee),
            selectinload(HumanTask.completed_by),
            selectinload(HumanTask.on_behalf_of),
        )
    )
    if state is not None:
        stmt = stmt.where(HumanTask.state == state)
    order = HumanTask.completed_at if state == "completed" else HumanTask.id
    return list(session.scalars(stmt.order_by(order)))


def attachments_of(session: Session, instance_id: int) -> list[FileInfo]:
    rows = session.execute(
        select(Attachment.id, Attachment.filename, Attachment.size)
        .where(Attachment.instance_id == instance_id)
        .order_by(Attachment.id)
    )
    return [FileInfo(id=r.id, filename=r.filename, size=r.size) for r in rows]


def task_context(row: HumanTask) -> dict:
    """What a task's page shows as its context: the live task data while the task is open, the
    submitted form once it is done."""
    data = task_data(row.instance, row.spiff_task_id) if row.state == "open" else row.data or {}
    return with_party_names(row.instance, data)


@dataclass(frozen=True)
class InstanceView:
    """An instance as the request page shows it to one user."""

    instance: InstanceInfo
    deadlines: dict[int, Deadline]  # open task id -> its deadline
    files: list[FileInfo]
    my_task_ids: set[int]  # open tasks offered to the user's department
    role: str  # the user's department's role, or ""


def instance_view(session: Session, clock: Clock, user: User, business_key: str) -> InstanceView:
    return view_of(session, clock, user, instance_for(session, user, business_key))


def view_of(session: Session, clock: Clock, user: User, instance: ProcessInstance) -> InstanceView:
    """:func:`instance_view` of an instance already checked with :func:`check_may_see`."""
    calendar, now = load_calendar(session), clock.now()
    open_tasks = session.execute(
        select(HumanTask.id, HumanTask.department_id, HumanTask.due_at, HumanTask.task_name).where(
            HumanTask.instance_id == instance.id, HumanTask.state == "open"
        )
    ).all()
    return InstanceView(
        instance=instance_info(instance),
        deadlines={
            t.id: with_rule(
                describe_deadline(calendar, t.due_at, now),
                rules.rule_line(session, instance.rule_set_version, t.task_name, instance.summary),
            )
            for t in open_tasks
            if t.due_at
        },
        files=attachments_of(session, instance.id),
        my_task_ids={t.id for t in open_tasks if t.department_id == user.department_id},
        role=role_of(instance, user.department_id),
    )


def diagrams(session: Session, clock: Clock, user: User, business_key: str) -> list[dict]:
    """Each process of the instance (with its call activities) with its BPMN and the elements
    completed, active and overdue, for the diagram viewer."""
    instance = instance_for(session, user, business_key)
    definition = instance.definition
    raw = json.loads(definition.spec_json)
    xml_by_process = raw.get("diagrams") or {definition.process_id: definition.bpmn_xml}
    states = workflow_states(instance)
    now = clock.now()
    open_tasks = session.execute(
        select(HumanTask.task_name, HumanTask.due_at).where(
            HumanTask.instance_id == instance.id, HumanTask.state == "open"
        )
    )
    overdue = {t.task_name for t in open_tasks if t.due_at and t.due_at <= now}
    out = []
    for process_id, xml in xml_by_process.items():
        if process_id != definition.process_id and process_id not in states:
            continue
        s = states.get(process_id, {"completed": set(), "active": set()})
        out.append(
            {
                "process": process_id,
                "xml": xml,
                "completed": sorted(s["completed"]),
                "active": sorted(s["active"] - s["completed"]),
                "overdue": sorted(o for o in overdue if o in s["active"]),
            }
        )
    return out
