"""Static checks of what a process will run: its scripts, conditions and timer expressions.

``govshare processes lint`` and deploy compile every script (script tasks, ``preScript`` and
``postScript``), every sequence-flow condition, every timer expression (``timeDate``,
``timeDuration``, ``timeCycle``) and every loop or conditional-event expression with the sandbox
compiler the runtime uses (:class:`engine.workflow.scripting.SandboxEnvironment`), so a syntax
error, dunder or private name is found before anything runs. Then they read its syntax tree:

* imports are refused;
* every called name must be a sandbox helper (:func:`engine.workflow.scripting.helper_names`), a
  builtin the sandbox provides, or a function the script defines itself;
* a literal role given to ``notify`` or to a domain effect with a role argument
  (:attr:`Effect.role_arg`) must be a lane of the process (or of a process that calls it, whose
  instances bind their lanes);
* a literal action given to ``perform`` must be registered (:attr:`Handlers.actions`), and so must
  a user task's ``completion_check`` property, and the kind of signed decision its ``signs``
  property names;
* a ``while`` loop whose test is always true and that never breaks, returns or raises is an
  infinite loop;
* nothing waits on a person for ever: a user task with a due date (property ``due``, naming the
  task-data variable that holds it) must have a boundary timer attached whose ``timeDate`` is that
  variable, and a user task without one is refused unless it carries the property
  ``no_deadline`` whose value says why no deadline applies (docs/deadlines.md).

What cannot be seen without running (a division by zero, a variable missing from the task data, a
loop that is merely slow) is left to the runtime: it becomes an incident of the instance, and the
script's time budget ends a loop that does not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.workflow.handlers import FactKind, HandlerError, Handlers
from engine.workflow.scripting import (
    SandboxEnvironment,
    ScriptRejected,
    builtin_names,
    helper_names,
)

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
# element holding code -> (what it is called in a problem, compile mode)
CODE_ELEMENTS = {
    f"{BPMN}script": ("script", "exec"),
    f"{SPIFF}preScript": ("preScript", "exec"),
    f"{SPIFF}postScript": ("postScript", "exec"),
    f"{BPMN}conditionExpression": ("condition", "eval"),
    f"{BPMN}timeDate": ("timeDate", "eval"),
    f"{BPMN}timeDuration": ("timeDuration", "eval"),
    f"{BPMN}timeCycle": ("timeCycle", "eval"),
    f"{BPMN}loopCondition": ("loopCondition", "eval"),
    f"{BPMN}loopCardinality": ("loopCardinality", "eval"),
    f"{BPMN}completionCondition": ("completionCondition", "eval"),
    f"{BPMN}condition": ("condition", "eval"),
    f"{SPIFF}payloadExpression": ("payloadExpression", "eval"),
}
# the event items a process's events may refer to, declared beside the process: their payload
# expressions run in the throwing task's data (an error end event's payload reaches the boundary)
EVENT_ITEMS = (f"{BPMN}error", f"{BPMN}escalation", f"{BPMN}signal", f"{BPMN}message")
# what a literal timer expression must parse as, as SpiffWorkflow parses its value at run time
TIMER_LITERALS = {
    "timeDate": datetime.fromisoformat,
    "timeDuration": TimerEventDefinition.parse_iso_duration,
    "timeCycle": TimerEventDefinition.parse_iso_recurring_interval,
}


@dataclass
class Problem:
    """Something wrong in a process file: the file, the element's id and what is wrong."""

    file: str
    element: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.problem}"


@dataclass(frozen=True)
class Code:
    """A script or expression of a BPMN element."""

    element: str
    kind: str  # script, preScript, condition, timeDate, …
    text: str | None
    mode: str  # "exec" (scripts) or "eval" (expressions)


@dataclass(frozen=True)
class Vocabulary:
    """What the code of one process may name."""

    helpers: frozenset[str]
    builtins: frozenset[str]
    roles: frozenset[str]
    role_args: Mapping[str, tuple[int, str | None]]  # helper -> (position, keyword) of its role
    actions: frozenset[str]
    completion_checks: frozenset[str]
    signed_kinds: frozenset[str]
    facts: Mapping[str, FactKind]

    @classmethod
    def of(cls, handlers: Handlers, roles: Iterable[str]) -> Vocabulary:
        role_args: dict[str, tuple[int, str | None]] = {"notify": (0, "role")}
        for name, effect in handlers.effects.items():
            if effect.role_arg is not None:
                role_args[name] = (effect.role_arg, None)
        return cls(
            frozenset(helper_names(handlers)),
            builtin_names(),
            frozenset(roles),
            role_args,
            frozenset(handlers.actions),
            frozenset(handlers.completion_checks),
            frozenset(handlers.signers),
            handlers.facts,
        )


def lanes_of(specs: Iterable[Any]) -> frozenset[str]:
    """The lanes (roles) of the tasks of process specs."""
    return frozenset(
        ts.lane for spec in specs for ts in spec.task_specs.values() if getattr(ts, "lane", None)
    )


def roles_by_process(
    trees: Mapping[str, tuple[Any, Mapping[str, Any]]],
) -> dict[str, frozenset[str]]:
    """The roles the code of each process may name, from ``{process id: (spec, subprocess
    specs)}``: the lanes of every process tree it runs in (its own, and its callers')."""
    roles: dict[str, set[str]] = {}
    for process_id, (spec, subs) in trees.items():
        lanes = lanes_of([spec, *subs.values()])
        for member in (process_id, *subs):
            roles.setdefault(member, set()).update(lanes)
    return {name: frozenset(lanes) for name, lanes in roles.items()}


def check_process(file: str, process: Any, vocabulary: Vocabulary) -> list[Problem]:
    """Every problem of the code and task properties of one ``bpmn:process`` element (lxml)."""
    problems = [
        Problem(file, code.element, text)
        for code in code_of(process)
        for text in check_code(code, vocabulary)
    ]
    for task in process.iter(f"{BPMN}userTask"):
        for prop in task.iter(f"{SPIFF}property"):
            check = prop.get("value")
            if prop.get("name") == "completion_check" and check not in vocabulary.completion_checks:
                problems.append(
                    Problem(
                        file,
                        task.get("id"),
                        f"unknown completion check '{check}' "
                        f"(known: {_listing(vocabulary.completion_checks)})",
                    )
                )
            if prop.get("name") == "signs" and check not in vocabulary.signed_kinds:
                problems.append(
                    Problem(
                        file,
                        task.get("id"),
                        f"unknown kind of signed decision '{check}' "
                        f"(known: {_listing(vocabulary.signed_kinds)})",
                    )
                )
    problems += deadline_problems(file, process)
    problems += subprocess_lane_problems(file, process)
    return problems


def subprocess_lane_problems(file: str, process: Any) -> list[Problem]:
    """An embedded subprocess placed in a lane gives that lane to every element inside it
    (SpiffWorkflow passes the subprocess's lane down), which would route tasks drawn in other
    lanes to the wrong department: a subprocess spanning lanes must itself be in none."""
    lane_of = {
        ref.text: lane.get("name")
        for lane in process.iter(f"{BPMN}lane")
        for ref in lane.iter(f"{BPMN}flowNodeRef")
    }
    problems = []
    for sub in process.iter(f"{BPMN}subProcess"):
        lane = lane_of.get(sub.get("id"))
        inner = {
            str(lane_of[el.get("id")])
            for el in sub.iter(f"{BPMN}userTask")
            if el.get("id") in lane_of
        }
        if lane is not None and inner - {lane}:
            problems.append(
                Problem(
                    file,
                    sub.get("id"),
                    f"subprocess is in lane '{lane}' but holds tasks of lanes "
                    f"{', '.join(sorted(inner - {lane}))}: its lane would override theirs; "
                    "remove the subprocess from every lane",
                )
            )
    return problems


def deadline_problems(file: str, process: Any) -> list[Problem]:
    """No open-ended waiting: every user task of ``process`` has a due date enforced by a
    boundary timer on the same variable, or says with ``no_deadline`` why it needs none."""
    timers: dict[str, set[str]] = {}
    for event in process.iter(f"{BPMN}boundaryEvent"):
        for when in event.iter(f"{BPMN}timeDate"):
            timers.setdefault(event.get("attachedToRef"), set()).add((when.text or "").strip())
    problems = []
    for task in process.iter(f"{BPMN}userTask"):
        props = {
            p.get("name"): (p.get("value") or "").strip() for p in task.iter(f"{SPIFF}property")
        }
        due, reason, task_id = props.get("due"), props.get("no_deadline"), task.get("id")
        if due and due not in timers.get(task_id, set()):
            problems.append(
                Problem(
                    file,
                    task_id,
                    f"due date '{due}' is not enforced: attach a boundary timer whose "
                    f"timeDate is {due}",
                )
            )
        elif due and reason is not None:
            problems.append(Problem(file, task_id, "has both a due date and no_deadline: keep one"))
        elif not due and not reason:
            problems.append(
                Problem(
                    file,
                    task_id,
                    "waits on a person without a due date: give it a 'due' property and a "
                    "boundary timer that enforces it, or say why none applies in 'no_deadline'",
                )
            )
    return problems


def code_of(process: Any) -> Iterator[Code]:
    """Every script and expression of a process element, with the element it belongs to, and
    the payload expressions of the event items declared beside it."""
    items = [] if process.getparent() is None else process.getparent().iterchildren(*EVENT_ITEMS)
    for el in (*process.iter(), *(e for item in items for e in item.iter())):
        if el.tag == f"{BPMN}scriptTask" and el.find(f"{BPMN}script") is None:
            yield Code(el.get("id"), "script", None, "exec")
        if el.tag in CODE_ELEMENTS:
            kind, mode = CODE_ELEMENTS[el.tag]
            yield Code(_owner(el), kind, el.text, mode)


def _owner(el: Any) -> str:
    """The id of the flow node or sequence flow that holds ``el`` (not of an event definition)."""
    for ancestor in el.iterancestors():
        local = ancestor.tag.rsplit("}", 1)[-1]
        if ancestor.get("id") and not local.endswith(("EventDefinition", "Characteristics")):
            return ancestor.get("id")
    return "-"


# the in-place operators the sandbox runs (scripting._inplace): +=, -=, *=, /=, //=, %=
IN_PLACE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)


def check_code(code: Code, vocabulary: Vocabulary) -> list[str]:
    """What is wrong with one script or expression (empty when nothing is)."""
    if not (code.text or "").strip():
        return [f"{code.kind} is empty"]
    try:
        SandboxEnvironment._compile(code.text, code.mode)
        tree = ast.parse(code.text or "", mode=code.mode)
    except (ScriptRejected, SyntaxError, ValueError) as exc:
        return [f"{code.kind}: {exc}"]
    problems = [
        f"{code.kind}, line {line}: {text}" for line, text in _tree_problems(tree, vocabulary)
    ]
    if code.kind in TIMER_LITERALS and not problems:
        problems += _timer_literal(code, tree)
    return problems


def _tree_problems(tree: ast.AST, vocabulary: Vocabulary) -> Iterator[tuple[int, str]]:
    defined = _defined_functions(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node.lineno, "imports are not allowed"
        elif isinstance(node, ast.AugAssign) and type(node.op) not in IN_PLACE_OPS:
            yield node.lineno, "this in-place operator is not allowed (use x = x <op> y)"
        elif isinstance(node, ast.While) and _infinite(node):
            yield node.lineno, "infinite loop: the condition is always true and nothing breaks it"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            problem = _call_problem(node.func.id, node, vocabulary, defined)
            if problem:
                yield node.lineno, problem


def _call_problem(
    name: str, call: ast.Call, vocabulary: Vocabulary, defined: set[str]
) -> str | None:
    if name not in vocabulary.helpers and name not in vocabulary.builtins and name not in defined:
        return f"unknown helper '{name}' (helpers: {_listing(vocabulary.helpers)})"
    if name in vocabulary.role_args:
        role = _literal_arg(call, *vocabulary.role_args[name])
        if isinstance(role, str) and role not in vocabulary.roles:
            return (
                f"unknown role '{role}' in {name}(): not a lane of the process "
                f"(lanes: {_listing(vocabulary.roles)})"
            )
    if name == "perform":
        action = _literal_arg(call, 0, "name")
        if isinstance(action, str) and action not in vocabulary.actions:
            return f"unknown action '{action}' (actions: {_listing(vocabulary.actions)})"
    if name == "fact":
        return _fact_problem(call, vocabulary.facts)
    return None


def _fact_problem(call: ast.Call, facts: Mapping[str, FactKind]) -> str | None:
    """``fact(kind, **values)``: a literal kind must be registered and, when every value is
    named in the call, have the fields its kind requires and no others."""
    kind = _literal_arg(call, 0, "kind")
    if not isinstance(kind, str):
        return None
    if kind not in facts:
        return f"unknown fact '{kind}' (facts: {_listing(facts)})"
    if any(k.arg is None for k in call.keywords):
        return None  # fact(kind, **values): the fields are known at run time only
    try:
        facts[kind].check(kind, {k.arg: None for k in call.keywords if k.arg and k.arg != "kind"})
    except HandlerError as exc:
        return str(exc)
    return None


def _literal_arg(call: ast.Call, position: int, keyword: str | None) -> Any:
    """The literal value of an argument, or None when it is not a literal (or not given)."""
    node: ast.AST | None = None
    if position < len(call.args) and not any(
        isinstance(a, ast.Starred) for a in call.args[: position + 1]
    ):
        node = call.args[position]
    elif keyword is not None:
        node = next((k.value for k in call.keywords if k.arg == keyword), None)
    return node.value if isinstance(node, ast.Constant) else None


def _defined_functions(tree: ast.AST) -> set[str]:
    """Names the code binds to functions it defines (``def f``, ``f = lambda …``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _infinite(loop: ast.While) -> bool:
    return _always_true(loop.test) and not _leaves(loop.body, nested=False)


def _always_true(test: ast.AST) -> bool:
    return _truth(test) is True


def _truth(test: ast.AST) -> bool | None:
    """The truth of a constant test (``True``, ``1``, ``not 0`` …); None if not constant."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _truth(test.operand)
        return None if inner is None else not inner
    try:
        return bool(ast.literal_eval(test))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _leaves(nodes: Iterable[ast.AST], nested: bool) -> bool:
    """Can control leave the loop whose body is ``nodes``: a ``break`` of this loop (not of a
    loop inside it), a ``return`` or a ``raise``? Functions defined inside do not count."""
    for node in nodes:
        if isinstance(node, ast.Break) and not nested:
            return True
        if isinstance(node, ast.Return | ast.Raise):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.For | ast.While | ast.AsyncFor):
            if _leaves(node.body, nested=True) or _leaves(node.orelse, nested):
                return True
            continue
        if _leaves(ast.iter_child_nodes(node), nested):
            return True
    return False


def _timer_literal(code: Code, tree: ast.AST) -> list[str]:
    """A timer given as a literal string must parse as SpiffWorkflow will parse it."""
    body = tree.body if isinstance(tree, ast.Expression) else None
    if not (isinstance(body, ast.Constant) and isinstance(body.value, str)):
        return []
    try:
        value = TIMER_LITERALS[code.kind](body.value)
    except Exception:  # noqa: BLE001 - each parser raises its own kind of error
        return [f"{code.kind}: '{body.value}' is not an ISO 8601 {code.kind} value"]
    if isinstance(value, datetime) and value.tzinfo is None:
        # the runtime and SpiffWorkflow would read a naive instant in different zones
        return [f"{code.kind}: '{body.value}' has no time zone offset (e.g. +08:00)"]
    return []


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "-"
