"""Repository service: lint and deploy ``processes/``, versioned by content hash.

A process's version hash covers its BPMN file, the forms its user tasks name and, recursively, the
files of the processes it calls. Deploying unchanged content is a no-op; changed content becomes
version n+1; running instances keep the version they started on. The serialized spec is stored once
per version (``process_definition.spec_json``), never inside instance state.

Deployment is all or nothing: every file is parsed (with XSD validation) and linted first, and a
single problem anywhere aborts it with every problem listed (file, element id, what is wrong).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import DeploymentError, NotFound
from engine.i18n import Message
from engine.workflow.models import ProcessDefinition

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
KNOWN_ROLES = {
    "requester",
    "provider",
    "authority",
    "drc",
    "industry_it",
    "finance",
    "data_sharing",
    "cyberspace",
}


def default_processes_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "processes"


@dataclass
class Problem:
    file: str
    element: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.problem}"


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


def _user_task_meta(spec, file: str, forms_dir: Path, forms: dict, problems: list[Problem]) -> dict:
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


def parse_directory(directory: Path | None = None) -> tuple[list[ParsedProcess], list[Problem]]:
    """Parse and lint every ``*.bpmn`` of ``directory``; return processes and problems found."""
    directory = Path(directory or default_processes_dir())
    forms_dir = directory / "forms"
    problems: list[Problem] = []
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
    parsed: list[ParsedProcess] = []
    for pid, path in sorted(file_of.items()):
        try:
            spec = parser.get_spec(pid)
            subs = parser.get_subprocess_specs(pid)
        except ValidationException as exc:
            problems.append(
                Problem(
                    Path(getattr(exc, "file_name", "") or path.name).name,
                    getattr(exc, "id", None) or pid,
                    str(getattr(exc, "error_msg", exc)),
                )
            )
            continue
        except Exception as exc:  # noqa: BLE001 - the parser raises plain errors for broken models
            problems.append(Problem(path.name, pid, str(exc)))
            continue
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
        parsed.append(
            ParsedProcess(
                pid,
                spec.description or pid,
                path.name,
                path.read_text("utf-8"),
                spec_json,
                forms,
                meta,
                digest.hexdigest(),
            )
        )
    return parsed, problems


def deploy(
    session: Session, clock: Clock, directory: Path | None = None
) -> list[tuple[ProcessDefinition, bool]]:
    """Deploy every process of ``directory``; returns (definition, newly created) per process."""
    parsed, problems = parse_directory(directory)
    if problems:
        raise DeploymentError(
            Message(
                "Deployment refused: %(n)s problem(s) found; nothing was deployed.", n=len(problems)
            ),
            [str(p) for p in problems],
        )
    results = []
    for p in parsed:
        existing = session.scalar(
            select(ProcessDefinition).where(
                ProcessDefinition.process_id == p.process_id,
                ProcessDefinition.content_hash == p.content_hash,
            )
        )
        if existing is not None:
            results.append((existing, False))
            continue
        latest = (
            session.scalar(
                select(func.max(ProcessDefinition.version)).where(
                    ProcessDefinition.process_id == p.process_id
                )
            )
            or 0
        )
        definition = ProcessDefinition(
            process_id=p.process_id,
            version=latest + 1,
            content_hash=p.content_hash,
            name=p.name,
            source_file=p.source_file,
            bpmn_xml=p.bpmn_xml,
            spec_json=p.spec_json,
            forms=p.forms,
            task_meta=p.task_meta,
            deployed_at=clock.now(),
        )
        session.add(definition)
        activate(session, clock, definition)
        results.append((definition, True))
    session.flush()
    return results


def activate(session: Session, clock: Clock, definition: ProcessDefinition) -> None:
    """Make ``definition`` the version new instances of its process start on."""
    session.execute(
        update(ProcessDefinition)
        .where(ProcessDefinition.process_id == definition.process_id)
        .values(active=False)
    )
    definition.active, definition.activated_at = True, clock.now()
    session.flush()


def active_definition(session: Session, process_id: str) -> ProcessDefinition:
    """The version new instances of ``process_id`` start on."""
    definition = session.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == process_id, ProcessDefinition.active.is_(True)
        )
    )
    if definition is None:
        raise NotFound(
            Message(
                "Process %(pid)s is not deployed; run `govshare processes deploy`.", pid=process_id
            )
        )
    return definition


def list_definitions(session: Session) -> list[ProcessDefinition]:
    return list(
        session.scalars(
            select(ProcessDefinition).order_by(
                ProcessDefinition.process_id, ProcessDefinition.version
            )
        )
    )
