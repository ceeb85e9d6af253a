"""Workflow runtime: every command on an instance is one transaction.

lock the instance (``FOR UPDATE`` on PostgreSQL; SQLite writers queue on ``BEGIN IMMEDIATE``)
→ deserialize (spec from the definition, cached per version) → act → run engine steps in the
sandbox → sync the ``human_task`` mirror → write effects (grants, breaches, outbox) and audit
→ serialize → bump ``version`` (optimistic check) and ``next_due_at``. The caller commits.

A script that fails does not crash the caller: the instance is marked ``incident`` with the error,
the state up to the failing task is kept, and :func:`retry_incident` runs the task again.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import WorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import WorkingCalendar, load_calendar
from engine.clock import Clock, parse_instant, using_clock
from engine.db import is_postgres
from engine.errors import Conflict, NotFound
from engine.i18n import Message
from engine.oversight.models import Breach
from engine.sharing.models import Grant
from engine.workflow.deployment import SERIALIZER
from engine.workflow.models import (
    NO_DEADLINE,
    AuditEvent,
    Counter,
    HumanTask,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
)
from engine.workflow.scripting import Effects, make_script_engine

KEY_PREFIX = {
    "share_request": "GX",
    "negotiation": "XS",
    "catalog_publication": "ML",
    "catalog_update": "MG",
    "data_error_verification": "JY",
    "annual_evaluation": "PG",
    "project_approval": "XM",
    "rectification": "ZG",
}

_SPEC_CACHE: OrderedDict[int, tuple] = OrderedDict()


def _specs(definition: ProcessDefinition) -> tuple:
    cached = _SPEC_CACHE.get(definition.id)
    if cached is None or cached[0] != definition.content_hash:
        raw = json.loads(definition.spec_json)
        spec = SERIALIZER.from_dict(raw["spec"])
        subs = {k: SERIALIZER.from_dict(v) for k, v in raw["subprocess_specs"].items()}
        cached = (definition.content_hash, spec, subs)
        _SPEC_CACHE[definition.id] = cached
        while len(_SPEC_CACHE) > 64:
            _SPEC_CACHE.popitem(last=False)
    return cached[1], cached[2]


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _workflow_converter():
    # the registry wraps each converter's bound to_dict/from_dict in a functools.partial
    return SERIALIZER.registry.convert_from_dict["BpmnWorkflow"].args[0].__self__


def dump_state(workflow) -> bytes:
    """Instance state without the spec (kept once per version), zlib-compressed JSON.

    Same layout as ``BpmnWorkflowConverter.to_dict`` minus ``spec``/``subprocess_specs``, which
    are never converted at all: converting the spec would cost more than the state itself.
    """
    converter = _workflow_converter()
    dct = WorkflowConverter.to_dict(converter, workflow)
    dct["subprocesses"] = converter.mapping_to_dict(workflow.subprocesses)
    dct["bpmn_events"] = SERIALIZER.registry.convert(workflow.bpmn_events)
    dct["typename"] = "BpmnWorkflow"
    dct["serializer_version"] = SERIALIZER.VERSION
    return zlib.compress(json.dumps(dct, separators=(",", ":"), default=_json_default).encode(), 6)


def load_state(definition: ProcessDefinition, blob: bytes):
    """Rebuild a workflow around the cached spec objects of its definition."""
    spec, subs = _specs(definition)
    dct = json.loads(zlib.decompress(blob))
    dct.pop("serializer_version", None)
    registry = SERIALIZER.registry
    converter = _workflow_converter()
    workflow = converter.target_class(spec, subs, deserializing=True)
    workflow.tasks = converter.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
    workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
    converter.set_default_attributes(workflow, dct)
    converter.subprocesses_from_dict(dct["subprocesses"], workflow)
    workflow.bpmn_events = registry.restore(dct.pop("bpmn_events", []))
    return workflow


class Command:
    """The context of one transaction on one instance."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        instance: ProcessInstance,
        actor_id: int | None,
        calendar: WorkingCalendar | None = None,
    ):
        self.session = session
        self.clock = clock
        self.instance = instance
        self.actor_id = actor_id
        self._calendar = calendar
        self.effects = Effects()
        self.workflow = None

    @property
    def calendar(self) -> WorkingCalendar:
        if self._calendar is None:
            self._calendar = load_calendar(self.session)
        return self._calendar

    def open(self, workflow=None):
        self.workflow = workflow or load_state(self.instance.definition, self.instance.state)
        self.workflow.script_engine = make_script_engine(
            lambda: self.calendar, self.clock, self.effects
        )
        return self.workflow

    def audit(self, event: str, **detail) -> None:
        self.session.add(
            AuditEvent(
                instance_id=self.instance.id,
                at=self.clock.now(),
                actor_id=self.actor_id,
                kind=event,
                detail=detail,
            )
        )

    def step(self, action: Callable[[], None] | None = None) -> None:
        """Run ``action`` then engine steps; a failing script becomes an incident."""
        wf = self.workflow
        with using_clock(self.clock), self.session.no_autoflush:
            try:
                if action is not None:
                    action()
                wf.refresh_timers()
                wf.do_engine_steps()
            except SpiffWorkflowException as exc:
                self.instance.status = "incident"
                self.instance.incident = _describe(exc)
                self.audit("incident", error=self.instance.incident)
            self.save()

    def save(self) -> None:
        wf, inst, now = self.workflow, self.instance, self.clock.now()
        self._sync_human_tasks(now)
        self._write_effects(now)
        if inst.status != "incident":
            inst.status = "completed" if wf.completed else "running"
            inst.incident = None
        if self.effects.facts:
            inst.summary = {**(inst.summary or {}), **self.effects.facts}
            self.effects.facts.clear()
        inst.next_due_at = None if wf.completed else next_due(wf)
        inst.state = dump_state(wf)
        inst.updated_at = now
        self.session.flush()

    # -- mirror of user tasks --------------------------------------------------------------
    def _sync_human_tasks(self, now: datetime) -> None:
        inst, meta = self.instance, self.instance.definition.task_meta
        ready = {
            str(t.id): t
            for t in self.workflow.get_tasks(state=TaskState.READY)
            if isinstance(t.task_spec, UserTaskMixin)
        }
        rows = self.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == inst.id, HumanTask.state == "open")
        )
        open_rows = {
            r.spiff_task_id: r for r in rows if r.state == "open"
        }  # in-session changes win
        for task_id, row in open_rows.items():
            if task_id not in ready:
                row.state = "cancelled"
                row.completed_at = now
        for task_id, task in ready.items():
            if task_id in open_rows:
                continue
            m = meta.get(task.task_spec.name, {})
            lane = task.task_spec.lane
            due = task.data.get(m["due"]) if m.get("due") else None
            self.session.add(
                HumanTask(
                    instance_id=inst.id,
                    spiff_task_id=task_id,
                    task_name=task.task_spec.name,
                    title=m.get("title") or task.task_spec.name,
                    title_en=m.get("title_en"),
                    role=lane,
                    job_role=m.get("job_role"),
                    department_id=inst.bindings[lane],
                    form=m.get("form"),
                    statute=m.get("statute", ""),
                    state="open",
                    due_at=parse_instant(due) if due else None,
                    created_at=now,
                    due_sort=parse_instant(due) if due else NO_DEADLINE,
                )
            )

    def _write_effects(self, now: datetime) -> None:
        inst, fx = self.instance, self.effects
        for n in fx.notifications:
            self.session.add(
                OutboxMessage(
                    instance_id=inst.id,
                    department_id=inst.bindings[n["role"]],
                    template=n["template"],
                    payload={**n["payload"], "business_key": inst.business_key},
                    created_at=now,
                )
            )
        for b in fx.breaches:
            evidence = {
                **b["evidence"],
                "business_key": inst.business_key,
                "detected_at": now.isoformat(),
            }
            if b["evidence"].get("start") and b["evidence"].get("days"):
                evidence["deadline"] = self.calendar.deadline(
                    b["evidence"]["start"], int(b["evidence"]["days"])
                ).to_dict()
            self.session.add(
                Breach(
                    instance_id=inst.id,
                    department_id=inst.bindings[b["role"]],
                    article=b["article"],
                    kind=b["kind"],
                    evidence=evidence,
                    recorded_at=now,
                )
            )
            self.audit("breach_recorded", breach=b["kind"], article=b["article"])
        for g in fx.grants:
            data = g["data"]
            grant = Grant(
                instance_id=inst.id,
                resource_id=data["resource_id"],
                requester_id=inst.bindings["requester"],
                info_items=data.get("granted_items") or data["info_items"],
                period_start=_as_date(data.get("granted_period_start") or data.get("period_start")),
                period_end=_as_date(data.get("granted_period_end") or data.get("period_end")),
                purpose=data.get("granted_purpose") or data.get("purpose", ""),
                basis=g["basis"],
                granted_at=now,
            )
            self.session.add(grant)
            self.audit("grant_issued", basis=g["basis"], info_items=grant.info_items)
        for a in fx.actions:
            from engine.workflow.handlers import ACTIONS, load_handlers

            load_handlers()
            ACTIONS[a["name"]](
                self.session, self.clock, inst, self.actor_id, a["data"], **a["args"]
            )
            self.audit("action", action=a["name"])
        fx.notifications.clear()
        fx.breaches.clear()
        fx.grants.clear()
        fx.actions.clear()


def _as_date(value) -> date | None:
    if not value:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _describe(exc: SpiffWorkflowException) -> str:
    task = getattr(exc, "task", None)
    where = f"{task.task_spec.name} ({task.task_spec.bpmn_name or ''})" if task is not None else "-"
    line = f", line {exc.line_number}" if getattr(exc, "line_number", None) else ""
    return f"{where}{line}: {exc}"


def next_due(workflow) -> datetime | None:
    """Earliest pending timer of the workflow (and its subprocesses), for the ``next_due_at`` index."""
    values = []
    for event in workflow.waiting_events():
        value = event.value
        if isinstance(value, str):
            try:
                values.append(parse_instant(value))
            except ValueError:
                continue
    return min(values) if values else None


# -- commands ---------------------------------------------------------------------------------
def next_business_key(session: Session, clock: Clock, process_id: str) -> str:
    from engine.clock import SHANGHAI

    year = clock.now().astimezone(SHANGHAI).year
    prefix = KEY_PREFIX.get(process_id, "BP")
    name = f"{prefix}-{year}"
    stmt = select(Counter).where(Counter.name == name)
    counter = session.scalar(stmt.with_for_update() if is_postgres(session) else stmt)
    if counter is None:
        counter = Counter(name=name, value=0)
        session.add(counter)
    counter.value += 1
    session.flush()
    return f"{name}-{counter.value:06d}"


def start_instance(
    session: Session,
    clock: Clock,
    definition: ProcessDefinition,
    data: dict,
    bindings: dict,
    actor_id: int | None,
    summary: dict | None = None,
) -> ProcessInstance:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    now = clock.now()
    instance = ProcessInstance(
        business_key=next_business_key(session, clock, definition.process_id),
        definition=definition,
        process_id=definition.process_id,
        status="running",
        bindings=bindings,
        summary=summary or {},
        state=b"",
        started_by_id=actor_id,
        created_at=now,
        updated_at=now,
        requester_department_id=bindings.get("requester"),
        provider_department_id=bindings.get("provider"),
        authority_department_id=bindings.get("authority"),
    )
    session.add(instance)
    session.flush()
    spec, subs = _specs(definition)
    cmd = Command(session, clock, instance, actor_id)
    wf = cmd.open(BpmnWorkflow(spec, subs))
    wf.data.update({"business_key": instance.business_key})
    start = wf.get_next_task(state=TaskState.READY)
    start.data.update(data)
    start.data["business_key"] = instance.business_key
    cmd.audit("started", process=definition.process_id, version=definition.version)
    cmd.step()
    return instance


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """Load an instance for a command, fresh from the database and locked on PostgreSQL."""
    stmt = (
        select(ProcessInstance)
        .where(ProcessInstance.id == instance_id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(of=ProcessInstance)
    instance = session.scalar(stmt)
    if instance is None:
        raise NotFound(Message("No process instance %(id)s.", id=instance_id))
    return instance


def complete_user_task(
    session: Session,
    clock: Clock,
    row: HumanTask,
    actor_id: int,
    data: dict,
    validate: Callable[[dict], None] | None = None,
) -> None:
    """Complete the user task mirrored by ``row`` (already locked and checked by the caller).

    ``validate(task_data)`` runs before anything changes and may raise to refuse the input.
    """
    instance = row.instance
    cmd = Command(session, clock, instance, actor_id)
    wf = cmd.open()
    task = wf.get_task_from_id(UUID(row.spiff_task_id))
    if task is None or task.state != TaskState.READY:
        raise Conflict(Message("Task %(task)s is no longer waiting for input.", task=row.title))
    if validate is not None:
        validate(task.data)
    now = clock.now()
    row.state, row.completed_at, row.completed_by_id, row.data = "completed", now, actor_id, data

    def act():
        task.data.update(data)
        task.run()

    cmd.audit(
        "task_completed", task=row.task_name, title=row.title, title_en=row.title_en, data=data
    )
    cmd.step(act)


def fire_timers(session: Session, clock: Clock, instance: ProcessInstance) -> bool:
    """Fire whatever timers of ``instance`` are due; True if any did."""
    cmd = Command(session, clock, instance, None)
    wf = cmd.open()
    before = {str(e.name) + str(e.value) for e in wf.waiting_events()}
    cmd.step()
    after = {str(e.name) + str(e.value) for e in cmd.workflow.waiting_events()}
    fired = sorted(before - after)
    if fired:
        cmd.audit(
            "timers_fired",
            due=instance.next_due_at.isoformat() if instance.next_due_at else None,
            count=len(fired),
        )
    return bool(fired)


def retry_incident(
    session: Session, clock: Clock, instance_id: int, actor_id: int | None
) -> ProcessInstance:
    instance = lock_instance(session, instance_id)
    if instance.status != "incident":
        raise Conflict(
            Message("Instance %(key)s has no incident to retry.", key=instance.business_key)
        )
    cmd = Command(session, clock, instance, actor_id)
    wf = cmd.open()
    instance.status = "running"

    def act():
        for task in wf.get_tasks(state=TaskState.ERROR):
            task._set_state(TaskState.READY)

    cmd.audit("incident_retried", error=instance.incident)
    cmd.step(act)
    return instance


def task_data(instance: ProcessInstance, spiff_task_id: str) -> dict:
    """The data a user task sees (the request, earlier answers), for its page."""
    wf = load_state(instance.definition, instance.state)
    task = wf.get_task_from_id(UUID(spiff_task_id))
    return dict(task.data) if task is not None else {}


def workflow_states(instance: ProcessInstance) -> dict[str, dict[str, set[str]]]:
    """BPMN element ids by state, per process of the instance (for diagram markers)."""
    wf = load_state(instance.definition, instance.state)
    out: dict[str, dict[str, set[str]]] = {}
    for task in wf.get_tasks():
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        states = out.setdefault(task.workflow.spec.name, {"completed": set(), "active": set()})
        if task.state == TaskState.COMPLETED:
            states["completed"].add(bpmn_id)
        elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
            states["active"].add(bpmn_id)
    return out
