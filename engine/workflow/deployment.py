"""Repository service: lint and deploy ``processes/``, versioned by content hash; activation.

A process's version hash covers its BPMN file, the forms its user tasks name and, recursively, the
files of the processes it calls. Deploying unchanged content is a no-op; changed content becomes
version n+1 and, unless deployed with ``activate=False``, the version new instances start on.
Content identical to an older, inactive version creates nothing and says so: that version is
activated with :func:`activate_version` (which also rolls back). Running instances always keep the version
they started on. The serialized spec is stored once per version (``process_definition.spec_json``),
never inside instance state.

Deployment is all or nothing: every file is parsed (with XSD validation), linted (forms, statute,
lanes, diagram shapes) and its scripts, conditions and timer expressions are compiled and checked
against the engine's handlers (:mod:`engine.workflow.checks`); a single problem anywhere aborts it
with every problem listed (file, element id, what is wrong).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, refcache
from engine.clock import Clock
from engine.errors import Conflict, DeploymentError, NotFound
from engine.i18n import Message
from engine.workflow.checks import Problem, Vocabulary, check_process, roles_by_process
from engine.workflow.forms import label_problems
from engine.workflow.handlers import Handlers, handlers_of
from engine.workflow.models import ProcessDefinition, ProcessInstance
from engine.workflow.roles import KNOWN_ROLES

# the version in force is looked up by every start: cached per process (engine.refcache)
refcache.watch("definitions", ProcessDefinition)

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def default_processes_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "processes"


@dataclass
class ParsedProcess:
    process_id: str
    name: str
    source_file: str
    bpmn_xml: str
    spec_json: str
    forms: dict
    task_meta: dict
    content_hash: str


def _user_task_meta(
    spec: Any, file: str, forms_dir: Path, forms: dict, problems: list[Problem]
) -> dict:
    meta = {}
    for name, task_spec in spec.task_specs.items():
        if not isinstance(task_spec, UserTaskMixin):
            continue
        props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
        form_file = props.get("formJsonSchemaFilename")
        if not task_spec.lane:
            problems.append(Problem(file, name, "user task is not in a lane (lanes are roles)"))
        elif task_spec.lane not in KNOWN_ROLES:
            problems.append(
                Problem(
                    file,
                    name,
                    f"lane '{task_spec.lane}' is not a known role ({', '.join(sorted(KNOWN_ROLES))})",
                )
            )
        if not props.get("statute"):
            problems.append(
                Problem(file, name, "user task names no statute article (property 'statute')")
            )
        form_name = None
        if not form_file:
            problems.append(
                Problem(file, name, "user task names no form (property 'formJsonSchemaFilename')")
            )
        else:
            path = forms_dir / form_file
            form_name = form_file.removesuffix(".schema.json")
            if not path.exists():
                problems.append(Problem(file, name, f"form file forms/{form_file} does not exist"))
            else:
                try:
                    forms[form_name] = json.loads(path.read_text("utf-8"))
                    from jsonschema import Draft202012Validator

                    Draft202012Validator.check_schema(forms[form_name])
                except Exception as exc:  # noqa: BLE001 - report any schema problem
                    problems.append(
                        Problem(f"forms/{form_file}", "(schema)", f"not a valid JSON Schema: {exc}")
                    )
        meta[name] = {
            "title": task_spec.bpmn_name or name,
            "lane": task_spec.lane,
            "form": form_name,
            "statute": props.get("statute", ""),
            "job_role": props.get("job_role"),
            "due": props.get("due"),
            "documentation": getattr(task_spec, "documentation", None) or "",
            "title_en": props.get("title_en"),
            "completion_check": props.get("completion_check"),
            "signs": props.get("signs"),
            "documentation_en": props.get("documentation_en"),
        }
    return meta


BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
FLOW_NODES = (
    "startEvent",
    "endEvent",
    "userTask",
    "scriptTask",
    "serviceTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "callActivity",
    "subProcess",
    "boundaryEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "receiveTask",
    "sendTask",
    "manualTask",
    "businessRuleTask",
)


def _lint_diagram(path: Path, problems: list[Problem]) -> None:
    """Every flow node must have a shape so the file opens unchanged in bpmn-js / Camunda Modeler."""
    try:
        root = etree.parse(str(path)).getroot()
    except etree.XMLSyntaxError:
        return  # reported by the parser
    shapes = {el.get("bpmnElement") for el in root.iter(f"{{{BPMNDI_NS}}}BPMNShape")}
    for tag in FLOW_NODES:
        for el in root.iter(f"{{{BPMN_NS}}}{tag}"):
            if el.get("id") not in shapes:
                problems.append(
                    Problem(
                        path.name,
                        el.get("id") or tag,
                        "has no diagram shape (BPMNDI); open and save the file in a modeler",
                    )
                )


def parse_directory(
    directory: Path | None, handlers: Handlers
) -> tuple[list[ParsedProcess], list[Problem]]:
    """Parse, lint and check every ``*.bpmn`` of ``directory`` (default: the project's
    ``processes/``) against the engine's ``handlers``; return the processes and every problem."""
    directory = Path(directory or default_processes_dir())
    problems: list[Problem] = []
    parser, file_of = _read_files(directory, problems)
    trees = _process_trees(parser, file_of, problems)
    roles = roles_by_process(trees)
    for pid in trees:
        vocabulary = Vocabulary.of(handlers, roles[pid])
        node = parser.process_parsers[pid].node
        problems.extend(check_process(file_of[pid].name, node, vocabulary))
    parsed = [
        _parsed(pid, file_of, spec, subs, directory / "forms", problems)
        for pid, (spec, subs) in trees.items()
    ]
    problems.extend(_form_label_problems(directory / "forms"))
    return parsed, problems


def _form_label_problems(forms_dir: Path) -> list[Problem]:
    """Every field and enum value of every form has a Chinese and an English label."""
    problems = []
    for path in sorted(forms_dir.glob("*.schema.json")):
        try:
            schema = json.loads(path.read_text("utf-8"))
        except ValueError:
            continue  # reported where a task names the form
        if isinstance(schema, dict):
            problems += [
                Problem(f"forms/{path.name}", "(labels)", p) for p in label_problems(schema)
            ]
    return problems


def _read_files(
    directory: Path, problems: list[Problem]
) -> tuple[SpiffBpmnParser, dict[str, Path]]:
    """Load every file into one parser (with XSD validation); the file of each process id."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    files = sorted(directory.glob("*.bpmn"))
    if not files:
        problems.append(Problem(str(directory), "-", "no .bpmn files found"))
    file_of: dict[str, Path] = {}
    for path in files:
        _lint_diagram(path, problems)
        try:
            before = set(parser.get_process_ids())
            parser.add_bpmn_file(str(path))
            for pid in set(parser.get_process_ids()) - before:
                file_of[pid] = path
        except ValidationException as exc:
            line = f" (line {exc.line_number})" if getattr(exc, "line_number", None) else ""
            problems.append(
                Problem(
                    path.name,
                    getattr(exc, "id", None) or "-",
                    f"{exc.error_msg if hasattr(exc, 'error_msg') else exc}{line}",
                )
            )
        except etree.XMLSyntaxError as exc:
            problems.append(Problem(path.name, "-", f"not well-formed XML: {exc}"))
    return parser, file_of


def _process_trees(
    parser: SpiffBpmnParser, file_of: dict[str, Path], problems: list[Problem]
) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The spec and subprocess specs of every process that parses, by process id."""
    trees = {}
    for pid, path in sorted(file_of.items()):
        try:
            trees[pid] = (parser.get_spec(pid), parser.get_subprocess_specs(pid))
        except ValidationException as exc:
            problems.append(
                Problem(
                    Path(getattr(exc, "file_name", "") or path.name).name,
                    getattr(exc, "id", None) or pid,
                    str(getattr(exc, "error_msg", exc)),
                )
            )
        except Exception as exc:  # noqa: BLE001 - the parser raises plain errors for broken models
            problems.append(Problem(path.name, pid, str(exc)))
    return trees


def _parsed(
    pid: str,
    file_of: dict[str, Path],
    spec: Any,
    subs: dict[str, Any],
    forms_dir: Path,
    problems: list[Problem],
) -> ParsedProcess:
    """One process ready to deploy: its forms, task metadata, content hash and serialized spec."""
    path = file_of[pid]
    forms: dict = {}
    start_form = forms_dir / f"{pid}_start.schema.json"
    if start_form.exists():
        forms[f"{pid}_start"] = json.loads(start_form.read_text("utf-8"))
    meta = _user_task_meta(spec, path.name, forms_dir, forms, problems)
    for sub in subs.values():
        meta.update(
            _user_task_meta(sub, file_of.get(sub.name, path).name, forms_dir, forms, problems)
        )
    digest = hashlib.sha256()
    for p in sorted({path} | {file_of[s] for s in subs if s in file_of}):
        digest.update(p.name.encode() + b"\0" + p.read_bytes())
    for form_name in sorted(forms):
        digest.update(
            form_name.encode() + b"\0" + json.dumps(forms[form_name], sort_keys=True).encode()
        )
    diagrams = {pid: path.read_text("utf-8")} | {
        s: file_of[s].read_text("utf-8") for s in subs if s in file_of
    }
    spec_json = json.dumps(
        {
            "spec": SERIALIZER.to_dict(spec),
            "subprocess_specs": {k: SERIALIZER.to_dict(v) for k, v in subs.items()},
            "diagrams": diagrams,
        },
        ensure_ascii=False,
    )
    return ParsedProcess(
        pid,
        spec.description or pid,
        path.name,
        path.read_text("utf-8"),
        spec_json,
        forms,
        meta,
        digest.hexdigest(),
    )


# -- deploy, versions, activation ------------------------------------------------------------
@dataclass(frozen=True)
class Deployed:
    """What deploying one process did: ``created`` a new version, or found ``version`` with the
    same content (the active version, or an older inactive one, which is not reactivated)."""

    process_id: str
    version: int
    content_hash: str
    created: bool
    active: bool

    @property
    def outcome(self) -> str:
        """``deployed`` (new and active), ``deployed_inactive`` (new, waits for activation),
        ``unchanged`` (the active version) or ``identical_inactive`` (an older version)."""
        if self.created:
            return "deployed" if self.active else "deployed_inactive"
        return "unchanged" if self.active else "identical_inactive"

    def describe(self) -> Message:
        d = self
        return {
            "deployed": Message("deployed"),
            "unchanged": Message("unchanged"),
            "deployed_inactive": Message(
                "deployed, not active; activate it with "
                "`govshare processes activate %(pid)s %(version)s`",
                pid=d.process_id,
                version=d.version,
            ),
            "identical_inactive": Message(
                "identical to version %(version)s (not active); activate it with "
                "`govshare processes activate %(pid)s %(version)s`",
                pid=d.process_id,
                version=d.version,
            ),
        }[self.outcome]


def deploy(
    session: Session,
    clock: Clock,
    directory: Path | None = None,
    activate: bool = True,
    actor_id: int | None = None,
) -> list[Deployed]:
    """Deploy every process of ``directory``: changed content becomes a new version, active unless
    ``activate`` is False (the first version of a process is always active). Content identical to
    an existing version creates nothing and activates nothing. Refused, writing nothing, if any
    process has a problem."""
    parsed, problems = parse_directory(directory, handlers_of(session))
    if problems:
        raise DeploymentError(
            Message(
                "Deployment refused: %(n)s problem(s) found; nothing was deployed.", n=len(problems)
            ),
            [str(p) for p in problems],
        )
    found: list[tuple[ProcessDefinition, bool]] = []
    for p in parsed:
        existing = session.scalar(
            select(ProcessDefinition).where(
                ProcessDefinition.process_id == p.process_id,
                ProcessDefinition.content_hash == p.content_hash,
            )
        )
        if existing is not None:
            found.append((existing, False))
            continue
        definition = _new_version(session, clock, p, actor_id)
        if activate or definition.version == 1:
            _make_active(session, clock, definition, actor_id)
        found.append((definition, True))
    session.flush()
    return [
        Deployed(d.process_id, d.version, d.content_hash, created, bool(d.active))
        for d, created in found
    ]


def _new_version(
    session: Session, clock: Clock, p: ParsedProcess, actor_id: int | None
) -> ProcessDefinition:
    latest = session.scalar(
        select(func.max(ProcessDefinition.version)).where(
            ProcessDefinition.process_id == p.process_id
        )
    )
    definition = ProcessDefinition(
        process_id=p.process_id,
        version=(latest or 0) + 1,
        content_hash=p.content_hash,
        name=p.name,
        source_file=p.source_file,
        bpmn_xml=p.bpmn_xml,
        spec_json=p.spec_json,
        forms=p.forms,
        task_meta=p.task_meta,
        deployed_at=clock.now(),
        deployed_by_id=actor_id,
        active=False,
    )
    session.add(definition)
    session.flush()
    audit.record(
        session,
        clock.now(),
        "version_deployed",
        actor_id=actor_id,
        object_type="process",
        object_ref=p.process_id,
        version=definition.version,
        content_hash=p.content_hash,
        source_file=p.source_file,
    )
    return definition


@dataclass(frozen=True)
class Activation:
    """What :func:`activate` changed: ``previous`` is the version active before (None if none);
    ``changed`` is False when ``version`` was active already."""

    process_id: str
    version: int
    previous: int | None
    changed: bool

    def describe(self) -> Message:
        if not self.changed:
            return Message(
                "%(pid)s: version %(version)s is already active.",
                pid=self.process_id,
                version=self.version,
            )
        return Message(
            "%(pid)s: version %(version)s is active now (before: version %(previous)s); "
            "running instances keep their version.",
            pid=self.process_id,
            version=self.version,
            previous=self.previous or "-",
        )


def activate_version(
    session: Session,
    clock: Clock,
    process_id: str,
    version: int,
    actor_id: int | None = None,
    reason: str | None = None,
) -> Activation:
    """Make ``version`` of ``process_id`` the one new instances start on (rollback included);
    :class:`NotFound` naming both if there is no such version. See :func:`activate`."""
    definition = session.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
        )
    )
    if definition is None:
        versions = session.scalars(
            select(ProcessDefinition.version)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version)
        ).all()
        raise NotFound(
            Message(
                "Process %(pid)s has no version %(version)s (deployed versions: %(versions)s).",
                pid=process_id,
                version=version,
                versions=", ".join(str(v) for v in versions) or "-",
            )
        )
    return activate(session, clock, definition, actor_id, reason)


def activate(
    session: Session,
    clock: Clock,
    definition: ProcessDefinition,
    actor_id: int | None = None,
    reason: str | None = None,
) -> Activation:
    """Make ``definition`` the version new instances of its process start on; instances already
    running keep the version they started on. Idempotent; a change is audited
    (``version_activated``: process, version, previous, and the reason when one is given)."""
    return _make_active(session, clock, definition, actor_id, reason)


def _make_active(
    session: Session,
    clock: Clock,
    definition: ProcessDefinition,
    actor_id: int | None,
    reason: str | None = None,
) -> Activation:
    if definition.active:
        return Activation(definition.process_id, definition.version, definition.version, False)
    previous = session.scalar(
        select(ProcessDefinition.version).where(
            ProcessDefinition.process_id == definition.process_id,
            ProcessDefinition.active.is_(True),
        )
    )
    session.execute(
        update(ProcessDefinition)
        .where(ProcessDefinition.process_id == definition.process_id)
        .values(active=False)
    )
    definition.active, definition.activated_at = True, clock.now()
    extra: dict[str, Any] = {"reason": reason} if reason else {}
    audit.record(
        session,
        clock.now(),
        "version_activated",
        actor_id=actor_id,
        object_type="process",
        object_ref=definition.process_id,
        before=previous,
        after=definition.version,
        process=definition.process_id,
        version=definition.version,
        previous=previous,
        **extra,
    )
    try:
        session.flush()
    except IntegrityError as exc:  # another activation or deployment committed first
        raise Conflict(
            Message(
                "Another deployment or activation of %(pid)s ran at the same time; run the command again.",
                pid=definition.process_id,
            )
        ) from exc
    return Activation(definition.process_id, definition.version, previous, True)


def definition_of(session: Session, deployed: Deployed) -> ProcessDefinition:
    """The stored version a :class:`Deployed` names (for the runtime and tests)."""
    return session.scalars(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == deployed.process_id,
            ProcessDefinition.version == deployed.version,
        )
    ).one()


def active_definition(session: Session, process_id: str) -> ProcessDefinition:
    """The version new instances of ``process_id`` start on (cached per process:
    ``definitions`` in :mod:`engine.refcache`)."""

    def load() -> dict | None:
        rows = refcache.fresh_rows(
            session,
            ProcessDefinition,
            ProcessDefinition.process_id == process_id,
            ProcessDefinition.active.is_(True),
        )
        return rows[0] if rows else None

    values = refcache.cached(session, "definitions", ("active", process_id), load)
    if values is None:
        raise NotFound(
            Message(
                "Process %(pid)s is not deployed; run `govshare processes deploy`.", pid=process_id
            )
        )
    return refcache.attach(session, ProcessDefinition, values)


def list_definitions(session: Session) -> list[ProcessDefinition]:
    return list(
        session.scalars(
            select(ProcessDefinition).order_by(
                ProcessDefinition.process_id, ProcessDefinition.version
            )
        )
    )


@dataclass(frozen=True)
class VersionSummary:
    """One deployed version, with how many instances run on it and how many are in incident."""

    process_id: str
    version: int
    content_hash: str
    source_file: str
    active: bool
    deployed_at: datetime
    activated_at: datetime | None
    running: int
    incidents: int


def list_versions(session: Session) -> list[VersionSummary]:
    """Every deployed version, by process and version, with its instance counts (one grouped
    query for the counts of all versions)."""
    counts: dict[tuple[int, str], int] = {
        (definition_id, status): n
        for definition_id, status, n in session.execute(
            select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
            .where(ProcessInstance.status.in_(("running", "incident")))
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)
        )
    }
    return [
        VersionSummary(
            d.process_id,
            d.version,
            d.content_hash,
            d.source_file,
            d.active,
            d.deployed_at,
            d.activated_at,
            counts.get((d.id, "running"), 0),
            counts.get((d.id, "incident"), 0),
        )
        for d in list_definitions(session)
    ]
