"""The ports through which domain areas give the runtime their behaviour.

A domain area exports one :class:`Handlers` table (``engine/<area>/handlers.py``):

* ``actions`` — named domain actions a BPMN script asks for with ``perform(name, **args)``
  (publish a catalog version, file a dossier entry, …);
* ``effects`` — sandbox helpers of the area's own (``record_breach(role, …)``,
  ``issue_grant(basis)``): the script's call is collected and written by the handler;
* ``completion_checks`` — named checks a user task requires before it completes (task property
  ``completion_check``); a check raises :class:`~engine.errors.ValidationFailed` to refuse;
* ``signers`` — named kinds of signed decision (user-task property ``signs``): when such a task
  completes, the signer is called in the same transaction to sign the decision for the acting
  department (engine/trust, docs/trust.md);
* ``facts`` — the typed facts processes record with ``fact(kind, **values)``, which reports and
  dossiers read instead of diagram ids;
* ``key_prefixes`` — the business-key prefix of each of the area's processes (``GX`` …);
* ``fact_tallies`` — called with every fact a process records (``tally(ctx, fact)``), in the
  same transaction, to keep summaries of facts in step (e.g. the yearly figures);
* ``jobs`` — periodic jobs every worker tick runs (``job(session, clock)``);
* ``background`` — rounds the worker repeats in a thread of their own, beside the timer sweep
  (``round(session_factory, clock) -> work done``): work that waits on the outside world, such as
  sending e-mail, so that a slow server never holds up timers.

The composition root (:mod:`engine.app`) combines every area's table into the engine's one
table; the runtime reads it from the command's session and never imports a domain area. Every
handler runs inside the command's transaction, so what it writes happens exactly once with the
state change that asked for it; anything it raises becomes an incident of that instance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from engine.calendar import WorkingCalendar
from engine.clock import Clock
from engine.i18n import N_, Message

if TYPE_CHECKING:
    from engine.workflow.models import HumanTask, ProcessInstance

SESSION_KEY = "govshare.handlers"


class HandlerError(Exception):
    """A process asked for something the engine cannot do (unknown role, action, fact …)."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(str(message))


@dataclass
class StepContext:
    """What a handler may use while a command writes the effects a script asked for."""

    session: Session
    clock: Clock
    instance: ProcessInstance
    actor_id: int | None
    data: Mapping[str, Any]  # the task data when the script asked
    calendar: Callable[[], WorkingCalendar]
    audit: Callable[..., None]
    # the user tasks this command closed without their being completed (an interrupting event
    # or a terminate end cancelled them), so an action can say in the history why
    withdrawn: tuple[HumanTask, ...] = ()

    def department_of(self, role: str) -> int:
        """The department bound to ``role`` in this instance."""
        bindings = self.instance.bindings or {}
        if role not in bindings:
            raise HandlerError(
                Message(
                    "Role %(role)s is not bound in this instance (bound: %(bound)s).",
                    role=role,
                    bound=", ".join(sorted(bindings)) or "-",
                )
            )
        return int(bindings[role])


@dataclass
class CheckContext:
    """What a completion check sees: the task about to complete and its data."""

    session: Session
    clock: Clock
    task: HumanTask
    data: Mapping[str, Any]


@dataclass
class SignContext:
    """What a signer sees: the task just completed, the official who completed it and the
    submitted decision."""

    session: Session
    clock: Clock
    task: HumanTask
    actor_id: int
    data: Mapping[str, Any]


Signer = Callable[[SignContext], None]

Action = Callable[..., None]
"""``action(ctx: StepContext, **args) -> None``"""

CompletionCheck = Callable[[CheckContext], None]

FactTally = Callable[..., None]
"""``tally(ctx: StepContext, fact: ProcessFact) -> None``: keeps a summary of facts in step."""

Job = Callable[[Session, Clock], object]
"""A periodic job of the worker, e.g. starting the yearly evaluation in January."""

BackgroundRound = Callable[[sessionmaker[Session], Clock], int]
"""One round of a worker thread of its own: makes its own sessions and transactions, and returns
how much it did (0: nothing to do, the thread pauses for the worker's interval)."""


@dataclass(frozen=True)
class Effect:
    """A sandbox helper implemented by a domain area: ``write(ctx, *args, **kwargs)``.

    ``role_arg`` is the position of the argument that names a role (a lane); deploy checks a
    literal given there against the process's lanes."""

    write: Callable[..., None]
    role_arg: int | None = None


@dataclass(frozen=True)
class FactKind:
    """A typed fact a process records with ``fact(kind, **values)``: its required and optional
    fields, and the decisions it may carry. Reports read facts by kind, never by element id, task
    name or form field.

    Every kind also accepts ``role``: the lane whose bound department the fact is about. The
    runtime stores ``role``, ``decision``, ``reasons``, ``due`` and ``opened`` in columns of
    ``process_fact`` (see :mod:`engine.workflow.facts`) and the other fields as JSON."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()  # the values ``decision`` may take; empty: any

    def check(self, kind: str, values: Mapping[str, Any]) -> None:
        known = (*self.required, *self.optional, "role")
        missing = [f for f in self.required if f not in values]
        unknown = [f for f in values if f not in known]
        if missing or unknown:
            raise HandlerError(
                Message(
                    "Fact %(kind)s: missing %(missing)s; unknown %(unknown)s.",
                    kind=kind,
                    missing=", ".join(missing) or "-",
                    unknown=", ".join(unknown) or "-",
                )
            )
        if values.get("decision") is not None:  # None: known only when the script runs
            self.check_decision(kind, values["decision"])

    def check_decision(self, kind: str, decision: Any) -> None:
        """``decision`` must be one of the kind's decisions (any, if it names none)."""
        if self.decisions and decision not in self.decisions:
            raise HandlerError(
                Message(
                    "Fact %(kind)s: decision %(decision)s is not one of %(allowed)s.",
                    kind=kind,
                    decision=str(decision),
                    allowed=", ".join(self.decisions),
                )
            )


@dataclass(frozen=True)
class Handlers:
    """One table of handlers; :meth:`combine` merges the tables of every area."""

    actions: Mapping[str, Action] = field(default_factory=dict)
    # what each action did, in words, for the history officials read; None for an action that
    # records its own, more specific event (the history shows that one instead)
    action_labels: Mapping[str, Message | None] = field(default_factory=dict)
    effects: Mapping[str, Effect] = field(default_factory=dict)
    completion_checks: Mapping[str, CompletionCheck] = field(default_factory=dict)
    signers: Mapping[str, Signer] = field(default_factory=dict)
    facts: Mapping[str, FactKind] = field(default_factory=dict)
    key_prefixes: Mapping[str, str] = field(default_factory=dict)  # process id -> e.g. "GX"
    # called with every fact recorded, before it is added to the session
    fact_tallies: tuple[FactTally, ...] = ()
    jobs: tuple[Job, ...] = ()  # run by every worker tick, each in its own transaction
    background: tuple[BackgroundRound, ...] = ()  # repeated by the worker, each in its thread

    @staticmethod
    def combine(*tables: Handlers) -> Handlers:
        """Merge tables; the same name registered twice is a programming error."""
        merged: dict[str, dict[str, Any]] = {
            "actions": {},
            "action_labels": {},
            "effects": {},
            "completion_checks": {},
            "signers": {},
            "facts": {},
            "key_prefixes": {},
        }
        jobs: list[Job] = []
        tallies: list[FactTally] = []
        background: list[BackgroundRound] = []
        for table in tables:
            for kind, target in merged.items():
                for name, handler in getattr(table, kind).items():
                    if name in target:
                        raise ValueError(f"{kind} {name!r}: registered twice")
                    target[name] = handler
            jobs.extend(table.jobs)
            tallies.extend(table.fact_tallies)
            background.extend(table.background)
        return Handlers(
            **merged,
            fact_tallies=tuple(tallies),
            jobs=tuple(jobs),
            background=tuple(background),
        )

    def action_label(self, name: str) -> Message | None:
        """What the action did, in words (None: it records its own event)."""
        return self.action_labels.get(name, Message(N_("Step recorded")))

    def action(self, name: str) -> Action:
        if name not in self.actions:
            raise HandlerError(Message("Unknown action %(name)s.", name=name))
        return self.actions[name]

    def completion_check(self, name: str) -> CompletionCheck:
        if name not in self.completion_checks:
            raise HandlerError(Message("Unknown completion check %(name)s.", name=name))
        return self.completion_checks[name]

    def signer(self, kind: str) -> Signer:
        if kind not in self.signers:
            raise HandlerError(Message("Unknown kind of signed decision %(name)s.", name=kind))
        return self.signers[kind]

    def fact(self, kind: str) -> FactKind:
        if kind not in self.facts:
            raise HandlerError(Message("Unknown fact %(kind)s.", kind=kind))
        return self.facts[kind]


def bind(session: Session, handlers: Handlers) -> None:
    """Make ``session`` run commands with ``handlers`` (done by the engine's session factory)."""
    session.info[SESSION_KEY] = handlers


def handlers_of(session: Session) -> Handlers:
    """The handlers the engine bound to this session."""
    handlers = session.info.get(SESSION_KEY)
    if handlers is None:
        raise RuntimeError(
            "this session is not bound to an engine: make sessions with engine.app.Engine"
        )
    return handlers
