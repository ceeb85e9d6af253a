"""Process cockpit (issue 14): the system administrator's view of every process, its versions
and instances, and the few things an administrator does to them.

* :func:`overview`: every process with its deployed versions (who deployed them and when, the
  content hash, which is active) and its instances per version and state, counted by one grouped
  query over the ``(definition_id, status)`` index — no instance is loaded.
* :func:`activate` and :func:`rollback`: make a version the one new instances start on, with a
  reason (audited, ``version_activated``); instances already started keep their version.
  Rolling back activates the highest version below the active one.
* :func:`instances`: the instance list, filtered (process, version, state, business key, started
  between) and paged by keyset (newest first) with a count capped at :data:`COUNT_CAP`: the cost
  of a page does not grow with the instances stored.
* :func:`instance_page`: one instance: its history, open tasks, open incident, suspension.
* :func:`suspend` and :func:`resume` (:func:`engine.workflow.runtime.suspend_instance`).

Only the system administrator (and the operator at the command line, ``actor=None``) may use
any of it (:func:`engine.directory.admin.require_system_admin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, load_only

from engine import paging
from engine.audit import AuditEvent
from engine.clock import SHANGHAI, Clock
from engine.directory import department_labels
from engine.directory.admin import require_system_admin
from engine.directory.models import User
from engine.errors import Conflict, NotFound
from engine.i18n import N_, Label, Message
from engine.inputs import INT32, Checks, storable
from engine.workflow.deployment import Activation, activate_version
from engine.workflow.handlers import handlers_of
from engine.workflow.history import InstanceInfo, TaskInfo, instance_info, task_info, tasks_of
from engine.workflow.incidents import IncidentView, open_incident
from engine.workflow.models import ProcessDefinition, ProcessInstance
from engine.workflow.runtime import resume_instance, suspend_instance

STATES = ("running", "incident", "suspended", "completed")
STATE_LABELS = {
    "running": Message(N_("In progress")),
    "incident": Message(N_("Incident")),
    "suspended": Message(N_("Suspended")),
    "completed": Message(N_("Completed")),
}
PAGE_SIZE = 50
COUNT_CAP = paging.COUNT_CAP
REASON_MAX = 500
TIMELINE_MAX = 500  # events of one instance on its page
OPERATOR = Message(N_("the operator (command line)"))

LABELS = {
    "process": Message(N_("Process")),
    "version": Message(N_("Version")),
    "state": Message(N_("State")),
    "key": Message(N_("Business key")),
    "started_from": Message(N_("Started from")),
    "started_to": Message(N_("Started until")),
    "reason": Message(N_("Reason")),
    "after": Message(N_("Page")),
}


# -- processes and versions -------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRow:
    version: int
    content_hash: str
    source_file: str
    deployed_at: datetime
    deployed_by: Message  # the administrator's name (a Label), or the operator
    activated_at: datetime | None
    active: bool
    counts: dict[str, int]  # state -> instances on this version

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ProcessRow:
    process_id: str
    name: str  # the deployed definition's name (pages show the translated process label)
    versions: list[VersionRow]  # newest first
    active_version: int | None
    rollback_to: int | None  # the version :func:`rollback` would activate
    counts: dict[str, int]  # state -> instances of every version


def _labels_of_users(session: Session, ids: set[int]) -> dict[int, Label]:
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.display_name_en).where(User.id.in_(ids))
    )
    return {r.id: Label(r.display_name, r.display_name_en or None) for r in rows}


def _definitions(session: Session, process_id: str | None = None) -> list[ProcessDefinition]:
    stmt = select(ProcessDefinition).options(
        load_only(
            ProcessDefinition.id,
            ProcessDefinition.process_id,
            ProcessDefinition.version,
            ProcessDefinition.content_hash,
            ProcessDefinition.name,
            ProcessDefinition.source_file,
            ProcessDefinition.deployed_at,
            ProcessDefinition.deployed_by_id,
            ProcessDefinition.activated_at,
            ProcessDefinition.active,
        )
    )
    if process_id is not None:
        stmt = stmt.where(ProcessDefinition.process_id == process_id)
    return list(
        session.scalars(
            stmt.order_by(ProcessDefinition.process_id, ProcessDefinition.version.desc())
        )
    )


def _counts(session: Session, process_id: str | None = None) -> dict[int, dict[str, int]]:
    """Instances per definition and state: one grouped query (index on definition, status)."""
    stmt = select(ProcessInstance.definition_id, ProcessInstance.status, func.count()).group_by(
        ProcessInstance.definition_id, ProcessInstance.status
    )
    if process_id is not None:
        stmt = stmt.where(ProcessInstance.process_id == process_id)
    out: dict[int, dict[str, int]] = {}
    for definition_id, status, n in session.execute(stmt):
        out.setdefault(definition_id, {})[status] = n
    return out


def overview(
    session: Session, actor: User | None, process_id: str | None = None
) -> list[ProcessRow]:
    """Every process (or one) with its versions and instance counts, in three queries."""
    require_system_admin(actor)
    definitions = _definitions(session, process_id)
    counts = _counts(session, process_id)
    people = _labels_of_users(session, {d.deployed_by_id for d in definitions if d.deployed_by_id})
    by_process: dict[str, list[ProcessDefinition]] = {}
    for d in definitions:
        by_process.setdefault(d.process_id, []).append(d)
    out = []
    for pid, versions in by_process.items():
        rows = [
            VersionRow(
                version=d.version,
                content_hash=d.content_hash,
                source_file=d.source_file,
                deployed_at=d.deployed_at,
                deployed_by=people.get(d.deployed_by_id or 0, OPERATOR),
                activated_at=d.activated_at,
                active=bool(d.active),
                counts={s: counts.get(d.id, {}).get(s, 0) for s in STATES},
            )
            for d in versions
        ]
        active = next((r.version for r in rows if r.active), None)
        out.append(
            ProcessRow(
                process_id=pid,
                name=versions[0].name,
                versions=rows,
                active_version=active,
                rollback_to=_below(rows, active),
                counts={s: sum(r.counts[s] for r in rows) for s in STATES},
            )
        )
    return out


def _below(rows: Sequence[VersionRow], active: int | None) -> int | None:
    lower = [r.version for r in rows if active is not None and r.version < active]
    return max(lower) if lower else None


def process_row(session: Session, actor: User | None, process_id: str) -> ProcessRow:
    """One process of :func:`overview` (NotFound naming it if it was never deployed)."""
    rows = overview(session, actor, process_id) if storable(process_id, 100) else []
    if not rows:
        require_system_admin(actor)
        raise NotFound(Message("Process %(pid)s is not deployed.", pid=process_id))
    return rows[0]


def _reason(checks: Checks, reason: object, required: bool = True) -> str:
    checks.text("reason", reason, LABELS["reason"], max_length=REASON_MAX, required=required)
    return str(reason or "").strip()


def activate(
    session: Session,
    clock: Clock,
    actor: User | None,
    process_id: str,
    version: object,
    reason: object,
) -> Activation:
    """Make ``version`` the one new instances of ``process_id`` start on, with a reason."""
    require_system_admin(actor)
    checks = Checks()
    checks.integer("version", version, LABELS["version"], 1, INT32)
    text = _reason(checks, reason)
    checks.done()
    if not storable(process_id, 100):
        raise NotFound(Message("Process %(pid)s is not deployed.", pid=process_id))
    return activate_version(
        session, clock, process_id, int(str(version)), actor.id if actor else None, text
    )


def rollback(
    session: Session, clock: Clock, actor: User | None, process_id: str, reason: object
) -> Activation:
    """Activate the highest version below the active one (Conflict if there is none)."""
    row = process_row(session, actor, process_id)
    checks = Checks()
    text = _reason(checks, reason)
    checks.done()
    if row.rollback_to is None:
        raise Conflict(
            Message(
                "%(pid)s has no version below the active version %(version)s to roll back to.",
                pid=process_id,
                version=row.active_version or "-",
            )
        )
    return activate_version(
        session, clock, process_id, row.rollback_to, actor.id if actor else None, text
    )


# -- instances ---------------------------------------------------------------------------------
@dataclass
class InstanceFilters:
    """The list's filters as entered (strings from a form or the command line)."""

    process: str = ""
    version: str = ""
    state: str = ""
    key: str = ""
    started_from: str = ""
    started_to: str = ""


@dataclass(frozen=True)
class InstanceRow:
    business_key: str
    process_id: str
    process_name: str
    version: int
    status: str
    started_at: datetime
    updated_at: datetime
    next_due_at: datetime | None
    incident: str | None
    suspended_at: datetime | None


@dataclass(frozen=True)
class InstanceList:
    rows: list[InstanceRow]
    total: int  # exact up to COUNT_CAP
    more: bool  # more than COUNT_CAP match: narrow the filters
    next_after: int | None  # the cursor of the next page (None: this is the last)
    processes: list[tuple[str, str]] = field(default_factory=list)  # (id, name) for the filter


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, SHANGHAI)


def _started_between(checks: Checks, f: InstanceFilters) -> list[Any]:
    """The conditions of the "started between" dates (local days, both included)."""
    days: dict[str, date | None] = {}
    for name in ("started_from", "started_to"):
        value = (getattr(f, name) or "").strip()
        days[name] = None
        if value and checks.day(name, value, LABELS[name]):
            days[name] = date.fromisoformat(value)
    start, end = days["started_from"], days["started_to"]
    where = []
    if start and end:
        checks.period("started_to", start, end, LABELS["started_to"])
    if start:
        where.append(ProcessInstance.created_at >= _start_of(start))
    if end:
        where.append(ProcessInstance.created_at < _start_of(end + timedelta(days=1)))
    return where


def _checked(session: Session, f: InstanceFilters, after: object) -> tuple[list[Any], int | None]:
    """The filters as SQL conditions; every bad value refused naming its label."""
    checks = Checks()
    where: list[Any] = []
    process = (f.process or "").strip()
    known = set(session.scalars(select(ProcessDefinition.process_id).distinct()))
    if process and checks.add(
        "process",
        LABELS["process"],
        None if process in known else Message(N_("is not a deployed process")),
    ):
        where.append(ProcessInstance.process_id == process)
    version = (f.version or "").strip()
    if version and checks.integer("version", version, LABELS["version"], 1, INT32):
        versions = select(ProcessDefinition.id).where(ProcessDefinition.version == int(version))
        if process:
            versions = versions.where(ProcessDefinition.process_id == process)
        where.append(ProcessInstance.definition_id.in_(versions))
    state = (f.state or "").strip()
    if state and checks.add(
        "state",
        LABELS["state"],
        None if state in STATES else Message(N_("is not one of the states listed")),
    ):
        where.append(ProcessInstance.status == state)
    key = (f.key or "").strip().upper()
    if key and checks.text("key", key, LABELS["key"], max_length=40):
        where.append(ProcessInstance.business_key.contains(key, autoescape=True))
    where += _started_between(checks, f)
    cursor = None
    if after not in (None, ""):
        if checks.integer("after", after, LABELS["after"], 1, INT32):
            cursor = int(str(after))
    checks.done(Message(N_("The instance list")))
    return where, cursor


def capped_count(session: Session, stmt: Select, cap: int | None = None) -> int:
    """The instances matching ``stmt``, counted up to ``cap`` + 1 (:func:`engine.paging.capped_count`)."""
    return paging.capped_count(session, stmt, ProcessInstance.id, COUNT_CAP if cap is None else cap)


def instances(
    session: Session,
    actor: User | None,
    filters: InstanceFilters | None = None,
    after: object = None,
    page_size: int = PAGE_SIZE,
) -> InstanceList:
    """One page of instances, newest first, after the instance ``after`` (the cursor of the
    previous page). Four queries whatever is stored: the process names, the capped count, the
    cursor's start time and the page."""
    require_system_admin(actor)
    where, cursor = _checked(session, filters or InstanceFilters(), after)
    base = select(ProcessInstance).where(*where)
    total = capped_count(session, base)
    page = base
    if cursor is not None:
        started = session.scalar(
            select(ProcessInstance.created_at).where(ProcessInstance.id == cursor)
        )
        if started is not None:
            page = page.where(
                paging.beyond(
                    ProcessInstance.created_at, ProcessInstance.id, (started, cursor), True
                )
            )
    columns = (
        ProcessInstance.id,
        ProcessInstance.business_key,
        ProcessInstance.process_id,
        ProcessInstance.definition_id,
        ProcessInstance.status,
        ProcessInstance.created_at,
        ProcessInstance.updated_at,
        ProcessInstance.next_due_at,
        ProcessInstance.incident,
        ProcessInstance.suspended_at,
    )
    found = session.execute(
        page.with_only_columns(*columns)
        .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
        .limit(page_size + 1)
    ).all()
    definitions = {
        d.id: d
        for d in session.execute(
            select(
                ProcessDefinition.id,
                ProcessDefinition.process_id,
                ProcessDefinition.version,
                ProcessDefinition.name,
            )
        )
    }
    rows = [
        InstanceRow(
            business_key=r.business_key,
            process_id=r.process_id,
            process_name=definitions[r.definition_id].name,
            version=definitions[r.definition_id].version,
            status=r.status,
            started_at=r.created_at,
            updated_at=r.updated_at,
            next_due_at=r.next_due_at,
            incident=r.incident,
            suspended_at=r.suspended_at,
        )
        for r in found[:page_size]
    ]
    names = sorted({(d.process_id, d.name) for d in definitions.values()})
    processes = list(dict(names).items())
    return InstanceList(
        rows=rows,
        total=total,
        more=total > COUNT_CAP,
        next_after=found[page_size - 1].id if len(found) > page_size else None,
        processes=processes,
    )


# -- one instance ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    detail: dict
    who: Message | None  # the actor's name; None: the engine (the worker, a timer)
    what: Message | None = None  # a domain action's words (kind "action")


@dataclass(frozen=True)
class InstancePage:
    instance: InstanceInfo  # with ``suspension`` while suspended
    started_at: datetime
    updated_at: datetime
    started_by: Message | None
    parties: dict[str, Label]  # role -> department name
    next_due_at: datetime | None  # the next timer (or automatic retry)
    resume_status: str | None  # what resuming returns it to
    open_tasks: list[TaskInfo]
    incident: IncidentView | None
    timeline: list[Event]  # oldest first (the newest TIMELINE_MAX)


def _instance(session: Session, business_key: str) -> ProcessInstance:
    instance = (
        session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
        if storable(business_key, 40)
        else None
    )
    if instance is None:
        raise NotFound(Message("No process instance with business key %(key)s.", key=business_key))
    return instance


def instance_page(session: Session, actor: User | None, business_key: str) -> InstancePage:
    require_system_admin(actor)
    instance = _instance(session, business_key)
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance.id)
            .order_by(AuditEvent.id.desc())
            .limit(TIMELINE_MAX)
        )
    )[::-1]
    people = _labels_of_users(
        session,
        {e.actor_id for e in events if e.actor_id}
        | ({instance.started_by_id} if instance.started_by_id else set()),
    )
    handlers = handlers_of(session)
    timeline = []
    for e in events:
        what = None
        if e.kind == "action":
            what = handlers.action_label(str((e.detail or {}).get("action") or ""))
            if what is None:
                continue  # the action records its own, more specific event
        who = people.get(e.actor_id) if e.actor_id else None
        timeline.append(Event(e.at, e.kind, dict(e.detail or {}), who, what))
    bindings = {r: d for r, d in (instance.bindings or {}).items() if isinstance(d, int)}
    names = department_labels(session, set(bindings.values()))
    return InstancePage(
        instance=instance_info(instance),
        started_at=instance.created_at,
        updated_at=instance.updated_at,
        started_by=people.get(instance.started_by_id or 0),
        parties={r: names[d] for r, d in bindings.items() if d in names},
        next_due_at=instance.next_due_at,
        resume_status=instance.resume_status,
        open_tasks=[task_info(t) for t in tasks_of(session, instance.id, "open")],
        incident=open_incident(session, instance.id),
        timeline=timeline,
    )


@dataclass(frozen=True)
class StatusChange:
    business_key: str
    before: str
    after: str


def suspend(
    session: Session, clock: Clock, actor: User | None, business_key: str, reason: object
) -> StatusChange:
    """Suspend the instance, with a reason (required), audited."""
    require_system_admin(actor)
    checks = Checks()
    text = _reason(checks, reason)
    checks.done()
    instance = _instance(session, business_key)
    before = instance.status
    suspend_instance(session, clock, instance.id, actor.id if actor else None, text)
    return StatusChange(business_key, before, instance.status)


def resume(
    session: Session, clock: Clock, actor: User | None, business_key: str, reason: object = ""
) -> StatusChange:
    """Resume a suspended instance (a note is optional), audited."""
    require_system_admin(actor)
    checks = Checks()
    text = _reason(checks, reason, required=False)
    checks.done()
    instance = _instance(session, business_key)
    resume_instance(session, clock, instance.id, actor.id if actor else None, text)
    return StatusChange(business_key, "suspended", instance.status)
