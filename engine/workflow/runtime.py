"""Workflow runtime: every command on an instance is one transaction.

lock the instance (``FOR UPDATE`` on PostgreSQL; SQLite writers queue on ``BEGIN IMMEDIATE``)
→ deserialize (spec from the definition, cached per version) → act → run engine steps in the
sandbox → sync the ``human_task`` mirror → write effects through the domain handlers and audit
→ serialize → bump ``version`` (optimistic check) and ``next_due_at``. The caller commits.

No failure of a process escapes as a crash (:func:`execute`): whatever a script, expression,
effect, handler or the serializer raises is rolled back to a savepoint and recorded as an
incident naming its element; the caller's own change (a start, a completed form) is kept, and the
worker retries the engine steps with backoff until they succeed or an administrator takes over.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import WorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session, joinedload, make_transient, undefer

from engine import audit, rules
from engine.audit import AuditEvent
from engine.calendar import WorkingCalendar, load_calendar
from engine.calendar.deadlines import forget_deadlines, record_deadlines
from engine.clock import SHANGHAI, Clock, parse_instant, using_clock
from engine.db import (
    DeferredRows,
    add_row,
    deferring,
    forget_written,
    insert_object,
    is_postgres,
    update_object,
)
from engine.directory import user_by_id
from engine.directory.models import User
from engine.errors import Conflict, GovshareError, NotFound, ProcessFailed
from engine.i18n import Message
from engine.workflow.business_keys import next_business_key
from engine.workflow.deployment import SERIALIZER
from engine.workflow.facts import write_fact
from engine.workflow.handlers import HandlerError, StepContext, handlers_of
from engine.workflow.models import (
    NO_DEADLINE,
    HumanTask,
    Incident,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
)
from engine.workflow.scripting import (
    Call,
    Effects,
    Element,
    SandboxScriptEngine,
    make_script_engine,
)

log = logging.getLogger("govshare.runtime")

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


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _workflow_converter() -> Any:
    # the registry wraps each converter's bound to_dict/from_dict in a functools.partial
    return SERIALIZER.registry.convert_from_dict["BpmnWorkflow"].args[0].__self__


def dump_state(workflow: Any) -> bytes:
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


def load_state(definition: ProcessDefinition, blob: bytes) -> Any:
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


class ElementError(Exception):
    """An error raised while a command wrote what an element asked for (an effect, an action,
    a user task's mirror), with the element it belongs to."""

    def __init__(self, element: Element | None, cause: BaseException) -> None:
        self.element = element
        self.cause = cause
        super().__init__(f"{type(cause).__name__}: {cause}")


@dataclass(frozen=True)
class Failure:
    """Why a command failed: the element and the error, as an incident records them."""

    element: Element
    error: str

    @classmethod
    def of(cls, exc: BaseException, fallback: Element | None) -> Failure:
        element = fallback
        if isinstance(exc, ElementError):
            element = exc.element or fallback
        elif isinstance(exc, SpiffWorkflowException) and getattr(exc, "task", None) is not None:
            element = Element.of(exc.task)
        line = getattr(exc, "line_number", None)
        error = f"{exc} (line {line})" if line else str(exc)
        if not isinstance(exc, ElementError | SpiffWorkflowException):
            error = f"{type(exc).__name__}: {exc}"
        return cls(element or Element("-"), error[:4000])

    def describe(self) -> str:
        name = f" ({self.element.name})" if self.element.name else ""
        return f"{self.element.id}{name}: {self.error}"


class Command:
    """The context of one transaction on one instance."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        instance: ProcessInstance,
        actor_id: int | None,
        open_rows: list[HumanTask] | None = None,
        rows: DeferredRows | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.instance = instance
        self.actor_id = actor_id
        self.handlers = handlers_of(session)
        self._calendar: WorkingCalendar | None = None
        self.effects = Effects()
        self.workflow: Any = None
        self.script_engine: SandboxScriptEngine | None = None
        self.withdrawn: list[HumanTask] = []  # open tasks this command cancelled
        # the instance's open task rows, when the caller read them after locking it (a task
        # command does): the mirror is then synced without reading them again
        self.open_rows = open_rows
        self._unsaved: list[dict] = []  # events of a new instance, written once it is
        # the rows the command appends (audit events, outbox, facts, deadlines), written at the
        # end of :meth:`save` with one multi-row INSERT per table (:func:`engine.db.deferring`)
        self.rows = rows
        # what the caller adds last, once the steps ran and the effects are written (an event
        # saying what the steps did): it goes out with the command's other rows
        self.finish: Callable[[], None] | None = None
        # what the command wrote itself (:meth:`_write_changes`, :meth:`_insert_instance`)
        self.written: list[tuple[Any, list[str]]] = []
        self.inserted = False

    def calendar(self) -> WorkingCalendar:
        if self._calendar is None:
            self._calendar = load_calendar(self.session)
        return self._calendar

    def open(self, workflow: Any = None) -> Any:
        self.workflow = workflow or load_state(self.instance.definition, self.instance.state)
        self.script_engine = make_script_engine(
            self.calendar, self.clock, self.effects, self.handlers.effects
        )
        self.workflow.script_engine = self.script_engine
        return self.workflow

    def current_element(self) -> Element | None:
        return self.script_engine.environment.element if self.script_engine else None

    def audit(self, event: str, **detail: Any) -> None:
        row = {
            "instance_id": self.instance.id,
            "at": self.clock.now(),
            "actor_id": self.actor_id,
            "kind": event,
            "object_type": None,
            "object_ref": None,
            "detail": detail,
        }
        if self.is_new():
            self._unsaved.append(row)  # its instance id is known once the instance is inserted
        else:
            add_row(self.session, AuditEvent, **row)

    def is_new(self) -> bool:
        """The instance is being started by this command and not yet inserted."""
        return inspect(self.instance).key is None

    def run(self, act: Callable[[], None] | None = None, steps: bool = True) -> None:
        """Run ``act``, then (unless ``steps`` is False) the engine steps, then save — all
        without autoflush, so that the command's rows are written in one flush."""
        with using_clock(self.clock), self.session.no_autoflush:
            if act is not None:
                act()
            if steps:
                self.workflow.refresh_timers()
                self.workflow.do_engine_steps()
            self.save()

    def save(self) -> None:
        """Write the command: the instance row first complete (status, due date, state), so that
        whatever flushes it writes it once; a start inserts it here, with its state, since the
        rows written next need its id. Effects and the task mirror cannot change the workflow,
        so the state dumped first is the one saved."""
        wf, inst, now = self.workflow, self.instance, self.clock.now()
        # what scripts record() goes into the summary before the effects are written, so that an
        # effect which keeps its outcome there (issue_grant: the grant's decision) has the last word
        if self.effects.facts:
            inst.summary = {**(inst.summary or {}), **self.effects.facts}
            self.effects.facts.clear()
        status = ("completed", None) if wf.completed else ("running", next_due(wf))
        self._set_status(now, *status)
        inst.state = dump_state(wf)
        new = self.is_new()
        if new:
            self._insert_instance()
        self._sync_human_tasks(now)
        self._write_effects()
        if wf.completed:
            forget_deadlines(self.session, inst.id)
        else:
            record_deadlines(self.session, inst.id, self.effects.deadlines, new=new)
        self.effects.deadlines.clear()
        self._set_status(now, *status)  # the command, not an effect, has the last word on these
        if self.finish is not None:
            self.finish()
        self._write_changes()
        self.session.flush()  # what else the command changed: domain rows (grants, breaches …)
        if self.rows is not None:
            self.rows.write(self.session)

    def _write_changes(self) -> None:
        """The instance and the task rows the command changed, with one Core ``UPDATE`` each
        (:func:`engine.db.update_object`): the instance only at the version it was read at, as
        the unit of work would check it. What was written is taken back from the objects if the
        command's savepoint rolls back (:meth:`forget_changes`)."""
        for obj in (self.instance, *(self.open_rows or ())):
            keys = update_object(self.session, obj)
            if keys:
                self.written.append((obj, keys))

    def forget_changes(self) -> None:
        """The command's savepoint rolled back: its objects no longer hold what it wrote (they
        load again on first use), and a new instance is new again."""
        for obj, keys in self.written:
            forget_written(self.session, obj, keys)
        self.written.clear()
        if self.inserted:
            self.session.expunge(self.instance)
            make_transient(self.instance)
            self.inserted = False

    def _set_status(self, now: datetime, status: str, due: datetime | None) -> None:
        inst = self.instance
        values = {"status": status, "incident": None, "next_due_at": due, "updated_at": now}
        for key, value in values.items():
            if getattr(inst, key) != value:  # set again unchanged, the row would count as changed
                setattr(inst, key, value)

    def _insert_instance(self) -> None:
        """Insert a new instance (once, with its state) and the audit events that waited for
        its id."""
        inst = self.instance
        # a savepoint rolled back may have left the id of an earlier attempt: the database picks
        inst.id = None  # type: ignore[assignment]
        insert_object(self.session, inst)
        self.inserted = True
        for row in self._unsaved:
            row["instance_id"] = inst.id
            add_row(self.session, AuditEvent, **row)
        self._unsaved.clear()
        self.open_rows = []  # a new instance has no tasks yet

    # -- mirror of user tasks --------------------------------------------------------------
    def _sync_human_tasks(self, now: datetime) -> None:
        inst = self.instance
        ready = {
            str(t.id): t
            for t in self.workflow.get_tasks(state=TaskState.READY)
            if isinstance(t.task_spec, UserTaskMixin)
        }
        rows = self.open_rows
        if rows is None:
            rows = self.open_rows = list(
                self.session.scalars(
                    select(HumanTask).where(
                        HumanTask.instance_id == inst.id, HumanTask.state == "open"
                    )
                )
            )
        open_rows = {
            r.spiff_task_id: r for r in rows if r.state == "open"
        }  # in-session changes win
        for task_id, row in open_rows.items():
            if task_id not in ready:
                row.state = "cancelled"
                row.completed_at = now
                self.withdrawn.append(row)
        for task_id, task in ready.items():
            if task_id not in open_rows:
                try:
                    values = self._human_task(task_id, task, now)
                except Exception as exc:
                    raise ElementError(Element.of(task), exc) from exc
                # written once, with the command's other new rows (no one reads it back here)
                add_row(self.session, HumanTask, **values)
                task_offered(self.session, inst, values["department_id"], task_id, now)

    def _human_task(self, task_id: str, task: Any, now: datetime) -> dict[str, Any]:
        """The values of the new mirror row of a user task that became ready."""
        inst = self.instance
        m = inst.definition.task_meta.get(task.task_spec.name, {})
        lane = task.task_spec.lane
        if lane not in (inst.bindings or {}):
            raise HandlerError(Message("Lane %(lane)s is not bound in this instance.", lane=lane))
        due = (
            parse_instant(task.data[m["due"]]) if m.get("due") and task.data.get(m["due"]) else None
        )
        return {
            "instance_id": inst.id,
            "spiff_task_id": task_id,
            "task_name": task.task_spec.name,
            "title": m.get("title") or task.task_spec.name,
            "title_en": m.get("title_en"),
            "role": lane,
            "job_role": m.get("job_role"),
            "department_id": inst.bindings[lane],
            "form": m.get("form"),
            "statute": m.get("statute", ""),
            "state": "open",
            "due_at": due,
            "created_at": now,
            "due_sort": due or NO_DEADLINE,
        }

    # -- effects -----------------------------------------------------------------------------
    def _write_effects(self) -> None:
        calls, self.effects.calls = self.effects.calls, []
        for call in calls:
            try:
                self._write(call)
            except Exception as exc:
                raise ElementError(call.element, exc) from exc

    def _write(self, call: Call) -> None:
        ctx = StepContext(
            self.session,
            self.clock,
            self.instance,
            self.actor_id,
            call.data,
            self.calendar,
            self.audit,
            tuple(self.withdrawn),
        )
        if call.helper == "notify":
            write_notification(ctx, *call.args, **call.kwargs)
        elif call.helper == "perform":
            name, *args = call.args
            self.handlers.action(name)(ctx, *args, **call.kwargs)
            self.audit("action", action=name)
        elif call.helper == "fact":
            write_fact(ctx, self.handlers, *call.args, **call.kwargs)
        else:
            self.handlers.effects[call.helper].write(ctx, *call.args, **call.kwargs)


def write_notification(ctx: StepContext, role: str, template: str, **payload: Any) -> None:
    """``notify(role, template, **payload)``: an outbox row for the department bound to ``role``."""
    add_row(
        ctx.session,
        OutboxMessage,
        instance_id=ctx.instance.id,
        department_id=ctx.department_of(role),
        template=template,
        payload={**payload, "business_key": ctx.instance.business_key},
        created_at=ctx.clock.now(),
        sent_at=None,
    )


def task_offered(
    session: Session,
    instance: ProcessInstance,
    department_id: int,
    spiff_task_id: str,
    now: datetime,
) -> None:
    """The outbox row of a step that opens: its department (its officials, or those of its job
    role) is told, unless the same command's process message already tells them (notifications)."""
    add_row(
        session,
        OutboxMessage,
        instance_id=instance.id,
        department_id=department_id,
        template="task_offered",
        payload={"business_key": instance.business_key, "spiff_task_id": spiff_task_id},
        created_at=now,
        sent_at=None,
    )


def next_due(workflow: Any) -> datetime | None:
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


# -- incidents ------------------------------------------------------------------------------
RETRY_BACKOFF = timedelta(minutes=1)
MAX_AUTOMATIC_RETRIES = 6  # 1, 2, 4, 8, 16, 32 minutes; then an administrator decides


def record_incident(
    session: Session, clock: Clock, instance: ProcessInstance, failure: Failure
) -> Incident:
    """Mark the instance ``incident`` and schedule the next automatic retry (with backoff)."""
    now = clock.now()
    # the open incident, or one this very command resolved (a retry that ran but left the
    # instance as stuck as before): its attempts go on counting, so the backoff keeps growing
    incident = session.scalar(
        select(Incident)
        .where(
            Incident.instance_id == instance.id,
            or_(Incident.resolved_at.is_(None), Incident.resolved_at == now),
        )
        .order_by(Incident.id.desc())
        .limit(1)
    )
    if incident is None:
        incident = Incident(instance_id=instance.id, attempts=0, occurred_at=now)
        session.add(incident)
    incident.resolved_at = incident.resolved_by_id = None
    incident.element_id = failure.element.id[:100]
    incident.element_name = failure.element.name[:200]
    incident.error, incident.last_attempt_at = failure.error, now
    incident.attempts += 1
    instance.status, instance.incident = "incident", failure.describe()
    retry = incident.attempts <= MAX_AUTOMATIC_RETRIES
    instance.next_due_at = now + RETRY_BACKOFF * 2 ** (incident.attempts - 1) if retry else None
    instance.updated_at = now
    session.add(
        AuditEvent(
            instance_id=instance.id,
            at=now,
            actor_id=None,
            kind="incident",
            detail={
                "element": failure.element.id,
                "error": failure.error,
                "attempt": incident.attempts,
            },
        )
    )
    session.flush()
    log.warning("incident on %s: %s", instance.business_key, failure.describe())
    return incident


def _resolve_incidents(
    session: Session, clock: Clock, instance: ProcessInstance, actor_id: int | None
) -> None:
    for incident in session.scalars(
        select(Incident).where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
    ):
        incident.resolved_at, incident.resolved_by_id = clock.now(), actor_id
        session.add(
            AuditEvent(
                instance_id=instance.id,
                at=clock.now(),
                actor_id=actor_id,
                kind="incident_resolved",
                detail={"element": incident.element_id, "attempts": incident.attempts},
            )
        )


def execute(
    session: Session,
    clock: Clock,
    instance: ProcessInstance,
    actor_id: int | None,
    act: Callable[[Command], Callable[[], None] | None] | None = None,
    new_workflow: Callable[[], Any] | None = None,
    open_rows: list[HumanTask] | None = None,
) -> Command:
    """Run one command on ``instance``: ``act(cmd)`` prepares the caller's change and returns the
    callable that applies it, then the engine steps run and everything is saved.

    Whatever fails after the preparation (a script, an expression, an effect, a handler, the
    serializer) is rolled back to the savepoint and becomes an incident naming its element; the
    caller's own change is then applied alone and kept, and the engine steps wait for a retry.
    Errors a person caused (:class:`GovshareError`, e.g. invalid input) are raised unchanged.
    A suspended instance refuses every command (:func:`suspended_refusal`). ``open_rows``: the
    instance's open task rows, read by the caller after it locked the instance."""
    if instance.status == SUSPENDED:
        raise suspended_refusal(session, instance)
    was_incident = instance.status == "incident"
    cmd: Command | None = None
    try:
        with session.begin_nested(), deferring(session) as rows:
            cmd = Command(session, clock, instance, actor_id, open_rows, rows)
            cmd.open(new_workflow() if new_workflow else None)
            apply = act(cmd) if act is not None else None
            cmd.run(apply)
            if was_incident:
                _resolve_incidents(session, clock, instance, actor_id)
            return cmd
    except GovshareError:
        if cmd is not None:
            cmd.forget_changes()
        raise
    except Exception as exc:  # noqa: BLE001 - every other failure becomes an incident
        failure = Failure.of(exc, cmd.current_element() if cmd is not None else None)
        if cmd is not None:
            cmd.forget_changes()
    cmd = Command(session, clock, instance, actor_id, open_rows)
    if act is not None:
        try:
            with session.begin_nested(), deferring(session) as cmd.rows:
                cmd.open(new_workflow() if new_workflow else None)
                cmd.run(act(cmd), steps=False)
        except GovshareError:
            cmd.forget_changes()
            raise
        except Exception as exc:  # noqa: BLE001 - the caller's own change cannot be kept
            cmd.forget_changes()
            raise ProcessFailed(
                Message(
                    "The process failed at %(element)s and nothing was saved: %(error)s",
                    element=failure.element.name or failure.element.id,
                    error=failure.error,
                )
            ) from exc
    record_incident(session, clock, instance, failure)
    return cmd


# -- commands ---------------------------------------------------------------------------------
def start_instance(
    session: Session,
    clock: Clock,
    definition: ProcessDefinition,
    data: dict,
    bindings: dict,
    actor_id: int | None,
    summary: dict | None = None,
) -> ProcessInstance:
    """Start an instance of ``definition``; a failure after the start becomes an incident and
    the started instance is kept."""
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
        # the statutory rule set the instance starts under (its start data holds its numbers)
        rule_set_version=data.get("rule_set_version") or rules.current(session, clock).version,
    )
    # the instance is inserted once, with its state, when the command saves (Command.save); what
    # the caller changed before is written first, outside the command's savepoint, so that a
    # failing process (an incident) never takes it back
    session.flush()  # nothing to write: no statement

    def act(cmd: Command) -> None:
        wf = cmd.workflow
        wf.data.update({"business_key": instance.business_key})
        start = wf.get_next_task(state=TaskState.READY)
        start.data.update(data)
        start.data["business_key"] = instance.business_key
        cmd.audit("started", process=definition.process_id, version=definition.version)
        return None

    spec, subs = _specs(definition)
    execute(session, clock, instance, actor_id, act, new_workflow=lambda: BpmnWorkflow(spec, subs))
    return instance


def lock_instance(
    session: Session, instance_id: int, suspended_ok: bool = False
) -> ProcessInstance:
    """Load an instance for a command, fresh from the database and locked on PostgreSQL; a
    suspended one is refused (:func:`suspended_refusal`) unless ``suspended_ok``."""
    instance = _lock(session, ProcessInstance.id == instance_id)
    if instance is None:
        raise NotFound(Message("No process instance %(id)s.", id=instance_id))
    if instance.status == SUSPENDED and not suspended_ok:
        raise suspended_refusal(session, instance)
    return instance


def lock_instance_of_task(session: Session, task_id: int) -> ProcessInstance | None:
    """The instance of the task ``task_id``, locked and refused when suspended as
    :func:`lock_instance` does (in the same one statement), or None when there is no such task."""
    of_task = select(HumanTask.instance_id).where(HumanTask.id == task_id).scalar_subquery()
    instance = _lock(session, ProcessInstance.id == of_task)
    if instance is not None and instance.status == SUSPENDED:
        raise suspended_refusal(session, instance)
    return instance


# what every command reads of its instance, in the statement that takes it (lock or worker)
COMMAND_LOAD = (
    undefer(ProcessInstance.state),
    joinedload(ProcessInstance.definition, innerjoin=True),
)


def _lock(session: Session, where: Any) -> ProcessInstance | None:
    """One ``SELECT … FOR UPDATE`` (SQLite writers queue on ``BEGIN IMMEDIATE`` instead) that
    returns the instance with its state and its definition: every command reads all three."""
    stmt = (
        select(ProcessInstance)
        .where(where)
        .options(*COMMAND_LOAD)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(of=ProcessInstance)
    return session.scalar(stmt)


def complete_user_task(
    session: Session,
    clock: Clock,
    row: HumanTask,
    actor_id: int,
    data: dict,
    validate: Callable[[dict], None] | None = None,
    on_behalf_of: User | None = None,
    open_rows: list[HumanTask] | None = None,
    on_complete: Callable[[], None] | None = None,
) -> None:
    """Complete the user task mirrored by ``row`` (already locked and checked by the caller).

    ``validate(task_data)`` runs before anything changes and may raise to refuse the input.
    ``on_behalf_of``: the absent official a deputy completes it for (leave cover).
    ``open_rows``: the instance's open task rows, when the caller read them after locking it.
    ``on_complete()`` runs in the command once the task row is completed, its rows written with
    the command's (the signature of a decision, engine/trust).
    """

    def act(cmd: Command) -> Callable[[], None]:
        task = cmd.workflow.get_task_from_id(UUID(row.spiff_task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict(Message("Task %(task)s is no longer waiting for input.", task=row.title))
        if validate is not None:
            validate(task.data)
        row.state, row.completed_at = "completed", clock.now()
        row.completed_by_id, row.data, row.assignee_id = actor_id, data, actor_id
        row.on_behalf_of_id = on_behalf_of.id if on_behalf_of else None
        behalf = {"on_behalf_of": on_behalf_of.username} if on_behalf_of else {}
        cmd.audit(
            "task_completed",
            task=row.task_name,
            title=row.title,
            title_en=row.title_en,
            data=data,
            **behalf,
        )
        if on_complete is not None:
            on_complete()

        def apply() -> None:
            task.data.update(data)
            task.run()

        return apply

    execute(session, clock, row.instance, actor_id, act, open_rows=open_rows)


def fire_timers(session: Session, clock: Clock, instance: ProcessInstance) -> bool:
    """Fire whatever timers of ``instance`` are due (or retry its incident); True if anything
    happened. A failure becomes an incident and never reaches the caller."""
    due = instance.next_due_at
    fired: list[str] = []

    def act(cmd: Command) -> None:
        before = {str(e.name) + str(e.value) for e in cmd.workflow.waiting_events()}

        def finish() -> None:  # the timers that fired, audited with the command's other events
            after = {str(e.name) + str(e.value) for e in cmd.workflow.waiting_events()}
            fired[:] = sorted(before - after)
            if fired:
                cmd.audit("timers_fired", due=due.isoformat() if due else None, count=len(fired))

        cmd.finish = finish
        return None

    execute(session, clock, instance, None, act)
    return bool(fired) and instance.status != "incident"


def retry_incident(
    session: Session,
    clock: Clock,
    instance_id: int,
    actor_id: int | None,
    variables: dict[str, Any] | None = None,
) -> ProcessInstance:
    """Run the engine steps of an instance in incident again (after a fix). ``variables``, if
    given, are set first in the data of the steps about to run (an operator correcting the data a
    script failed on); that correction is audited and kept even if the retry fails again."""
    instance = lock_instance(session, instance_id)
    if instance.status != "incident":
        raise Conflict(
            Message("Instance %(key)s has no incident to retry.", key=instance.business_key)
        )
    session.add(
        AuditEvent(
            instance_id=instance.id,
            at=clock.now(),
            actor_id=actor_id,
            kind="incident_retried",
            detail={"error": instance.incident, "variables": variables or {}},
        )
    )

    def act(cmd: Command) -> None:
        # a waiting task inherits its parent's data when it becomes ready: correct both
        for task in cmd.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
            task.data.update(variables or {})
            if task.parent is not None and task.parent.state == TaskState.COMPLETED:
                task.parent.data.update(variables or {})
        return None

    execute(session, clock, instance, actor_id, act if variables else None)
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


# -- suspending an instance -------------------------------------------------------------------
SUSPENDED = "suspended"


def _when(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at else "-"


def suspended_by(session: Session, instance: ProcessInstance) -> Message:
    """Who suspended the instance: the administrator's name, or the operator (CLI)."""
    user = user_by_id(session, instance.suspended_by_id or 0)
    return user.label if user is not None else Message("the operator")


def suspended_refusal(session: Session, instance: ProcessInstance) -> Conflict:
    """The 409 every command on a suspended instance gets: who suspended it, when and why."""
    return Conflict(
        Message(
            "This process instance is suspended (%(key)s): %(who)s suspended it on %(when)s. "
            "Reason: %(reason)s. Nothing can be done on it until it is resumed.",
            key=instance.business_key,
            who=suspended_by(session, instance),
            when=_when(instance.suspended_at),
            reason=instance.suspend_reason or "-",
        )
    )


def suspend_instance(
    session: Session, clock: Clock, instance_id: int, actor_id: int | None, reason: str
) -> ProcessInstance:
    """Suspend a running instance (or one in incident): its timers do not fire (the worker's due
    query takes running and incident instances only; ``next_due_at`` is kept), its tasks cannot
    be claimed or completed, no retry runs. Audited (``instance_suspended``)."""
    instance = lock_instance(session, instance_id, suspended_ok=True)
    if instance.status == SUSPENDED:
        raise Conflict(
            Message(
                "%(key)s is already suspended (by %(who)s on %(when)s).",
                key=instance.business_key,
                who=suspended_by(session, instance),
                when=_when(instance.suspended_at),
            )
        )
    if instance.status == "completed":
        raise Conflict(
            Message("%(key)s is completed; there is nothing to suspend.", key=instance.business_key)
        )
    now = clock.now()
    before = instance.status
    instance.resume_status, instance.status = before, SUSPENDED
    instance.suspended_at, instance.suspended_by_id = now, actor_id
    instance.suspend_reason, instance.updated_at = reason, now
    audit.record(
        session,
        now,
        "instance_suspended",
        actor_id=actor_id,
        instance_id=instance.id,
        object_type="instance",
        object_ref=instance.business_key,
        before=before,
        after=SUSPENDED,
        reason=reason,
    )
    session.flush()
    return instance


def resume_instance(
    session: Session, clock: Clock, instance_id: int, actor_id: int | None, reason: str = ""
) -> ProcessInstance:
    """Resume a suspended instance: it returns to the status it had (running, or incident) and
    keeps its ``next_due_at``, so timers that fell due meanwhile fire at the worker's next sweep.
    Audited (``instance_resumed``, with who had suspended it and why)."""
    instance = lock_instance(session, instance_id, suspended_ok=True)
    if instance.status != SUSPENDED:
        raise Conflict(
            Message(
                "%(key)s is not suspended; there is nothing to resume.", key=instance.business_key
            )
        )
    now = clock.now()
    after = instance.resume_status or "running"
    audit.record(
        session,
        now,
        "instance_resumed",
        actor_id=actor_id,
        instance_id=instance.id,
        object_type="instance",
        object_ref=instance.business_key,
        before=SUSPENDED,
        after=after,
        reason=reason,
        suspended_at=instance.suspended_at.isoformat() if instance.suspended_at else None,
        suspended_by=instance.suspended_by_id,
        suspend_reason=instance.suspend_reason,
    )
    instance.status, instance.resume_status = after, None
    instance.suspended_at = instance.suspended_by_id = instance.suspend_reason = None
    instance.updated_at = now
    session.flush()
    return instance
