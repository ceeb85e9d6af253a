"""The sandbox that runs BPMN scripts, gateway conditions and timer expressions.

SpiffWorkflow evaluates with plain ``exec``/``eval``. Here everything is compiled with
RestrictedPython: no imports, no dunder or private attribute access, no ``open``/``eval``; the
globals are RestrictedPython's safe builtins plus the helpers below and nothing else.

Every evaluation is bounded: it may use ``GOVSHARE_SCRIPT_SECONDS`` (default 2) seconds of its
thread's CPU time (see :class:`Budget`; the checks are compiled into loops and functions, so
straight-line scripts pay nothing), and a single
operation may not build an integer above 65,536 bits or a sequence above a million elements
(``**``, ``*`` and ``<<`` are checked before they run; ``range`` is limited by RestrictedPython).
A script over its budget raises :class:`ScriptBudgetExceeded`, which the runtime turns into an
incident of that instance.

Helpers a process may call (the built-in ones; domain areas add their own effects, see
:mod:`engine.workflow.handlers`, and docs/processes.md lists them all):

* ``deadline(start, n)`` – ISO 8601 instant (+08:00) ending the n-th working day after ``start``
* ``now()`` – the injected clock's time, ISO 8601 (+08:00)
* ``notify(role, template, **payload)`` – queue a notification to the department bound to ``role``
* ``perform(name, **args)`` – run a named domain action, e.g. publishing a catalog version
* ``fact(kind, **values)`` – record a typed domain fact (a request answered, a coordination
  decided …) for reports, dossiers and dashboards; kinds are registered by the domain areas
  (see :mod:`engine.workflow.facts`)
* ``forget(*names)`` – drop variables from the task data (e.g. earlier answers before a parallel
  review, so that branches merge only what they set)
* ``record(**summary)`` – set values of the instance's summary (status shown in lists: decision,
  overdue, due dates); branches of a process share these, unlike task data. Reports count
  ``fact(...)`` rows, not the summary
* domain effects such as ``record_breach(role, kind, article, **evidence)`` (oversight) and
  ``issue_grant(basis)`` (sharing)

Calls with an effect are collected as :class:`Call` objects and written by the runtime in the
same transaction as the new state, so they happen exactly once with it.
"""

from __future__ import annotations

import ast
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from types import CodeType
from typing import TYPE_CHECKING, Any

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
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.calendar import WorkingCalendar
from engine.clock import SHANGHAI, Clock

if TYPE_CHECKING:
    from engine.workflow.handlers import Handlers

SCRIPT_FILENAME = "<string>"  # SpiffWorkflow finds error lines by this name
MAX_INT_BITS = 1 << 16
MAX_SEQUENCE = 1_000_000
BUILTIN_HELPERS = ("deadline", "now", "notify", "perform", "fact", "forget", "record")


class ScriptRejected(Exception):
    """The sandbox refused to compile a script or expression."""


class ScriptBudgetExceeded(Exception):
    """A script ran longer than its time budget or built a value above the size guard."""


def default_budget() -> float:
    return float(os.environ.get("GOVSHARE_SCRIPT_SECONDS", "2"))


@dataclass(frozen=True)
class Element:
    """The BPMN element a script or expression belongs to."""

    id: str
    name: str = ""

    @classmethod
    def of(cls, task: Any) -> Element:
        spec = task.task_spec
        return cls(
            getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", "") or ""
        )


@dataclass
class Call:
    """A helper call with an effect, written by the runtime when the command saves."""

    helper: str
    args: tuple
    kwargs: dict[str, Any]
    data: dict[str, Any]  # the task data when the script called
    element: Element | None


@dataclass
class Effects:
    """What scripts asked for during one command; written by the runtime on commit."""

    calls: list[Call] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    # deadline variables a script assigned from ``deadline(start, n)``: name -> (start, n, due),
    # recorded by the runtime in the ``deadline`` table (engine.workflow.calendar_notices)
    deadlines: dict[str, tuple[str, int, str]] = field(default_factory=dict)


def _tick_call() -> ast.Call:
    return ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[])


class _BudgetPolicy(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus the budget compiled in: ``**``, ``*`` and ``<<`` go
    through :func:`_binop`; every ``while`` iteration and every call of a function or lambda the
    script defines ticks the :class:`Budget` (``for`` loops and comprehensions tick through the
    guarded iterator). Straight-line scripts pay nothing."""

    GUARDED = (ast.Pow, ast.Mult, ast.LShift, ast.Add, ast.Mod)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        spec = node.format_spec
        if isinstance(spec, ast.JoinedStr) and any(
            isinstance(v, ast.Constant) and _wide_format(str(v.value)) for v in spec.values
        ):
            self.error(node, "a formatting width of a million or more is not allowed")
        return self.node_contents_visit(node)

    def visit_While(self, node: ast.While) -> ast.AST:
        node = self.node_contents_visit(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_tick_call()), node))
        return ast.fix_missing_locations(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        visited = super().visit_FunctionDef(node)
        assert isinstance(visited, ast.FunctionDef)
        visited.body.insert(0, ast.copy_location(ast.Expr(_tick_call()), visited))
        return ast.fix_missing_locations(visited)

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        visited = super().visit_Lambda(node)
        assert isinstance(visited, ast.Lambda)
        ticked = ast.Tuple(elts=[_tick_call(), visited.body], ctx=ast.Load())
        visited.body = ast.Subscript(value=ticked, slice=ast.Constant(1), ctx=ast.Load())
        return ast.fix_missing_locations(visited)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        if not isinstance(node.op, self.GUARDED):
            return node
        call = ast.Call(
            func=ast.Name("_binop_", ast.Load()),
            args=[ast.Constant(type(node.op).__name__), node.left, node.right],
            keywords=[],
        )
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _too_large(what: str) -> ScriptBudgetExceeded:
    return ScriptBudgetExceeded(f"{what} exceeds the size guard of scripts")


SEQUENCES = (str, bytes, list, tuple)
WIDE = re.compile(r"\d{7,}|\*")  # a width or precision of a million or more, or one given by *


def _wide_format(text: str) -> bool:
    """Would formatting with this template pad to a million characters (or to a width given as
    an argument)? Checked before ``%`` or ``str.format`` runs."""
    return bool(WIDE.search(re.sub(r"%%|\{\{|\}\}", "", text)))


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES) and len(a) + len(b) > MAX_SEQUENCE:
        raise _too_large("a joined sequence")
    return a + b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str) and _wide_format(a):
        raise _too_large("a formatting width")
    return a % b


def _pow(a: Any, b: Any) -> Any:
    ints = isinstance(a, int) and isinstance(b, int)
    if ints and b > 0 and abs(a) > 1 and b * abs(a).bit_length() > MAX_INT_BITS:
        raise _too_large(f"{a} ** {b}")
    return a**b


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and b + abs(a).bit_length() > MAX_INT_BITS:
        raise _too_large(f"{a} << {b}")
    return a << b


def _mult(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, SEQUENCES) and isinstance(n, int) and len(seq) * n > MAX_SEQUENCE:
            raise _too_large("a repeated sequence")
    ints = isinstance(a, int) and isinstance(b, int)
    if ints and abs(a).bit_length() + abs(b).bit_length() > MAX_INT_BITS:
        raise _too_large("a product")
    return a * b


GUARDED_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "Add": _add,
    "Mod": _mod,
    "Pow": _pow,
    "LShift": _lshift,
    "Mult": _mult,
}


def _binop(op: str, a: Any, b: Any) -> Any:
    """``a <op> b`` after checking that the result stays within the size guard."""
    return GUARDED_OPS[op](a, b)


class Budget:
    """The CPU time one evaluation may use: ``seconds`` of this thread's CPU time, helpers
    included (a helper called in a loop counts like the loop).

    CPU time of the thread, not the business Clock (a fake clock must not switch the guard off)
    and not elapsed time (a thread waiting for the interpreter lock or the database is not
    looping). Checked every ``EVERY`` ticks, so a tight loop pays a counter, not a system call."""

    EVERY = 64

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.limit = time.thread_time() + seconds
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % self.EVERY == 0 and time.thread_time() > self.limit:
            raise ScriptBudgetExceeded(f"the script ran longer than {self.seconds:g} s")

    def getiter(self, ob: Any) -> Iterator[Any]:
        """RestrictedPython's guarded iterator, ticking once per item."""
        for item in default_guarded_getiter(ob):
            self.tick()
            yield item


def _padded(method: Callable[..., str]) -> Callable[..., str]:
    def call(width: int, *args: Any) -> str:
        if isinstance(width, int) and width > MAX_SEQUENCE:
            raise _too_large("a padded string")
        return method(width, *args)

    return call


def _joiner(sep: str | bytes) -> Callable[[Any], Any]:
    def join(items: Any) -> Any:
        items = list(items)
        size = sum(len(i) for i in items if isinstance(i, SEQUENCES)) + len(sep) * len(items)
        if size > MAX_SEQUENCE:
            raise _too_large("a joined string")
        return sep.join(items)

    return join


def _replacer(text: str | bytes) -> Callable[..., Any]:
    def replace(old: Any, new: Any, count: int = -1) -> Any:
        hits = text.count(old) if old else len(text) + 1
        if count >= 0:
            hits = min(hits, count)
        if len(text) + hits * max(len(new) - len(old), 0) > MAX_SEQUENCE:
            raise _too_large("a replaced string")
        return text.replace(old, new, count)

    return replace


def _formatter(template: str) -> Callable[..., str]:
    def format_(*args: Any, **kwargs: Any) -> str:
        if _wide_format(template):
            raise _too_large("a formatting width")
        return template.format(*args, **kwargs)

    return format_


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """RestrictedPython's getattr, with the string methods that build huge values checked."""
    if isinstance(obj, str | bytes):
        if name in ("ljust", "rjust", "center", "zfill", "expandtabs"):
            return _padded(getattr(obj, name))
        if name == "join":
            return _joiner(obj)
        if name == "replace":
            return _replacer(obj)
        if name == "format" and isinstance(obj, str):
            return _formatter(obj)
    return safer_getattr(obj, name, *default)


def _builtins() -> dict:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    allowed.update(
        {
            k: v
            for k, v in utility_builtins.items()
            if k not in {"string", "random", "whrandom", "set", "frozenset", "math"}
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
        # exceptions that are not Exception: a script raising them would stop the worker
        "BaseException",
        "SystemExit",
        "KeyboardInterrupt",
        "GeneratorExit",
    ):
        allowed.pop(name, None)
    return allowed


def _guarded_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    return _binop("Pow", base, exp) if mod is None else pow(base, exp, mod)


_BUILTINS = {**_builtins(), "pow": _guarded_pow}


def helper_names(handlers: Handlers) -> tuple[str, ...]:
    """Every helper a BPMN script may call: the built-in ones and the domain areas' effects.

    The one list deploy checks scripts against (``engine.workflow.checks``) and the sandbox
    provides (:func:`make_script_engine`)."""
    return _helper_names(handlers.effects)


def _helper_names(effects: Iterable[str]) -> tuple[str, ...]:
    return (*BUILTIN_HELPERS, *effects)


def builtin_names() -> frozenset[str]:
    """The Python builtins the sandbox provides (``len``, ``min``, ``sorted`` …)."""
    return frozenset(name for name in _BUILTINS if not name.startswith("_"))


def _inplace(op: str, x: Any, y: Any) -> Any:
    ops = {
        "+=": lambda: _binop("Add", x, y),
        "-=": lambda: x - y,
        "*=": lambda: _binop("Mult", x, y),
        "/=": lambda: x / y,
        "//=": lambda: x // y,
        "%=": lambda: x % y,
    }
    if op not in ops:
        raise ScriptRejected(f"operator {op} is not allowed in scripts")
    return ops[op]()


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A script environment whose code runs under RestrictedPython."""

    def __init__(self, helpers: dict, budget: float) -> None:
        super().__init__(helpers)
        self.budget = budget
        self.context: dict = {}  # the data of the script running now, for helpers
        self.element: Element | None = None  # the element whose script runs now
        self.computed: dict[str, tuple[str, int]] = {}  # due -> (start, n) of this script
        self.assigned: dict[str, tuple[str, int, str]] = {}  # deadline variables it set

    def _globals(self, context: dict) -> dict:
        budget = Budget(self.budget)
        g = {
            "__builtins__": _BUILTINS,
            "_getattr_": _guarded_getattr,
            "_getitem_": default_guarded_getitem,
            "_getiter_": budget.getiter,
            "_tick_": budget.tick,
            "_write_": full_write_guard,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_inplacevar_": _inplace,
            "_binop_": _binop,
        }
        g.update(self.globals)
        g.update(context)
        return g

    @staticmethod
    @lru_cache(maxsize=1024)
    def _compile(source: str, mode: str) -> CodeType:
        compile_ = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compile_(source, SCRIPT_FILENAME, policy=_BudgetPolicy)
        if result.errors or result.code is None:
            raise ScriptRejected("; ".join(result.errors) or "does not compile")
        return result.code

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        code = self._compile(expression, "eval")
        return eval(code, self._globals({**(external_context or {}), **context}))  # noqa: S307

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        clash = set(self.globals) & set(context)
        if clash:
            raise ValueError(f"task data overwrites helper(s): {sorted(clash)}")
        g = self._globals(external_context or {})
        local_vars = dict(context)
        self.context = local_vars
        self.computed = {}
        code = self._compile(script, "exec")
        exec(code, g, local_vars)  # noqa: S102 - restricted code
        for key, value in local_vars.items():
            if not callable(value) and not key.startswith("_"):
                context[key] = value
                if isinstance(value, str) and value in self.computed:
                    self.assigned[key] = (*self.computed[value], value)
        for key in set(context) - set(local_vars):
            del context[key]
        return True


class SandboxScriptEngine(PythonScriptEngine):
    """Tells the environment which element's script or expression runs, for effects and
    incidents."""

    environment: SandboxEnvironment

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        self.environment.element = Element.of(task)
        return super().evaluate(task, expression, external_context)

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> Any:
        self.environment.element = Element.of(task)
        return super().execute(task, script, external_context)


def make_script_engine(
    calendar: Callable[[], WorkingCalendar],
    clock: Clock,
    effects: Effects,
    effect_helpers: Iterable[str] = (),
    budget: float | None = None,
) -> SandboxScriptEngine:
    """A script engine for one command; its helpers write into ``effects``. ``calendar`` is a
    callable, so that commands which count no deadline never load it. ``effect_helpers`` are the
    domain areas' effects (names of :attr:`Handlers.effects`), collected like ``notify``; the
    helpers are exactly :func:`helper_names`."""

    def collect(helper: str) -> Callable[..., None]:
        def call(*args: Any, **kwargs: Any) -> None:
            effects.calls.append(
                Call(helper, args, kwargs, dict(environment.context), environment.element)
            )

        call.__name__ = helper
        return call

    def deadline(start: str, n: int) -> str:
        due = calendar().deadline(start, int(n)).due_at.isoformat()
        environment.computed[due] = (str(start), int(n))
        return due

    def now() -> str:
        return clock.now().astimezone(SHANGHAI).isoformat()

    def record(**facts: Any) -> None:
        effects.facts.update(facts)

    def forget(*names: str) -> None:
        for name in names:
            environment.context.pop(name, None)

    immediate: dict[str, Callable[..., Any]] = {
        "deadline": deadline,
        "now": now,
        "record": record,
        "forget": forget,
    }
    # every other helper (notify, perform, fact, the effects) is collected for the runtime
    helpers = {name: immediate.get(name) or collect(name) for name in _helper_names(effect_helpers)}
    environment = SandboxEnvironment(helpers, default_budget() if budget is None else budget)
    environment.assigned = effects.deadlines
    return SandboxScriptEngine(environment=environment)


def iso_now(clock: Clock) -> str:
    return clock.now().astimezone(SHANGHAI).isoformat()
