"""Deploy refuses processes that cannot run; versions are activated (and rolled back) explicitly."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import func, select, text, update

from engine.app import build_engine
from engine.audit import AuditEvent
from engine.cli import main
from engine.errors import DeploymentError
from engine.workflow import runtime, scripting
from engine.workflow.deployment import (
    active_definition,
    default_processes_dir,
    deploy,
    list_definitions,
    parse_directory,
)
from engine.workflow.handlers import FactKind, Handlers
from engine.workflow.models import ProcessDefinition, ProcessInstance
from tests.conftest import CATALOG_CLEANUP, DYNAMIC_TABLES, HUKOU, LATER_TABLES

SCOPE = dict(
    review_decision="approve",
    granted_items=["公民身份号码", "变动类型"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定城乡低保对象户籍状况",
)
REMINDER = "<bpmn:script>notify('provider', 'reply_reminder', due=reply_due)"
# a script that passes every static check and fails when it runs (reminder_days_before is 2)
DIVIDES_BY_ZERO = (
    "record(reply_due=reply_due, overdue=False)</bpmn:script>",
    "record(reply_due=reply_due, overdue=False)\n"
    "reminders_per_day = reply_days / (reminder_days_before - 2)</bpmn:script>",
)


@pytest.fixture
def processes_copy(tmp_path):
    target = tmp_path / "processes"
    shutil.copytree(default_processes_dir(), target)
    return target


def mutate(directory, file, old, new):
    path = directory / file
    content = path.read_text("utf-8")
    assert old in content, f"{old!r} not in {file}"
    path.write_text(content.replace(old, new, 1), "utf-8")


@pytest.fixture
def restore_versions(engine):
    """Versions a test deploys are removed afterwards (with the instances on them), and the
    versions active before are active again, so that other tests see the shipped processes."""
    with engine.connect() as conn:
        before = {
            row.id: row.active
            for row in conn.execute(text("SELECT id, active FROM process_definition"))
        }
    yield
    with engine.begin() as conn:
        for table in DYNAMIC_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        for statement in CATALOG_CLEANUP:
            conn.execute(text(statement))
        for table in LATER_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        table = ProcessDefinition.__table__
        conn.execute(table.delete().where(table.c.id.not_in(list(before))))
        for definition_id, active in before.items():
            conn.execute(update(table).where(table.c.id == definition_id).values(active=active))


def cli(capsys, db_url, clock, *argv):
    """Run ``govshare`` in-process; (exit status, stdout, stderr)."""
    status = 0
    try:
        main(["--database", db_url, "--now", clock.now().isoformat(), *argv])
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def count_definitions(actors):
    return actors.run(lambda s: s.scalar(select(func.count()).select_from(ProcessDefinition)))


BAD = {
    "syntax error": (
        "share_request.bpmn",
        "overdue=False)</bpmn:script>",
        "overdue=False</bpmn:script>",
        "prepare",
        "script: Line 5: SyntaxError",
    ),
    "import": (
        "share_request.bpmn",
        "<bpmn:script>record(decision='refused')",
        "<bpmn:script>import os\nrecord(decision='refused')",
        "notify_refusal",
        "script, line 1: imports are not allowed",
    ),
    "unknown helper": (
        "share_request.bpmn",
        REMINDER,
        REMINDER.replace("notify(", "notify_all("),
        "send_reminder",
        "script, line 1: unknown helper 'notify_all'",
    ),
    "unknown role": (
        "share_request.bpmn",
        REMINDER,
        REMINDER.replace("'provider'", "'auditor'"),
        "send_reminder",
        "unknown role 'auditor' in notify(): not a lane of the process",
    ),
    "unknown role of an effect": (
        "share_request.bpmn",
        "record_breach('provider',",
        "record_breach('inspector',",
        "mark_overdue",
        "unknown role 'inspector' in record_breach()",
    ),
    "unknown action": (
        "catalog_publication.bpmn",
        "perform('publish_catalog_version')",
        "perform('publish_catalogue_version')",
        "publish_change",
        "unknown action 'publish_catalogue_version'",
    ),
    "unknown completion check": (
        "catalog_update.bpmn",
        'value="catalog_published_since_event"',
        'value="catalog_published_since_the_event"',
        "update_catalog",
        "unknown completion check 'catalog_published_since_the_event'",
    ),
    "unknown kind of signed decision": (
        "share_request.bpmn",
        'name="signs" value="provider_reply"',
        'name="signs" value="provider_answer"',
        "provider_review",
        "unknown kind of signed decision 'provider_answer'",
    ),
    "broken condition": (
        "share_request.bpmn",
        "review_decision in ('approve', 'approve_in_part')<",
        "review_decision in ('approve', 'approve_in_part'<",
        "flow_approved",
        "condition: Line 1: SyntaxError",
    ),
    "dunder in a condition": (
        "share_request.bpmn",
        "share_type == 'unconditional'",
        "share_type.__class__ == 'unconditional'",
        "flow_unconditional",
        'condition: Line 1: "__class__" is an invalid attribute name',
    ),
    "broken timer expression": (
        "share_request.bpmn",
        ">reply_due</bpmn:timeDate>",
        ">2026-10-01T00:00:00</bpmn:timeDate>",
        "reply_deadline",
        "timeDate: Line 1: SyntaxError",
    ),
    "timer literal without a time zone": (
        "share_request.bpmn",
        ">reply_due</bpmn:timeDate>",
        ">'2026-10-01T00:00:00'</bpmn:timeDate>",
        "reply_deadline",
        "has no time zone offset",
    ),
    "in-place operator the sandbox refuses": (
        "share_request.bpmn",
        "overdue=False)</bpmn:script>",
        "overdue=False)\nx = 2\nx **= 3</bpmn:script>",
        "prepare",
        "this in-place operator is not allowed",
    ),
    "timer literal that is no date": (
        "share_request.bpmn",
        ">reply_due</bpmn:timeDate>",
        ">'2026-10-01 noon'</bpmn:timeDate>",
        "reply_deadline",
        "timeDate: '2026-10-01 noon' is not an ISO 8601 timeDate value",
    ),
    "due date no timer enforces": (
        "rectification.bpmn",
        ">rectify_due</bpmn:timeDate>",
        ">rectify_reminder_at</bpmn:timeDate>",
        "rectify",
        "due date 'rectify_due' is not enforced",
    ),
    "user task without a due date": (
        "project_approval.bpmn",
        'name="no_deadline"',
        'name="no_limit"',
        "apply_acceptance",
        "waits on a person without a due date",
    ),
    "unknown helper in an error's payload": (
        "project_approval.bpmn",
        "{'by': returned_by, 'reasons': return_reasons}",
        "{'by': seat_of(returned_by), 'reasons': return_reasons}",
        "project_returned_error",
        "payloadExpression, line 1: unknown helper 'seat_of'",
    ),
    "a subprocess spanning lanes put in one": (
        "project_approval.bpmn",
        "<bpmn:flowNodeRef>open_review</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>open_review</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>joint_review</bpmn:flowNodeRef>",
        "joint_review",
        "subprocess is in lane 'provider' but holds tasks of lanes authority, cyberspace",
    ),
    "infinite loop": (
        "share_request.bpmn",
        REMINDER,
        REMINDER.replace("<bpmn:script>", "<bpmn:script>while True:\n    pending = 1\n"),
        "send_reminder",
        "script, line 1: infinite loop",
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_deploy_and_lint_refuse_code_that_cannot_run(actors, db_url, processes_copy, capsys, case):
    file, old, new, element, problem = case
    mutate(processes_copy, file, old, new)
    before = count_definitions(actors)
    with pytest.raises(DeploymentError) as err:
        actors.run(lambda s: deploy(s, actors.clock, processes_copy))
    assert count_definitions(actors) == before
    found = [p for p in err.value.details if p.startswith(f"{file}: {element}: ")]
    assert len(found) == 1 and problem in found[0], err.value.details

    status, out, stderr = cli(
        capsys, db_url, actors.clock, "processes", "lint", "--dir", str(processes_copy)
    )
    assert status == 2
    assert found[0] in stderr.splitlines()
    status, out, stderr = cli(
        capsys, db_url, actors.clock, "processes", "deploy", "--dir", str(processes_copy)
    )
    assert status == 2 and found[0] in stderr and "nothing was deployed" in stderr
    assert count_definitions(actors) == before


def test_every_problem_is_listed_at_once(actors, processes_copy):
    for file, old, new, _, _ in (BAD["import"], BAD["broken condition"], BAD["unknown action"]):
        mutate(processes_copy, file, old, new)
    with pytest.raises(DeploymentError) as err:
        actors.run(lambda s: deploy(s, actors.clock, processes_copy))
    assert [p.split(":")[:2] for p in err.value.details] == [
        ["catalog_publication.bpmn", " publish_change"],
        ["share_request.bpmn", " notify_refusal"],
        ["share_request.bpmn", " flow_approved"],
    ]


def test_lint_accepts_loops_that_end_and_functions_a_script_defines(
    db_url, processes_copy, capsys, clock
):
    script = (
        "<bpmn:script>def later(n):\n    return n + 1\n"
        "tries = 0\nwhile True:\n    tries = later(tries)\n    if tries &gt; 2:\n        break\n"
        "notify('provider', 'reply_reminder', due=reply_due)"
    )
    mutate(processes_copy, "share_request.bpmn", REMINDER, script)
    status, out, err = cli(capsys, db_url, clock, "processes", "lint", "--dir", str(processes_copy))
    assert (status, err) == (0, "")
    assert "8 process(es) pass the lint." in out


def share_request_versions(actors):
    """(the active version, the next version number) of share_request."""

    def versions(s):
        active = active_definition(s, "share_request").version
        latest = s.scalar(
            select(func.max(ProcessDefinition.version)).where(
                ProcessDefinition.process_id == "share_request"
            )
        )
        return active, latest + 1

    return actors.run(versions)


def test_a_broken_version_is_rolled_back_and_its_instances_stay_on_it(
    actors, db_url, processes_copy, capsys, restore_versions
):
    shipped, broken_version = share_request_versions(actors)  # 1 and 2 on a fresh database
    mutate(processes_copy, "share_request.bpmn", *DIVIDES_BY_ZERO)
    status, out, err = cli(
        capsys, db_url, actors.clock, "processes", "deploy", "--dir", str(processes_copy)
    )
    assert status == 0, err
    outcomes = [line.split()[:2] + line.split()[3:] for line in out.splitlines()]
    assert outcomes[-1] == ["share_request", f"v{broken_version}", "deployed"]
    assert all(outcome[2:] == ["unchanged"] for outcome in outcomes[:-1]), outcomes

    broken = actors.request("civil.clerk", **HUKOU)
    st = actors.status(broken)
    assert (st["version"], st["status"]) == (broken_version, "incident")
    assert "prepare" in st["incident"] and "ZeroDivisionError" in st["incident"]

    # redeploying the shipped files creates nothing and says how to go back to their version
    before = count_definitions(actors)
    status, out, err = cli(capsys, db_url, actors.clock, "processes", "deploy")
    assert status == 0, err
    assert (
        f"share_request v{shipped} " in out
        and f"identical to version {shipped} (not active); activate it with "
        f"`govshare processes activate share_request {shipped}`"
        in out
    )
    outcomes = actors.run(
        lambda s: {r.process_id: (r.outcome, r.version) for r in deploy(s, actors.clock)}
    )
    assert outcomes["share_request"] == ("identical_inactive", shipped)
    assert outcomes["negotiation"][0] == "unchanged"
    assert count_definitions(actors) == before

    activate = ("processes", "activate", "share_request", str(shipped))
    status, out, err = cli(capsys, db_url, actors.clock, *activate)
    assert status == 0, err
    assert (
        f"share_request: version {shipped} is active now (before: version {broken_version})" in out
    )
    status, out, err = cli(capsys, db_url, actors.clock, *activate)
    assert f"share_request: version {shipped} is already active." in out
    activations = actors.run(
        lambda s: [
            (e.instance_id, e.detail)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.kind == "version_activated")
                .order_by(AuditEvent.id)
            )
        ]
    )
    assert activations == [
        (
            None,
            {
                "process": "share_request",
                "version": broken_version,
                "previous": shipped,
                "before": shipped,
                "after": broken_version,
            },
        ),
        (
            None,
            {
                "process": "share_request",
                "version": shipped,
                "previous": broken_version,
                "before": broken_version,
                "after": shipped,
            },
        ),
    ]
    deployed = actors.run(
        lambda s: [
            (e.object_type, e.object_ref, e.detail["version"])
            for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == "version_deployed"))
        ]
    )
    assert ("process", "share_request", broken_version) in deployed

    granted, waiting = (
        actors.request("civil.clerk", **HUKOU),
        actors.request("civil.clerk", **HUKOU),
    )
    actors.complete("pubsec.clerk", granted, "provider_review", **SCOPE)
    st = actors.status(granted)
    assert (st["version"], st["status"], st["summary"]["decision"]) == (
        shipped,
        "completed",
        "granted",
    )
    assert actors.status(waiting)["version"] == shipped

    # the instance started on the broken version stays there, even when retried
    instance_id = actors.run(
        lambda s: s.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == broken))
    )
    actors.run(lambda s: runtime.retry_incident(s, actors.clock, instance_id, None))
    st = actors.status(broken)
    assert (st["version"], st["status"]) == (broken_version, "incident")

    status, out, err = cli(capsys, db_url, actors.clock, "processes", "list", "--json")
    versions = {
        (v["process"], v["version"]): (v["active"], v["running"], v["incidents"])
        for v in json.loads(out)
    }
    assert versions[("share_request", shipped)] == (True, 1, 0)
    assert versions[("share_request", broken_version)] == (False, 0, 1)
    assert versions[("negotiation", 1)] == (True, 0, 0)
    status, out, err = cli(capsys, db_url, actors.clock, "processes", "list")
    lines = {
        line.split("share_request", 1)[1].split()[0]: line
        for line in out.splitlines()
        if "share_request.bpmn" in line
    }
    assert lines[f"v{shipped}"].startswith("* share_request")
    assert "running: 1  in incident: 0" in lines[f"v{shipped}"]
    assert lines[f"v{broken_version}"].startswith("  share_request")
    assert "running: 0  in incident: 1" in lines[f"v{broken_version}"]


def test_a_version_deployed_without_activation_waits(
    actors, db_url, processes_copy, capsys, restore_versions
):
    shipped, waiting = share_request_versions(actors)
    mutate(processes_copy, "share_request.bpmn", *DIVIDES_BY_ZERO)
    status, out, err = cli(
        capsys,
        db_url,
        actors.clock,
        "processes",
        "deploy",
        "--no-activate",
        "--dir",
        str(processes_copy),
    )
    assert status == 0, err
    assert (
        f"share_request v{waiting} " in out
        and "deployed, not active; activate it with "
        f"`govshare processes activate share_request {waiting}`"
        in out
    )
    key = actors.request("civil.clerk", **HUKOU)
    assert (actors.status(key)["version"], actors.status(key)["status"]) == (shipped, "running")

    status, out, err = cli(
        capsys, db_url, actors.clock, "processes", "activate", "share_request", str(waiting)
    )
    assert f"share_request: version {waiting} is active now (before: version {shipped})" in out
    key = actors.request("civil.clerk", **HUKOU)
    assert (actors.status(key)["version"], actors.status(key)["status"]) == (waiting, "incident")


def test_activating_a_version_that_does_not_exist_names_it(actors, db_url, capsys):
    deployed = actors.run(
        lambda s: ", ".join(
            str(d.version) for d in list_definitions(s) if d.process_id == "share_request"
        )
    )
    status, out, err = cli(
        capsys, db_url, actors.clock, "processes", "activate", "share_request", "99"
    )
    assert status == 2
    assert f"Process share_request has no version 99 (deployed versions: {deployed})." in err
    status, out, err = cli(capsys, db_url, actors.clock, "processes", "activate", "no_such", "1")
    assert status == 2
    assert "Process no_such has no version 1 (deployed versions: -)." in err
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(AuditEvent))) == 0


def test_facts_a_script_records_must_be_registered_with_their_fields(processes_copy, monkeypatch):
    if "fact" not in scripting.BUILTIN_HELPERS:  # until the fact helper is merged
        monkeypatch.setattr(scripting, "BUILTIN_HELPERS", (*scripting.BUILTIN_HELPERS, "fact"))
    handlers = build_engine(Handlers(facts={"probe_reply": FactKind(("decision",))})).handlers
    mutate(
        processes_copy,
        "share_request.bpmn",
        REMINDER,
        REMINDER.replace(
            "<bpmn:script>",
            "<bpmn:script>fact('probe_reply', decision='late')\n"
            "fact('probe_replied', decision='late')\n"
            "fact('probe_reply', decison='late')\n",
        ),
    )
    parsed, problems = parse_directory(processes_copy, handlers)
    found = [str(p) for p in problems]
    assert len(found) == 2, found
    assert found[0].startswith(
        "share_request.bpmn: send_reminder: script, line 2: unknown fact 'probe_replied' (facts: "
    )
    assert found[1] == (
        "share_request.bpmn: send_reminder: script, line 3: Fact probe_reply: missing decision; "
        "unknown decison."
    )
