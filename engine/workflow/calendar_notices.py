"""Calendar notices (issue 14, item 7): an administrator enters a year's national notice or
Ningxia's regional holidays and make-up days, previews what moves, and applies it.

Applying a notice is one transaction: the days are entered, and every open deadline whose window
covers a changed day is counted again with the new calendar — the deadline variable in the
instance's serialized workflow state (task data and the fire time a timer already computed, so
the timer fires at the new time; reminders are deadline variables of their own), the open task's
``due_at``, the instance's summary and ``next_due_at``. Each move is kept (``deadline_change``,
shown on the task and case pages with the notice's reference), the officials holding the task
(its holder, else its department's queue) are told (``deadline_moved``), and it is audited.

Finding the deadlines is one indexed range query on ``deadline`` (``ix_deadline_window``: the
deadlines that start between the longest window before the first changed day and the last
changed day, and end on or after the first): the cost grows with the deadlines the notice
touches, not with the instances stored (bench/calendar.py measures it).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from engine import audit
from engine.calendar import (
    HOLIDAY,
    NATIONAL,
    REGIONAL,
    WORKDAY,
    CalendarDay,
    WorkingCalendar,
    holidays_version,
    load_calendar,
    package_official,
)
from engine.calendar.deadlines import due_day_of
from engine.calendar.models import (
    CalendarEntry,
    CalendarNotice,
    CalendarSchedule,
    DeadlineChange,
    DeadlineRecord,
)
from engine.clock import SHANGHAI, Clock, parse_instant
from engine.db import is_postgres
from engine.directory.admin import require_system_admin
from engine.directory.models import Department, User
from engine.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import day_problem, parse_json, text_problem
from engine.workflow.models import HumanTask, OutboxMessage, ProcessInstance

SCOPE_LABELS = {
    NATIONAL: N_("National (State Council notice)"),
    REGIONAL: N_("Ningxia regional (autonomous region notice)"),
}
FIELD_LABELS = {
    "scope": N_("Whose notice"),
    "reference": N_("Notice reference"),
    "holidays": N_("Days off"),
    "workdays": N_("Make-up working days"),
    "notice": N_("Notice file"),
}
MAX_RANGE_DAYS = 31
MAX_DAYS = 366  # days one notice may list (a year)
PAGE = 50
PREVIEW_ROWS = 200  # the preview page shows these; the report pages through all of them
_ADVISORY_LOCK = 0x63616C  # one notice applies at a time (PostgreSQL)
WAITING = 8  # SpiffWorkflow TaskState.WAITING in the serialized state


# -- input -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticeInput:
    scope: str
    reference: str
    days: tuple[CalendarDay, ...]  # holidays and make-up working days, in the order given


def _problem(name: str, message: Message) -> FieldProblem:
    return {"field": name, "message": message, "label": Message(FIELD_LABELS[name])}


_LINE = re.compile(r"^\s*(\S+)\s*(.*)$")


def _days_of(
    field_name: str, kind: str, items: list[Any], problems: list[FieldProblem]
) -> list[tuple[date, str]]:
    """Each item a ``{"day", "name"}`` or ``{"from", "to", "name"}`` object; the days it names."""
    out: list[tuple[date, str]] = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            problems.append(_problem(field_name, Message("entry %(n)s is not an object", n=n)))
            continue
        raw_name = item.get("name")
        name = raw_name.strip() if isinstance(raw_name, str) else ""
        when = [item.get("day")] if "day" in item else [item.get("from"), item.get("to")]
        if any(day_problem(w) for w in when):
            problems.append(
                _problem(
                    field_name,
                    Message(
                        "entry %(n)s: the date must be written YYYY-MM-DD (a range: YYYY-MM-DD/YYYY-MM-DD)",
                        n=n,
                    ),
                )
            )
            continue
        first, last = date.fromisoformat(str(when[0])), date.fromisoformat(str(when[-1]))
        if last < first or (last - first).days >= MAX_RANGE_DAYS:
            problems.append(
                _problem(
                    field_name,
                    Message(
                        "entry %(n)s: a range must end on or after its first day and span at most %(max)s days",
                        n=n,
                        max=MAX_RANGE_DAYS,
                    ),
                )
            )
            continue
        if text_problem(raw_name, max_length=100, required=True) or not name:
            problems.append(
                _problem(
                    field_name,
                    Message("entry %(n)s: the name is required (at most 100 characters)", n=n),
                )
            )
            continue
        day = first
        while day <= last:
            out.append((day, name))
            day += timedelta(days=1)
    return out


def parse_lines(value: str) -> list[dict[str, str]]:
    """The form's lines ``2027-02-11 春节`` or ``2027-02-11/2027-02-17 春节`` as entries."""
    items = []
    for line in (value or "").splitlines():
        if not line.strip():
            continue
        m = _LINE.match(line)
        assert m is not None
        when, name = m.group(1), m.group(2).strip()
        if "/" in when:
            first, _, last = when.partition("/")
            items.append({"from": first, "to": last, "name": name})
        else:
            items.append({"day": when, "name": name})
    return items


def notice_input(raw: Any) -> NoticeInput:
    """Check a notice (the JSON of ``govshare calendar import`` or the page's form, see
    docs/calendar.md); every wrong field is named, nothing is entered."""
    problems: list[FieldProblem] = []
    if not isinstance(raw, dict):
        raise ValidationFailed(
            Message("The notice is not valid: %(fields)s", fields="notice"),
            [_problem("notice", Message("must be a JSON object"))],
        )
    scope = raw.get("scope")
    if scope not in (NATIONAL, REGIONAL):
        problems.append(_problem("scope", Message("must be national or regional")))
    raw_reference = raw.get("reference")
    reference = raw_reference.strip() if isinstance(raw_reference, str) else ""
    if text_problem(raw_reference, max_length=300, required=True) or not reference:
        problems.append(_problem("reference", Message("is required (at most 300 characters)")))
    seen: dict[date, str] = {}
    days: list[CalendarDay] = []
    for field_name, kind in (("holidays", HOLIDAY), ("workdays", WORKDAY)):
        items = raw.get(field_name) or []
        if not isinstance(items, list):
            problems.append(_problem(field_name, Message("must be a list")))
            continue
        for day, name in _days_of(field_name, kind, items, problems):
            if day in seen:
                message = (
                    Message("%(day)s is listed twice", day=day.isoformat())
                    if seen[day] == kind
                    else Message(
                        "%(day)s is listed both as a day off and as a make-up working day",
                        day=day.isoformat(),
                    )
                )
                problems.append(_problem(field_name, message))
                continue
            seen[day] = kind
            days.append(CalendarDay(day, kind, str(scope) if scope else "", name, reference))
    if len(days) > MAX_DAYS:
        problems.append(
            _problem("holidays", Message("a notice lists at most %(max)s days", max=MAX_DAYS))
        )
    if not days and not any(p["field"] in ("holidays", "workdays") for p in problems):
        problems.append(_problem("holidays", Message("list at least one day off or working day")))
    if problems:
        raise ValidationFailed(
            Message(
                "The notice is not valid: %(fields)s",
                fields=", ".join(dict.fromkeys(p["field"] for p in problems)),
            ),
            problems,
        )
    return NoticeInput(str(scope), reference, tuple(days))


def notice_from_form(form: dict[str, str]) -> NoticeInput:
    return notice_input(
        {
            "scope": form.get("scope"),
            "reference": form.get("reference"),
            "holidays": parse_lines(form.get("holidays", "")),
            "workdays": parse_lines(form.get("workdays", "")),
        }
    )


def notice_from_json(content: str | bytes) -> NoticeInput:
    """A notice from JSON (UTF-8, not nested too deeply), checked by :func:`notice_input`."""
    return notice_input(parse_json(content, Message(FIELD_LABELS["notice"])))


# -- what a notice changes ---------------------------------------------------------------------
@dataclass(frozen=True)
class DayChange:
    day: date
    kind: str
    name: str
    before: str  # the day before the notice: "" (a plain working day) or why it was off/worked
    was_working: bool
    is_working: bool

    @property
    def changes(self) -> bool:
        return self.was_working != self.is_working

    @property
    def kind_label(self) -> Message:
        return Message("day off") if self.kind == HOLIDAY else Message("make-up working day")

    def to_dict(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "kind": self.kind,
            "name": self.name,
            "before": self.before,
            "was_working": self.was_working,
            "is_working": self.is_working,
        }


@dataclass(frozen=True)
class DeadlineMove:
    instance_id: int
    business_key: str
    task: Message  # the open task (its title) or what the deadline is for
    department: Message | str
    before: datetime
    after: datetime
    reason: str  # the notice's changed days within the deadline's window
    task_id: int | None = None

    def to_dict(self) -> dict:
        return {
            "business_key": self.business_key,
            "task": str(self.task),
            "department": str(self.department),
            "before": self.before.isoformat(),
            "after": self.after.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class NoticeReport:
    scope: str
    reference: str
    days: tuple[DayChange, ...]
    moves: tuple[DeadlineMove, ...]  # the preview's first rows, or a page of the stored report
    total: int  # deadlines moved (or that would move)
    applied: bool
    notice_id: int | None = None
    entered_at: datetime | None = None
    next_after: int | None = None  # the next page of a stored report

    @property
    def scope_label(self) -> Message:
        return Message(SCOPE_LABELS.get(self.scope, self.scope))

    @property
    def changed_days(self) -> list[DayChange]:
        return [d for d in self.days if d.changes]


@dataclass
class _Candidate:
    record: DeadlineRecord
    after: datetime
    reason: str


def _calendars(session: Session, notice: NoticeInput) -> tuple[WorkingCalendar, WorkingCalendar]:
    old = load_calendar(session)
    years = {d.day.year for d in notice.days}
    new = old.with_notice(notice.days, {(notice.scope, y): notice.reference for y in years})
    return old, new


def _day_changes(
    notice: NoticeInput, old: WorkingCalendar, new: WorkingCalendar
) -> list[DayChange]:
    out = []
    for d in sorted(notice.days, key=lambda d: d.day):
        was, why = old.classify(d.day)
        out.append(DayChange(d.day, d.kind, d.name, why, was, new.is_working_day(d.day)))
    return out


def _candidates(
    session: Session,
    clock: Clock,
    changed: list[DayChange],
    new: WorkingCalendar,
) -> list[_Candidate]:
    """Open deadlines (not yet due) whose window (start_day, due_day] covers a changed day and
    whose count changes; one range query on ``ix_deadline_window``."""
    if not changed:
        return []
    first, last = changed[0].day, changed[-1].day
    longest = session.scalar(select(func.max(DeadlineRecord.working_days)))  # ix_deadline_days
    if longest is None:
        return []
    # n working days span at most 2n + 31 calendar days (weekends and the longest holidays)
    earliest = first - timedelta(days=2 * longest + MAX_RANGE_DAYS)
    rows = session.scalars(
        select(DeadlineRecord)
        .where(
            DeadlineRecord.start_day >= earliest,
            DeadlineRecord.start_day < last,
            DeadlineRecord.due_day >= first,
            DeadlineRecord.due_at > clock.now(),
        )
        .order_by(DeadlineRecord.instance_id, DeadlineRecord.id)
    )
    out = []
    for row in rows:
        inside = [c for c in changed if row.start_day < c.day <= row.due_day]
        if not inside:
            continue
        after = new.deadline(row.start_at, row.working_days).due_at
        if after == row.due_at:
            continue
        reason = "、".join(f"{c.day.isoformat()} {c.name}" for c in inside)
        out.append(_Candidate(row, after, reason[:500]))
    return out


def _what(session: Session, instance_ids: list[int]) -> dict[int, list[HumanTask]]:
    """The open tasks of the instances touched (to name the deadline and tell its holders)."""
    tasks: dict[int, list[HumanTask]] = {}
    for i in range(0, len(instance_ids), 500):
        for row in session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id.in_(instance_ids[i : i + 500]), HumanTask.state == "open")
            .order_by(HumanTask.id)
        ):
            tasks.setdefault(row.instance_id, []).append(row)
    return tasks


def _due_task(
    instance: ProcessInstance, tasks: list[HumanTask], variable: str, before: datetime
) -> HumanTask | None:
    """The open task whose due date is this deadline variable (the process's task_meta)."""
    meta = instance.definition.task_meta or {}
    for task in tasks:
        if (meta.get(task.task_name) or {}).get("due") == variable and task.due_at == before:
            return task
    return None


def _label(variable: str, task: HumanTask | None, tasks: list[HumanTask]) -> Message:
    if task is not None:
        return Label(task.title, task.title_en)
    holder = tasks[0] if tasks else None
    if "reminder" in variable:
        return (
            Message("Reminder before: %(task)s", task=Label(holder.title, holder.title_en))
            if holder
            else Message("Reminder")
        )
    return (
        Message("Timer while waiting for: %(task)s", task=Label(holder.title, holder.title_en))
        if holder
        else Message("Timer of the procedure")
    )


def _waiting_timers(state: bytes) -> set[datetime]:
    """The fire times of the timers an instance waits on (from its stored state)."""
    dct = json.loads(zlib.decompress(state))
    found: set[datetime] = set()
    for wf in (dct, *(dct.get("subprocesses") or {}).values()):
        for task in (wf.get("tasks") or {}).values():
            internal = task.get("internal_data") or {}
            value = internal.get("event_value")
            if task.get("state") == WAITING and isinstance(value, str):
                if not internal.get("event_fired"):
                    try:
                        found.add(parse_instant(value))
                    except ValueError:
                        pass
    return found


def _moves(
    session: Session, candidates: list[_Candidate]
) -> list[tuple[_Candidate, DeadlineMove, HumanTask | None]]:
    """The candidates that are open — an open task's deadline or the time of a timer the
    instance waits on — with what the report shows of each (a variable of a step that has ended
    keeps its value and is not reported)."""
    ids = sorted({c.record.instance_id for c in candidates})
    instances: dict[int, ProcessInstance] = {}
    waiting: dict[int, set[datetime]] = {}
    for i in range(0, len(ids), 500):
        for inst in session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.id.in_(ids[i : i + 500]))
            .options(undefer(ProcessInstance.state))
        ):
            instances[inst.id] = inst
            waiting[inst.id] = _waiting_timers(inst.state)
    tasks = _what(session, ids)
    departments = {
        d.id: d
        for d in session.scalars(
            select(Department).where(
                Department.id.in_({t.department_id for ts in tasks.values() for t in ts})
            )
        )
    }
    out = []
    for c in candidates:
        inst = instances[c.record.instance_id]
        open_tasks = tasks.get(inst.id, [])
        task = _due_task(inst, open_tasks, c.record.variable, c.record.due_at)
        if task is None and c.record.due_at not in waiting[inst.id]:
            continue  # nothing waits on it any more
        shown = task or (open_tasks[0] if open_tasks else None)
        department: Message | str = (
            departments[shown.department_id].label if shown is not None else "-"
        )
        move = DeadlineMove(
            inst.id,
            inst.business_key,
            _label(c.record.variable, task, open_tasks),
            department,
            c.record.due_at,
            c.after,
            c.reason,
            task.id if task is not None else None,
        )
        out.append((c, move, task))
    return out


def preview_notice(
    session: Session, clock: Clock, notice: NoticeInput, actor: User | None
) -> NoticeReport:
    """What applying ``notice`` would do: the days it changes and every open deadline that would
    move (before → after, why). Writes nothing."""
    require_system_admin(actor)
    _refuse_duplicate(session, notice)
    old, new = _calendars(session, notice)
    days = _day_changes(notice, old, new)
    candidates = _candidates(session, clock, [d for d in days if d.changes], new)
    moves = [m for _, m, _ in _moves(session, candidates)]
    return NoticeReport(
        notice.scope, notice.reference, tuple(days), tuple(moves[:PREVIEW_ROWS]), len(moves), False
    )


def _refuse_duplicate(session: Session, notice: NoticeInput) -> None:
    if session.scalar(
        select(CalendarNotice.id).where(
            CalendarNotice.scope == notice.scope, CalendarNotice.reference == notice.reference
        )
    ):
        raise Conflict(
            Message(
                "The notice %(reference)s has been entered already; nothing was changed.",
                reference=notice.reference,
            )
        )


# -- applying ----------------------------------------------------------------------------------
def apply_notice(
    session: Session, clock: Clock, notice: NoticeInput, actor: User | None
) -> NoticeReport:
    """Enter ``notice`` and move every open deadline it changes, in the caller's transaction.

    Notices apply one at a time (an advisory lock on PostgreSQL; SQLite serializes writers): the
    same notice entered twice at once is applied once, the other is told it exists already."""
    require_system_admin(actor)
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
    _refuse_duplicate(session, notice)
    now = clock.now()
    actor_id = actor.id if actor is not None else None
    old, new = _calendars(session, notice)
    days = _day_changes(notice, old, new)
    candidates = _candidates(session, clock, [d for d in days if d.changes], new)
    moves = _moves(session, candidates)
    row = CalendarNotice(
        scope=notice.scope,
        reference=notice.reference,
        days=[d.to_dict() for d in days],
        moved=len(moves),
        entered_at=now,
        actor_id=actor_id,
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            Message(
                "The notice %(reference)s has been entered already; nothing was changed.",
                reference=notice.reference,
            )
        ) from exc
    _enter_days(session, notice, now, actor_id)
    moved = _recompute(session, clock, row, moves, actor_id)
    audit.record(
        session,
        now,
        "calendar_notice_applied",
        actor_id=actor_id,
        object_type="calendar_notice",
        object_ref=str(row.id),
        after={"scope": notice.scope, "days": [d.to_dict() for d in days]},
        reference=notice.reference,
        moved=moved,
    )
    session.flush()
    return notice_report(session, row.id, actor)


def _enter_days(session: Session, notice: NoticeInput, now: datetime, actor_id: int | None) -> None:
    existing = {
        e.day: e
        for e in session.scalars(
            select(CalendarEntry).where(CalendarEntry.day.in_([d.day for d in notice.days]))
        )
    }
    for d in notice.days:
        entry = existing.get(d.day)
        before = None if entry is None else {"kind": entry.kind, "scope": entry.scope}
        if entry is None:
            entry = CalendarEntry(day=d.day)
            session.add(entry)
        entry.kind, entry.scope, entry.name = d.kind, notice.scope, d.name
        entry.reference, entry.entered_at = notice.reference, now
        audit.record(
            session,
            now,
            "calendar_day_entered",
            actor_id=actor_id,
            object_type="calendar_day",
            object_ref=d.day.isoformat(),
            before=before,
            after={"kind": d.kind, "scope": notice.scope, "name": d.name},
            reference=notice.reference,
        )
    for year in sorted({d.day.year for d in notice.days}):
        scheduled = session.scalar(
            select(CalendarSchedule).where(
                CalendarSchedule.scope == notice.scope, CalendarSchedule.year == year
            )
        )
        if scheduled is None:
            session.add(
                CalendarSchedule(
                    scope=notice.scope, year=year, reference=notice.reference, entered_at=now
                )
            )


def _same(value: Any, instant: datetime) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return parse_instant(value) == instant
    except ValueError:
        return False


def rewrite_state(state: bytes, changes: dict[str, tuple[datetime, str]]) -> tuple[bytes, Any]:
    """The serialized workflow state with each deadline variable moved: in every task's data
    (stored as the root's data and each task's delta from its parent; a task not reached yet
    inherits it) and in the fire time a waiting timer computed from it
    (``internal_data.event_value``). Returns the new state and the earliest pending timer.

    Works on the stored JSON (engine.workflow.runtime.dump_state) without rebuilding the
    workflow, so a thousand instances move in seconds."""
    dct = json.loads(zlib.decompress(state))
    befores = list(changes.values())

    def fix(data: dict) -> None:
        for variable, (before, after) in changes.items():
            if _same(data.get(variable), before):
                data[variable] = after

    pending: list[datetime] = []

    def walk(wf: dict) -> None:
        fix(wf.get("data") or {})
        for task in (wf.get("tasks") or {}).values():
            fix(task.get("data") or {})  # the root task's data; the others store a delta
            fix((task.get("delta") or {}).get("updates") or {})
            internal = task.get("internal_data") or {}
            value = internal.get("event_value")
            for before, after in befores:
                if _same(value, before):
                    internal["event_value"] = value = after
            if task.get("state") == WAITING and isinstance(value, str):
                if not internal.get("event_fired"):
                    try:
                        pending.append(parse_instant(value))
                    except ValueError:
                        pass

    walk(dct)
    for sub in (dct.get("subprocesses") or {}).values():
        walk(sub)
    blob = zlib.compress(json.dumps(dct, separators=(",", ":")).encode(), 6)
    return blob, (min(pending) if pending else None)


def _recompute(
    session: Session,
    clock: Clock,
    notice: CalendarNotice,
    moves: list[tuple[_Candidate, DeadlineMove, HumanTask | None]],
    actor_id: int | None,
) -> int:
    now = clock.now()
    by_instance: dict[int, list[tuple[_Candidate, DeadlineMove, HumanTask | None]]] = {}
    for item in moves:
        by_instance.setdefault(item[0].record.instance_id, []).append(item)
    ids = sorted(by_instance)
    for i in range(0, len(ids), 500):
        stmt = (
            select(ProcessInstance)
            .where(ProcessInstance.id.in_(ids[i : i + 500]))
            .options(undefer(ProcessInstance.state))
            .order_by(ProcessInstance.id)
            .execution_options(populate_existing=True)
        )
        if is_postgres(session):
            stmt = stmt.with_for_update(of=ProcessInstance)
        for inst in session.scalars(stmt):
            _move_instance(session, now, notice, inst, by_instance[inst.id], actor_id)
    return len(moves)


def _move_instance(
    session: Session,
    now: datetime,
    notice: CalendarNotice,
    inst: ProcessInstance,
    items: list[tuple[_Candidate, DeadlineMove, HumanTask | None]],
    actor_id: int | None,
) -> None:
    changes = {
        c.record.variable: (c.record.due_at, c.after.astimezone(SHANGHAI).isoformat())
        for c, _, _ in items
    }
    inst.state, pending = rewrite_state(inst.state, changes)
    if inst.status == "running":
        inst.next_due_at = pending
    summary = dict(inst.summary or {})
    for variable, (before, after) in changes.items():
        if _same(summary.get(variable), before):
            summary[variable] = after
    inst.summary = summary
    inst.updated_at = now
    for c, move, task in items:
        c.record.due_at, c.record.due_day = c.after, due_day_of(c.after)
        if task is not None:
            task.due_at = task.due_sort = c.after
            session.add(
                OutboxMessage(
                    instance_id=inst.id,
                    department_id=task.department_id,
                    template="deadline_moved",
                    payload={
                        "business_key": inst.business_key,
                        "task_id": task.id,
                        "before": move.before.isoformat(),
                        "due": c.after.isoformat(),
                        "reason": f"{notice.reference}：{c.reason}",
                    },
                    created_at=now,
                )
            )
        session.add(
            DeadlineChange(
                notice_id=notice.id,
                instance_id=inst.id,
                task_id=move.task_id,
                variable=c.record.variable,
                before=move.before,
                after=c.after,
                reason=c.reason,
                changed_at=now,
            )
        )
    audit.record(
        session,
        now,
        "deadlines_moved",
        actor_id=actor_id,
        instance_id=inst.id,
        object_type="calendar_notice",
        object_ref=str(notice.id),
        before={v: b.isoformat() for v, (b, _) in changes.items()},
        after={v: a for v, (_, a) in changes.items()},
        reference=notice.reference,
    )


# -- reading -----------------------------------------------------------------------------------
def _change_rows(session: Session, rows: list[DeadlineChange]) -> list[DeadlineMove]:
    instances = {
        i.id: i
        for i in session.scalars(
            select(ProcessInstance).where(ProcessInstance.id.in_({r.instance_id for r in rows}))
        )
    }
    tasks = {
        t.id: t
        for t in session.scalars(
            select(HumanTask).where(HumanTask.id.in_({r.task_id for r in rows if r.task_id}))
        )
    }
    open_tasks = _what(session, sorted(instances))
    departments = {
        d.id: d
        for d in session.scalars(
            select(Department).where(
                Department.id.in_(
                    {t.department_id for t in tasks.values()}
                    | {t.department_id for ts in open_tasks.values() for t in ts}
                )
            )
        )
    }
    out = []
    for r in rows:
        task = tasks.get(r.task_id) if r.task_id else None
        others = open_tasks.get(r.instance_id, [])
        shown = task or (others[0] if others else None)
        out.append(
            DeadlineMove(
                r.instance_id,
                instances[r.instance_id].business_key,
                Label(task.title, task.title_en) if task else _label(r.variable, None, others),
                departments[shown.department_id].label if shown else "-",
                r.before,
                r.after,
                r.reason,
                r.task_id,
            )
        )
    return out


def notice_report(
    session: Session, notice_id: int, actor: User | None, after: int | None = None
) -> NoticeReport:
    """A stored notice with a page of the deadlines it moved (by id from the cursor ``after``)."""
    require_system_admin(actor)
    notice = session.get(CalendarNotice, notice_id)
    if notice is None:
        raise NotFound(Message("No calendar notice %(id)s.", id=notice_id))
    stmt = select(DeadlineChange).where(DeadlineChange.notice_id == notice_id)
    if after:
        stmt = stmt.where(DeadlineChange.id > after)
    rows = list(session.scalars(stmt.order_by(DeadlineChange.id).limit(PAGE + 1)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    days = tuple(
        DayChange(
            date.fromisoformat(d["day"]),
            d["kind"],
            d["name"],
            d["before"],
            d["was_working"],
            d["is_working"],
        )
        for d in notice.days
    )
    return NoticeReport(
        notice.scope,
        notice.reference,
        days,
        tuple(_change_rows(session, rows)),
        notice.moved,
        True,
        notice.id,
        notice.entered_at,
        rows[-1].id if more else None,
    )


@dataclass(frozen=True)
class NoticeSummary:
    id: int
    scope: str
    reference: str
    days: int
    moved: int
    entered_at: datetime

    @property
    def scope_label(self) -> Message:
        return Message(SCOPE_LABELS.get(self.scope, self.scope))


def recent_notices(session: Session, actor: User | None, limit: int = 20) -> list[NoticeSummary]:
    require_system_admin(actor)
    return [
        NoticeSummary(n.id, n.scope, n.reference, len(n.days), n.moved, n.entered_at)
        for n in session.scalars(
            select(CalendarNotice).order_by(CalendarNotice.id.desc()).limit(limit)
        )
    ]


@dataclass(frozen=True)
class YearSchedule:
    year: int
    national_source: str  # the administrator's notice reference; "" when from the package
    national_official: bool
    package_version: str  # of the holidays package the national days come from otherwise
    regional_source: str  # shipped data's or the administrator's notice reference; "" missing
    days: tuple[CalendarDay, ...]  # the year's holidays and make-up days, every source


def calendar_years(
    session: Session, clock: Clock, actor: User | None, years: Iterable[int] | None = None
) -> list[YearSchedule]:
    """Each year (by default last year to next year, and every year an administrator entered)
    with where its national schedule and Ningxia's regional holidays come from."""
    require_system_admin(actor)
    calendar = load_calendar(session)
    this = clock.now().astimezone(SHANGHAI).year
    wanted = set(years or ()) or {this - 1, this, this + 1}
    if years is None:
        wanted |= set(session.scalars(select(func.distinct(CalendarSchedule.year))))
    schedules = {(s.scope, s.year): s.reference for s in session.scalars(select(CalendarSchedule))}
    out = []
    for year in sorted(wanted):
        listing = tuple(calendar.year_listing(year))
        entered = schedules.get((NATIONAL, year))
        official = entered is not None or package_official(year)
        national = entered or ""
        regional = schedules.get((REGIONAL, year)) or (
            next((d.source for d in listing if d.scope == REGIONAL), "")
            if calendar.has_regional_schedule(year)
            else ""
        )
        out.append(YearSchedule(year, national, official, holidays_version(), regional, listing))
    return out


@dataclass(frozen=True)
class DeadlineChangeView:
    task_id: int | None
    before: datetime
    after: datetime
    reference: str
    reason: str
    at: datetime


def deadline_changes(session: Session, instance_id: int) -> list[DeadlineChangeView]:
    """The deadline moves of an instance (newest first) for its task and case pages."""
    rows = session.execute(
        select(DeadlineChange, CalendarNotice.reference)
        .join(CalendarNotice, CalendarNotice.id == DeadlineChange.notice_id)
        .where(DeadlineChange.instance_id == instance_id)
        .order_by(DeadlineChange.id.desc())
        .limit(50)
    ).all()
    return [
        DeadlineChangeView(c.task_id, c.before, c.after, reference, c.reason, c.changed_at)
        for c, reference in rows
    ]
