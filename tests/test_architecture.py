"""The architecture, checked on the source (parsed, never imported): web/ and the CLI call engine
services only, and the engine's package arrows point one way (docs/architecture.md, "Services").

    foundation (db, errors, i18n, clock, audit, inputs, exports) <- directory, calendar <- workflow
        <- areas (catalog, sharing, quality, oversight) <- app, seed, cli <- web

Every failure names the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOUNDATION = {"db", "errors", "i18n", "clock", "audit", "inputs", "exports", "pdf_font", "trust.sm"}
# modules of another package that belong to the foundation (they import only the foundation):
# engine/trust/sm.py, the SM3 hash the audit chain (engine/audit.py) links its rows with
FOUNDATION_MODULES = {"engine.trust.sm": "trust.sm"}
LOWER = {"directory", "calendar", "rules"}
AREAS = {"catalog", "sharing", "quality", "oversight", "trust"}
RUNTIME_INTERNALS = {"engine.workflow.runtime", "engine.workflow.scripting"}
SESSION_METHODS = {
    "get",
    "scalar",
    "scalars",
    "execute",
    "add",
    "add_all",
    "delete",
    "merge",
    "query",
}
SESSION_NAMES = {"s", "session", "db_session"}  # names the CLI gives its sessions
FLASK_OBJECTS = {"app", "g", "session", "login_manager", "response"}  # web/ may set these
LAZY_MARK = "lazy import"  # a comment with this justifies an import inside a function

# Violations that another engineer's branch removes right now, as (file, function or imported
# module). Each entry must still match a violation (else delete it), so none outlives its fix.
PENDING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository
    line: int
    target: str  # the module imported, e.g. engine.catalog.models
    in_function: bool
    scope: str  # the enclosing top-level function, or "<module>"


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    rule: str
    subject: str  # the function (web/, CLI) or the module imported (arrows): PENDING's key

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def _targets(node: ast.Import | ast.ImportFrom, path: Path) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = _module_name(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if _is_module(sub) else base)
    return out


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _scope(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> tuple[str, bool]:
    """(the enclosing top-level function or "<module>", is the node inside a function?)"""
    name, inside = "<module>", False
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inside = True
            name = getattr(node, "name", name)
    return name, inside


def imports(path: Path) -> list[Import]:
    tree = _tree(path)
    parents = _parents(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            scope, inside = _scope(node, parents)
            out += [Import(_rel(path), node.lineno, t, inside, scope) for t in _targets(node, path)]
    return out


def _justified(path: Path, line: int) -> bool:
    """A comment on the import's line or the line above, or a module-level ``# lazy imports:``."""
    lines = path.read_text("utf-8").splitlines()
    near = " ".join(lines[max(0, line - 2) : line]).lower()
    whole = any(s.lower().startswith("# lazy imports:") for s in lines)
    return ("# " + LAZY_MARK in near) or whole


def _engine_files() -> list[Path]:
    return sorted((ROOT / "engine").rglob("*.py"))


def _unit(module: str) -> str | None:
    """The engine package (or top-level module) a module belongs to: engine.catalog.rules → catalog."""
    if module in FOUNDATION_MODULES:
        return FOUNDATION_MODULES[module]
    parts = module.split(".")
    return parts[1] if parts[0] == "engine" and len(parts) > 1 else None


def _pending(v: Violation) -> bool:
    return (v.file, v.subject) in PENDING


def _report(violations: list[Violation]) -> str:
    return "\n".join(str(v) for v in sorted(set(violations), key=lambda v: (v.file, v.line)))


# -- (a) web/ and the CLI call services only ------------------------------------------------------
def _edge_files() -> list[Path]:
    return sorted((ROOT / "web").glob("*.py")) + [ROOT / "engine" / "cli.py"]


def _import_violations(path: Path) -> list[Violation]:
    out = []
    web = path.parent.name == "web"
    for imp in imports(path):

        def add(rule: str, imp: Import = imp) -> None:
            out.append(Violation(imp.file, imp.line, rule, imp.scope))

        if imp.target.split(".")[0] == "sqlalchemy":
            add(f"imports {imp.target}: web/ and the CLI call engine services, never SQLAlchemy")
        elif imp.target == "engine.db" and imp.file != "web/__init__.py":
            add("imports engine.db: only web/__init__.py sets up the database (Base)")
        elif imp.target.split(".")[-1] == "models" and imp.target.startswith("engine."):
            add(f"imports {imp.target}: call a service of the area instead of using its models")
        elif web and imp.target in RUNTIME_INTERNALS:
            add(f"imports {imp.target}: runtime internals; use engine.workflow.history")
    return out


def _receiver(node: ast.expr) -> str:
    return ast.unparse(node)


def _is_db_session(node: ast.expr, flask_session: bool) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "session":
        return True
    if isinstance(node, ast.Name) and node.id in SESSION_NAMES:
        return not (node.id == "session" and flask_session)
    return False


def _call_violations(path: Path) -> list[Violation]:
    tree = _tree(path)
    parents = _parents(tree)
    flask_session = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "flask"
        and "session" in {a.name for a in n.names}
        for n in ast.walk(tree)
    )
    out = []
    for node in ast.walk(tree):
        rule = None
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("select", "setattr"):
                rule = f"calls {func.id}(): database access belongs in an engine service"
            elif isinstance(func, ast.Attribute) and func.attr == "query":
                rule = f"calls {_receiver(func)}(): database access belongs in an engine service"
            elif (
                isinstance(func, ast.Attribute)
                and func.attr in SESSION_METHODS
                and _is_db_session(func.value, flask_session)
            ):
                rule = f"calls {_receiver(func)}(): database access belongs in an engine service"
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Attribute) and _root(t) not in FLASK_OBJECTS:
                        rule = f"assigns {ast.unparse(t)}: changes of state belong in an engine service"
        if rule:
            out.append(Violation(_rel(path), node.lineno, rule, _scope(node, parents)[0]))
    return out


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def test_web_and_cli_call_services_only():
    violations = [
        v
        for path in _edge_files()
        for v in _import_violations(path) + _call_violations(path)
        if not _pending(v)
    ]
    assert not violations, "web/ and engine/cli.py call engine services only:\n" + _report(
        violations
    )


# -- (b) the package arrows -----------------------------------------------------------------------
def _arrow_violations() -> list[Violation]:
    out = []
    for path in _engine_files():
        unit = _unit(_module_name(path))
        for imp in imports(path):
            target = _unit(imp.target)
            if target is None or target == unit:
                continue

            def add(rule: str, imp: Import = imp) -> None:
                out.append(Violation(imp.file, imp.line, rule, imp.target))

            if unit in FOUNDATION and target not in FOUNDATION:
                add(f"imports {imp.target}: the foundation ({unit}) imports only the foundation")
            elif unit == "workflow" and target in AREAS:
                add(f"imports {imp.target}: engine/workflow imports no domain area")
            elif unit in LOWER and (target in AREAS or target == "workflow"):
                add(f"imports {imp.target}: {unit} imports neither workflow nor a domain area")
            elif unit in AREAS and target in AREAS and imp.target.endswith(".models"):
                add(
                    f"imports {imp.target}: an area never imports another area's models;"
                    f" call a service of {target}"
                )
    return out


def test_packages_import_in_one_direction():
    violations = [v for v in _arrow_violations() if not _pending(v)]
    assert not violations, "package arrows (docs/architecture.md):\n" + _report(violations)


def _package_edges() -> dict[tuple[str, str], Import]:
    """unit -> unit edges of module-level imports (TYPE_CHECKING ones too), one witness each."""
    edges: dict[tuple[str, str], Import] = {}
    for path in _engine_files():
        unit = _unit(_module_name(path))
        for imp in imports(path):
            target = _unit(imp.target)
            if imp.in_function or target is None or target == unit:
                continue
            if (imp.file, imp.target) in PENDING:
                continue
            edges.setdefault((unit, target), imp)
    return edges


def _cycles(edges: dict[tuple[str, str], Import]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    graph: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        graph[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_engine_packages():
    edges = _package_edges()
    problems = []
    for component in _cycles(edges):
        for (a, b), imp in sorted(edges.items()):
            if a in component and b in component:
                problems.append(
                    f"{imp.file}:{imp.line}: imports {imp.target}: engine.{a} -> engine.{b}"
                    f" is part of the cycle {' / '.join(component)}"
                )
    assert not problems, "import cycles between engine packages:\n" + "\n".join(problems)


def test_no_imports_of_engine_modules_inside_functions():
    problems = [
        Violation(
            imp.file,
            imp.line,
            f"imports {imp.target} inside {imp.scope}(): import at module level"
            f" (or justify it with a '# {LAZY_MARK}: why' comment)",
            imp.target,
        )
        for path in _engine_files()
        for imp in imports(path)
        if imp.in_function
        and imp.target.split(".")[0] == "engine"
        and not _justified(path, imp.line)
    ]
    assert not problems, "imports inside functions hide cycles:\n" + _report(problems)


def test_pending_exceptions_still_apply():
    """An entry of PENDING whose violation is gone must be deleted, so none lingers."""
    current = {
        (v.file, v.subject)
        for v in [
            *(v for p in _edge_files() for v in _import_violations(p) + _call_violations(p)),
            *_arrow_violations(),
        ]
    }
    stale = sorted(
        f"{file}: {subject}" for file, subject in PENDING if (file, subject) not in current
    )
    assert not stale, "remove from PENDING in tests/test_architecture.py:\n" + "\n".join(stale)


# The dataclasses services hand to web/ for its pages hold plain values, never rows (a row loads
# its relationships lazily, i.e. queries, from inside a template). By file: the classes checked.
PAGE_DATACLASSES = {
    "engine/workflow/history.py": {
        "InstanceView",
        "InstanceInfo",
        "TaskInfo",
        "FileInfo",
        "Suspension",
    },
    "engine/workflow/cockpit.py": {
        "ProcessRow",
        "VersionRow",
        "InstanceList",
        "InstanceRow",
        "InstancePage",
        "Event",
        "StatusChange",
    },
    "engine/workflow/tasks.py": {"TaskPage", "TaskForm", "TaskRef"},
    "engine/workflow/inbox.py": {"InboxPage", "Colleague", "DepartmentOption"},
    "engine/workflow/attachments.py": {"StoredFile"},
    "engine/workflow/incidents.py": {"RetryOutcome"},
    "engine/catalog/events.py": {"RegisteredEvent"},
    "engine/sharing/requests.py": {"RequestPage", "TaskRequestPage"},
    "engine/sharing/request_list.py": {"RequestList", "RequestRow", "DepartmentOption"},
    "engine/search.py": {"SearchResults", "Group", "Hit"},
    "engine/workflow/calendar_notices.py": {
        "NoticeReport",
        "DeadlineMove",
        "DayChange",
        "NoticeSummary",
        "YearSchedule",
        "DeadlineChangeView",
    },
}


def _model_names(tree: ast.Module) -> set[str]:
    """The names a module imports from a ``*.models`` module (the row types)."""
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".models")
        for alias in node.names
    }


def test_page_dataclasses_hold_no_rows():
    problems, seen = [], set()
    for file, classes in PAGE_DATACLASSES.items():
        tree = _tree(ROOT / file)
        rows = _model_names(tree)
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in classes):
            seen.add((file, cls.name))
            for field in (f for f in cls.body if isinstance(f, ast.AnnAssign)):
                names = {n.id for n in ast.walk(field.annotation) if isinstance(n, ast.Name)}
                if names & rows:
                    problems.append(
                        f"{file}:{field.lineno}: {cls.name}.{ast.unparse(field.target)} holds"
                        f" {', '.join(sorted(names & rows))}: hand web/ plain values"
                    )
    missing = sorted(
        f"{f}: {c}" for f, cs in PAGE_DATACLASSES.items() for c in cs if (f, c) not in seen
    )
    assert not missing, "no such dataclass (update PAGE_DATACLASSES):\n" + "\n".join(missing)
    assert not problems, "page dataclasses hold rows:\n" + "\n".join(problems)


def _module_path(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _all_model_classes() -> set[str]:
    names = set()
    for path in sorted((ROOT / "engine").rglob("models.py")):
        names |= {n.name for n in _tree(path).body if isinstance(n, ast.ClassDef)}
    names.add("AuditEvent")  # the foundation's table (engine/audit.py)
    return names


def _rows_in(annotation: ast.expr | None, classes: dict[str, ast.ClassDef], seen: set) -> set:
    """Model names an annotation mentions, directly or in the fields of the dataclasses it names."""
    found, models = set(), _all_model_classes()
    for node in ast.walk(annotation) if annotation is not None else ():
        name = node.id if isinstance(node, ast.Name) else None
        if name in models:
            found.add(name)
        elif name in classes and name not in seen:
            seen.add(name)
            for field in classes[name].body:
                if isinstance(field, ast.AnnAssign):
                    found |= _rows_in(field.annotation, classes, seen)
    return found


# -- (c) no service web/ or the CLI calls returns a row, anywhere ---------------------------------
# Every entry point, every engine module: what a view, an API endpoint or a CLI command gets
# back from the engine is plain values (directly or in the fields of the dataclasses returned). The identity object that
# Flask-Login keeps for the signed-in user (``directory.active_user`` / ``signin.sign_in``) and that
# services take as their ``user`` argument is the one deliberate exception.
IDENTITY = {("engine.directory", "active_user"), ("engine.directory.signin", "sign_in")}
IDENTITY |= {("engine.directory", "user_by_token"), ("engine.directory", "user_by_name")}
# a department system's token: its principal carries the (never stored) identity of its department
IDENTITY |= {("engine.directory.clients", "authenticate")}
IDENTITY |= {("engine.directory.sso", "sign_in")}  # single sign-on: the same identity object


def _engine_calls(path: Path) -> set[tuple[int, str, str]]:
    """(line, module, function) of every engine function an edge module uses."""
    modules: dict[str, str] = {}
    functions: dict[str, tuple[str, str]] = {}
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("engine"):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _is_module(dotted):
                    modules[alias.asname or alias.name] = dotted
                else:
                    functions[alias.asname or alias.name] = (node.module or "", alias.name)
    calls = set()  # called or handed on (``lookup(service.fn, ...)``)
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Name) and node.id in functions:
            calls.add((node.lineno, *functions[node.id]))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            calls.add((node.lineno, modules[node.value.id], node.attr))
    return calls


def test_no_service_hands_an_entry_point_a_row():
    classes = {
        node.name: node
        for path in _engine_files()
        for node in _tree(path).body
        if isinstance(node, ast.ClassDef) and not path.name == "models.py"
    }
    problems = []
    for path in _edge_files():
        for line, module, name in sorted(_engine_calls(path)):
            if (module, name) in IDENTITY or not _is_module(module):
                continue
            functions = {
                n.name: n
                for n in _tree(_module_path(module)).body
                if isinstance(n, ast.FunctionDef)
            }
            rows = _rows_in(functions[name].returns, classes, set()) if name in functions else set()
            if rows:
                problems.append(
                    f"{_rel(path)}:{line}: {module}.{name} hands back {', '.join(sorted(rows))}"
                )
    assert not problems, "services hand entry points rows:\n" + "\n".join(problems)
