"""The sandbox that runs BPMN scripts, gateway conditions and timer expressions.

SpiffWorkflow evaluates with plain ``exec``/``eval``. Here everything is compiled with
RestrictedPython: no imports, no dunder or private attribute access, no ``open``/``eval``; the
globals are RestrictedPython's safe builtins plus the helpers below and nothing else.

Helpers a process may call (the whole list; documented in docs/processes.md):

* ``deadline(start, n)`` – ISO 8601 instant (+08:00) ending the n-th working day after ``start``
* ``now()`` – the injected clock's time, ISO 8601 (+08:00)
* ``notify(role, template, **payload)`` – queue a notification to the department bound to ``role``
* ``record_breach(role, kind, article, **evidence)`` – add an entry to the breach ledger (art. 23)
* ``issue_grant(basis)`` – issue the grant described by the task data (art. 12)
* ``perform(name, **args)`` – run a named domain action (engine.effects), e.g. publishing a
  catalog version
* ``forget(*names)`` – drop variables from the task data (e.g. earlier answers before a parallel
  review, so that branches merge only what they set)
* ``record(**facts)`` – set facts of the instance's summary (status shown in lists: decision,
  overdue, due dates); branches of a process share these, unlike task data

Effects (notifications, breaches, grants) are collected in :class:`Effects` and written by the
runtime in the same transaction as the new state, so they happen exactly once with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from RestrictedPython import (
    compile_restricted_eval,
    compile_restricted_exec,
    limited_builtins,
    safe_builtins,
    utility_builtins,
)
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.calendar import WorkingCalendar
from engine.clock import SHANGHAI, Clock


class ScriptRejected(Exception):
    """The sandbox refused to compile a script or expression."""


@dataclass
class Effects:
    """What scripts asked for during one command; written by the runtime on commit."""

    notifications: list[dict] = field(default_factory=list)
    breaches: list[dict] = field(default_factory=list)
    grants: list[dict] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    actions: list[dict] = field(default_factory=list)


def _builtins() -> dict:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    allowed.update(
        {
            k: v
            for k, v in utility_builtins.items()
            if k not in {"string", "random", "whrandom", "set", "frozenset"}
        }
    )
    for name in (
        "min",
        "max",
        "sum",
        "any",
        "all",
        "sorted",
        "enumerate",
        "dict",
        "list",
        "set",
        "frozenset",
        "reversed",
        "map",
        "filter",
    ):
        allowed[name] = (
            __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
        )
    for name in (
        "__import__",
        "open",
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "vars",
    ):
        allowed.pop(name, None)
    return allowed


_BUILTINS = _builtins()


def _inplace(op: str, x, y):
    ops = {
        "+=": lambda: x + y,
        "-=": lambda: x - y,
        "*=": lambda: x * y,
        "/=": lambda: x / y,
        "//=": lambda: x // y,
        "%=": lambda: x % y,
    }
    if op not in ops:
        raise ScriptRejected(f"operator {op} is not allowed in scripts")
    return ops[op]()


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A script environment whose code runs under RestrictedPython."""

    def __init__(self, helpers: dict) -> None:
        super().__init__(helpers)
        self.context: dict = {}  # the data of the script running now, for helpers

    def _globals(self, context: dict) -> dict:
        g = {
            "__builtins__": _BUILTINS,
            "_getattr_": safer_getattr,
            "_getitem_": default_guarded_getitem,
            "_getiter_": default_guarded_getiter,
            "_write_": full_write_guard,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_inplacevar_": _inplace,
        }
        g.update(self.globals)
        g.update(context)
        return g

    @staticmethod
    @lru_cache(maxsize=1024)
    def _compile(source: str, mode: str):
        result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(source)
        if result.errors:
            raise ScriptRejected("; ".join(result.errors))
        return result.code

    def evaluate(self, expression, context, external_context=None):
        return eval(
            self._compile(expression, "eval"),
            self._globals({**(external_context or {}), **context}),
        )  # noqa: S307 - restricted code

    def execute(self, script, context, external_context=None):
        clash = set(self.globals) & set(context)
        if clash:
            raise ValueError(f"task data overwrites helper(s): {sorted(clash)}")
        g = self._globals(external_context or {})
        local_vars = dict(context)
        self.context = local_vars
        exec(self._compile(script, "exec"), g, local_vars)  # noqa: S102 - restricted code
        for key, value in local_vars.items():
            if not callable(value) and not key.startswith("_"):
                context[key] = value
        for key in set(context) - set(local_vars):
            del context[key]
        return True


def make_script_engine(
    calendar: WorkingCalendar | Callable[[], WorkingCalendar], clock: Clock, effects: Effects
) -> PythonScriptEngine:
    """A script engine for one command; its helpers write into ``effects``. ``calendar`` may be a
    callable, so that commands which count no deadline never load it."""

    get_calendar = calendar if callable(calendar) else (lambda: calendar)

    def deadline(start, n):
        return get_calendar().deadline(start, int(n)).due_at.isoformat()

    def now():
        return clock.now().astimezone(SHANGHAI).isoformat()

    def notify(role, template, **payload):
        effects.notifications.append({"role": role, "template": template, "payload": payload})

    def record_breach(role, kind, article, **evidence):
        effects.breaches.append(
            {
                "role": role,
                "kind": kind,
                "article": article,
                "evidence": evidence,
                "data": dict(environment.context),
            }
        )

    def record(**facts):
        effects.facts.update(facts)

    def forget(*names):
        for name in names:
            environment.context.pop(name, None)

    def perform(name, **args):
        effects.actions.append({"name": name, "args": args, "data": dict(environment.context)})

    def issue_grant(basis):
        effects.grants.append({"basis": basis, "data": dict(environment.context)})

    helpers = {
        "deadline": deadline,
        "now": now,
        "notify": notify,
        "record_breach": record_breach,
        "issue_grant": issue_grant,
        "record": record,
        "perform": perform,
        "forget": forget,
    }
    environment = SandboxEnvironment(helpers)
    return PythonScriptEngine(environment=environment)


def iso_now(clock: Clock) -> str:
    return clock.now().astimezone(SHANGHAI).isoformat()


def as_instant(value: str | datetime) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
