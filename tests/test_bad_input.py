"""Bad input gets a clear message naming what is wrong, and nothing is written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.errors import DeploymentError, NotFound, ValidationFailed
from engine.i18n import Label
from engine.workflow.deployment import default_processes_dir, definition_of, deploy
from engine.workflow.models import ProcessDefinition, ProcessInstance
from tests.conftest import HUKOU


@pytest.fixture
def processes_copy(tmp_path):
    target = tmp_path / "processes"
    shutil.copytree(default_processes_dir(), target)
    return target


def _deploy_problems(actors, directory):
    before = actors.run(lambda s: s.scalar(select(func.count()).select_from(ProcessDefinition)))
    with pytest.raises(DeploymentError) as err:
        actors.run(lambda s: deploy(s, actors.clock, directory))
    assert (
        actors.run(lambda s: s.scalar(select(func.count()).select_from(ProcessDefinition)))
        == before
    )
    return err.value.details


def test_flow_to_a_missing_element_names_file_and_element(actors, processes_copy):
    path = processes_copy / "share_request.bpmn"
    path.write_text(
        path.read_text("utf-8").replace('targetRef="review_gw"', 'targetRef="review_gateway"'),
        "utf-8",
    )
    problems = _deploy_problems(actors, processes_copy)
    assert any(p.startswith("share_request.bpmn: ") and "review_gateway" in p for p in problems), (
        problems
    )


def test_malformed_xml_names_the_file(actors, processes_copy):
    (processes_copy / "negotiation.bpmn").write_text("<bpmn:definitions", "utf-8")
    problems = _deploy_problems(actors, processes_copy)
    assert any(p.startswith("negotiation.bpmn: ") for p in problems), problems


def test_schema_violation_is_reported_with_its_line(actors, processes_copy):
    path = processes_copy / "negotiation.bpmn"
    path.write_text(
        path.read_text("utf-8").replace(
            '<bpmn:userTask id="coordinate"', '<bpmn:userTask bogus="1" id="coordinate"'
        ),
        "utf-8",
    )
    problems = _deploy_problems(actors, processes_copy)
    assert any(
        p.startswith("negotiation.bpmn: ") and "line" in p and "bogus" in p for p in problems
    ), problems


def test_user_task_without_form_or_missing_form_file(actors, processes_copy):
    path = processes_copy / "share_request.bpmn"
    text = path.read_text("utf-8").replace(
        'value="supervision.schema.json"', 'value="supervise_typo.schema.json"'
    )
    path.write_text(text, "utf-8")
    problems = _deploy_problems(actors, processes_copy)
    assert (
        "share_request.bpmn: supervise: form file forms/supervise_typo.schema.json does not exist"
        in problems
    )


def test_user_task_outside_known_lanes_and_shape_missing(actors, processes_copy):
    path = processes_copy / "share_request.bpmn"
    text = path.read_text("utf-8").replace(
        '<bpmn:lane id="Lane_authority" name="authority">',
        '<bpmn:lane id="Lane_authority" name="inspector">',
    )
    text = text.replace(
        '<bpmndi:BPMNShape id="supervise_di" bpmnElement="supervise">',
        '<bpmndi:BPMNShape id="supervise_di" bpmnElement="supervise_gone">',
    )
    path.write_text(text, "utf-8")
    problems = _deploy_problems(actors, processes_copy)
    assert any("supervise: lane 'inspector' is not a known role" in p for p in problems), problems
    assert (
        "share_request.bpmn: supervise: has no diagram shape (BPMNDI); open and save the file in a modeler"
        in problems
    )


def test_redeploying_unchanged_processes_keeps_the_version(actors):
    results = actors.run(
        lambda s: [(d.process_id, d.version, d.created) for d in deploy(s, actors.clock)]
    )
    assert results == [
        ("annual_evaluation", 1, False),
        ("catalog_publication", 1, False),
        ("catalog_update", 1, False),
        ("data_error_verification", 1, False),
        ("negotiation", 1, False),
        ("project_approval", 1, False),
        ("rectification", 1, False),
        ("share_request", 1, False),
    ]


def test_form_violations_list_every_field(actors):
    key = actors.request("civil.clerk", **HUKOU)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "pubsec.clerk",
            key,
            "provider_review",
            review_decision="approve",
            granted_period_start="2026-13-01",
            surprise=1,
        )
    fields = sorted(d["field"] for d in err.value.details)
    assert fields == [
        "(form)",
        "granted_items",
        "granted_period_end",
        "granted_period_start",
        "granted_purpose",
    ]
    assert "surprise" in " ".join(str(d["message"]) for d in err.value.details)


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"resource_code": "XX/9999"}, "Unknown resource 'XX/9999' in the catalog."),
        ({"info_items": ["婚姻状况"]}, "not info items of JC-RK/0002: 婚姻状况"),
        ({"period_end": "2026-01-01"}, "must not be before the start of the period"),
        ({"purpose": "  "}, "must not be empty"),
    ],
)
def test_bad_request_is_refused_and_nothing_is_written(actors, change, expected):
    with pytest.raises((NotFound, ValidationFailed)) as err:
        actors.request("civil.clerk", **{**HUKOU, **change})
    assert expected in str(err.value) + " ".join(str(d["message"]) for d in err.value.details)
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(ProcessInstance))) == 0
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(AuditEvent))) == 0


def test_unknown_user_is_named(actors):
    with pytest.raises(NotFound, match="Unknown user 'nobody.clerk'"):
        actors.request("nobody.clerk", **HUKOU)


def test_requesting_your_own_departments_resource_is_refused(actors):
    with pytest.raises(ValidationFailed) as err:
        actors.request("pubsec.clerk", **HUKOU)
    assert err.value.details == [
        {
            "field": "resource_code",
            "label": Label("资源代码", "Resource code"),
            "message": "is provided by your own department",
        }
    ]


def _cli(db_url, *args):
    import os

    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "--now", "2026-09-18T10:00:00+08:00", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_failed_command_exits_2_with_fields_and_writes_nothing(actors, db_url):
    r = _cli(
        db_url,
        "requests",
        "start",
        "--user",
        "civil.clerk",
        "--resource",
        "JC-RK/0002",
        "--items",
        "公民身份号码",
        "--purpose",
        "核定低保",
        "--scenario",
        "YYCJ006",
        "--basis",
        "依据",
        "--from",
        "2026-10-01",
        "--to",
        "2026-09-01",
    )
    assert r.returncode == 2
    assert "period_end: must not be before the start of the period" in r.stderr
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(ProcessInstance))) == 0
    r = _cli(db_url, "tasks", "list", "--user", "ghost")
    assert r.returncode == 2 and "Unknown user 'ghost'" in r.stderr


def test_cli_calendar_deadline_prints_the_date_first(db_url):
    r = _cli(db_url, "calendar", "deadline", "2026-09-18", "10")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.split()[0] == "2026-10-09"
    assert "2026-09-20" in r.stdout  # the make-up Sunday is explained


def test_cli_end_to_end_request_and_completion(actors, db_url):
    r = _cli(
        db_url,
        "requests",
        "start",
        "--user",
        "civil.clerk",
        "--resource",
        "JC-RK/0002",
        "--items",
        "公民身份号码",
        "--purpose",
        "核定低保",
        "--scenario",
        "YYCJ006",
        "--basis",
        "《社会救助暂行办法》",
        "--from",
        "2026-10-01",
        "--to",
        "2027-09-30",
    )
    assert r.returncode == 0, r.stderr
    key = r.stdout.split()[0]
    assert "2026-10-09 24:00" in r.stdout
    listing = _cli(db_url, "tasks", "list", "--user", "pubsec.clerk").stdout
    task_id = listing.split()[0]
    r = _cli(
        db_url,
        "tasks",
        "complete",
        task_id,
        "--user",
        "pubsec.clerk",
        "--data",
        '{"review_decision": "refuse"}',
    )
    assert r.returncode == 2 and "review_reason: is required" in r.stderr
    r = _cli(
        db_url,
        "tasks",
        "complete",
        task_id,
        "--user",
        "pubsec.clerk",
        "--data",
        '{"review_decision": "refuse", "review_reason": "超出职责范围"}',
    )
    assert r.returncode == 0, r.stderr
    shown = _cli(db_url, "requests", "show", key).stdout
    assert "决定是否协商" in shown and "completed" in shown


def test_failing_script_becomes_a_visible_retryable_incident(actors, tmp_path):
    from engine.workflow import runtime

    d = tmp_path / "p"
    d.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "incident_probe.bpmn", d)
    definition = actors.run(lambda s: definition_of(s, deploy(s, actors.clock, d)[0]))

    def start(s):
        return runtime.start_instance(
            s,
            actors.clock,
            s.get(ProcessDefinition, definition.id),
            {"total": 10, "parts": 0},
            {},
            None,
        ).id

    inst_id = actors.run(start)
    inst = actors.run(lambda s: s.get(ProcessInstance, inst_id))
    assert inst.status == "incident"
    assert (
        inst.incident.startswith("compute (Compute ratio)") and "ZeroDivisionError" in inst.incident
    )
    retried = actors.run(lambda s: runtime.retry_incident(s, actors.clock, inst_id, None))
    assert retried.status == "incident"
    kinds = actors.run(
        lambda s: [
            e.kind
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.instance_id == inst_id).order_by(AuditEvent.id)
            )
        ]
    )
    assert kinds == ["started", "incident", "incident_retried", "incident"]


def test_form_field_or_enum_value_without_a_label_in_either_language_is_refused(
    actors, processes_copy
):
    path = processes_copy / "forms" / "provider_review.schema.json"
    form = json.loads(path.read_text("utf-8"))
    del form["properties"]["review_reason"]["x-title-en"]
    del form["properties"]["review_decision"]["x-enum-labels"]["refuse"]
    form["properties"]["review_decision"]["x-enum-labels"]["approve"] = ["同意共享", ""]
    path.write_text(json.dumps(form, ensure_ascii=False), "utf-8")
    problems = _deploy_problems(actors, processes_copy)
    where = "forms/provider_review.schema.json: (labels): "
    assert (
        where + "field 'review_reason' needs 'title' (Chinese) and 'x-title-en' (English)"
        in problems
    )
    for value in ("approve", "refuse"):
        assert (
            where + f"value '{value}' of field 'review_decision' needs labels "
            "[Chinese, English] in 'x-enum-labels'" in problems
        )
    assert not any("approve_in_part" in p for p in problems)


def test_a_lane_that_is_no_known_role_has_no_label_and_is_refused(actors, processes_copy):
    path = processes_copy / "negotiation.bpmn"
    path.write_text(path.read_text("utf-8").replace('name="requester"', 'name="applicant"'))
    problems = _deploy_problems(actors, processes_copy)
    assert any("lane 'applicant' is not a known role" in p for p in problems)
