"""Process facts: reports, the evaluation, the dossier and the dashboard count what processes
decided (``fact(kind, **values)``), so renaming tasks and form fields in a modeler changes no
figure; a fact the engine does not know, or one missing a field, is an incident of its element."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from engine.app import build_engine
from engine.oversight import evaluation
from engine.oversight.reports import figures, public_figures
from engine.sharing.dispute_board import board_for
from engine.sharing.disputes import dossier
from engine.sharing.requests import instance_by_key
from engine.workflow import runtime
from engine.workflow.deployment import activate, default_processes_dir, definition_of, deploy
from engine.workflow.handlers import FactKind, Handlers
from engine.workflow.models import HumanTask, ProcessDefinition, ProcessFact, ProcessInstance
from engine.workflow.scripting import BUILTIN_HELPERS, Effects, helper_names, make_script_engine
from tests.conftest import HUKOU, Actors, clear_rows
from tests.test_catalog_update_process import _publish_change, _register
from tests.test_share_request_process import SCOPE

# task ids renamed in the copy of processes/ (file, old id, new id), and a renamed form field
RENAMED_TASKS = [
    ("share_request.bpmn", "provider_review", "reply_to_request"),
    ("negotiation.bpmn", "requester_position", "state_the_need"),
    ("negotiation.bpmn", "provider_position", "answer_the_need"),
    ("negotiation.bpmn", "coordinate", "settle_dispute"),
    ("catalog_update.bpmn", "update_catalog", "refresh_catalog"),
    ("annual_evaluation.bpmn", "submit_annual_report", "report_on_the_year"),
]
RENAMED_FIELD = ("review_reason", "grounds_for_refusal")  # in share_request and its form


def rename_element(path: Path, old: str, new: str) -> None:
    """Rename an element id everywhere a modeler would: its id, every reference to it (flows,
    lanes, boundary events) and its diagram shape."""
    text = path.read_text("utf-8")
    renamed = re.sub(rf'(?<=["> ]){re.escape(old)}(?=["<])', new, text)
    renamed = renamed.replace(f'"{old}_di"', f'"{new}_di"')
    assert renamed != text and f'"{old}"' not in renamed
    path.write_text(renamed, "utf-8")


def renamed_copy(target: Path) -> dict[str, str]:
    """A copy of processes/ whose tasks and the provider's reasons field have other names."""
    shutil.copytree(default_processes_dir(), target)
    for file, old, new in RENAMED_TASKS:
        rename_element(target / file, old, new)
    old, new = RENAMED_FIELD
    for path in (target / "share_request.bpmn", target / "forms/provider_review.schema.json"):
        path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")
    return {old: new for _file, old, new in RENAMED_TASKS} | {RENAMED_FIELD[0]: RENAMED_FIELD[1]}


@pytest.fixture
def restore_processes(engine, clock):
    """Drop the versions a test deploys and make the shipped ones active again."""
    factory = build_engine().sessions(engine)
    with factory() as s:
        before = set(s.scalars(select(ProcessDefinition.id)))
        active = list(s.scalars(select(ProcessDefinition.id).where(ProcessDefinition.active)))
    yield
    clear_rows(engine)
    with factory() as s, s.begin():
        for definition_id in active:
            activate(s, clock, s.get(ProcessDefinition, definition_id))
        s.execute(delete(ProcessDefinition).where(ProcessDefinition.id.not_in(before)))


def scenario(actors: Actors, clock, name: dict[str, str]) -> dict:
    """Requests answered on time, late and refused, one negotiated and coordinated, catalog
    updates on time and late, annual reports on time, late and missing; then every figure."""

    def n(task: str) -> str:  # the name of a task or field in this version
        return name.get(task, task)

    refuse = {"review_decision": "refuse", n("review_reason"): "申请的信息项超出低保核定所需范围"}
    clock.set("2026-09-18T10:00:00+08:00")
    a = actors.request("civil.clerk", **HUKOU)
    b = actors.request("civil.clerk", **HUKOU)
    c = actors.request("health.clerk", **HUKOU)
    actors.request(
        "civil.clerk", **{**HUKOU, "resource_code": "ZT-SB/0001", "info_items": ["参保状态"]}
    )
    updates = _register(actors) + _register(actors)
    clock.set("2026-09-22T10:00:00+08:00")
    actors.complete("pubsec.clerk", a, n("provider_review"), review_decision="approve", **SCOPE)
    actors.complete("pubsec.clerk", b, n("provider_review"), **refuse)
    actors.complete("civil.clerk", b, "after_refusal", next_step="negotiate")
    actors.complete("civil.clerk", b, n("requester_position"), requester_position="低保核定确需")
    actors.complete(
        "pubsec.clerk",
        b,
        n("provider_position"),
        provider_position="涉及个人隐私",
        negotiation_result="failed",
    )
    clock.set("2026-09-24T10:00:00+08:00")
    actors.complete(
        "data.coord",
        b,
        n("coordinate"),
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="依据不足",
    )
    board = actors.run(lambda s: board_for(s, clock, actors.user(s, "data.coord")))
    clock.set("2026-10-09T10:00:00+08:00")
    _publish_change(actors)
    actors.complete(
        "civil.clerk",
        updates[0],
        n("update_catalog"),
        update_choice="updated",
        update_note="已更新",
    )
    clock.set("2026-10-13T10:00:00+08:00")
    actors.complete("pubsec.clerk", c, n("provider_review"), review_decision="approve", **SCOPE)
    clock.set("2026-10-20T10:00:00+08:00")
    actors.complete(
        "civil.clerk",
        updates[1],
        n("update_catalog"),
        update_choice="updated",
        update_note="迟到的更新",
    )
    clock.set("2027-01-04T09:00:00+08:00")
    actors.run(lambda s: evaluation.start_due_campaigns(s, clock))
    report = n("submit_annual_report")
    actors.complete("pubsec.clerk", _report_of(actors, "pubsec"), report, achievements="按时报送")
    clock.set("2027-02-01T00:00:01+08:00")
    actors.sweep()
    actors.complete("civil.clerk", _report_of(actors, "civil"), report, achievements="迟报")
    return {
        **actors.run(lambda s: _everything(s, actors, clock, b)),
        "dashboard": (
            board.open_total,
            board.decided_this_year,
            board.median_days_to_decide,
        ),
    }


def _report_of(actors: Actors, slug: str) -> str:
    def go(s):
        department = actors.user(s, f"{slug}.clerk").department_id
        return s.scalar(
            select(ProcessInstance.business_key).where(
                ProcessInstance.provider_department_id == department,
                ProcessInstance.summary["report_year"].as_integer() == 2026,
            )
        )

    return actors.run(go)


def _everything(s, actors: Actors, clock, disputed: str) -> dict:
    pubsec, civil = (actors.user(s, f"{u}.clerk").department_id for u in ("pubsec", "civil"))
    d = dossier(s, instance_by_key(s, disputed), clock)
    report = evaluation.compiled(s, 2026)
    return {
        "region": figures(s, 2026, reasons=True),
        "pubsec": figures(s, 2026, pubsec, reasons=True),
        "civil": figures(s, 2026, civil, reasons=True),
        "public": public_figures(s, 2026),
        "dossier": (
            d["provider_reasons"],
            d["requester_position"],
            d["provider_position"],
            d["decision"].decision,
            d["decision"].reasons,
        ),
        "units": [
            (u["name"], u["submitted"], u["on_time"], u["overdue"], u["report"].get("achievements"))
            for u in report["units"]
        ],
    }


def test_renaming_tasks_and_fields_in_a_modeler_changes_no_figure(
    actors, clock, engine, tmp_path, restore_processes
):
    shipped = scenario(actors, clock, {})
    assert (shipped["pubsec"]["answered"], shipped["pubsec"]["answered_on_time"]) == (3, 2)
    assert shipped["pubsec"]["refusal_reasons"] == [
        {"reason": "申请的信息项超出低保核定所需范围", "count": 1}
    ]
    assert (shipped["pubsec"]["negotiations"], shipped["pubsec"]["coordinations"]) == (1, 1)
    assert shipped["pubsec"]["median_days_to_answer"] == 3
    assert (shipped["civil"]["catalog_updates"], shipped["civil"]["catalog_updates_on_time"]) == (
        2,
        1,
    )
    assert shipped["dossier"] == (
        "申请的信息项超出低保核定所需范围",
        "低保核定确需",
        "涉及个人隐私",
        "refusal_upheld",
        "依据不足",
    )
    assert shipped["dashboard"] == (0, 1, 2)  # 09-22 → 09-24: the 23rd and the 24th
    units = {u[0]: u[1:] for u in shipped["units"]}
    assert units["自治区公安厅"] == (True, True, False, "按时报送")
    assert units["自治区民政厅"] == (True, False, True, "迟报")
    assert units["自治区教育厅"] == (False, False, True, None)

    clear_rows(engine)
    names = renamed_copy(tmp_path / "processes")
    deployed = actors.run(
        lambda s: [(d.process_id, d.created) for d in deploy(s, clock, tmp_path / "processes")]
    )
    assert {p for p, new in deployed if new} == {
        "share_request",
        "negotiation",
        "catalog_update",
        "annual_evaluation",
    }
    renamed = scenario(actors, clock, names)
    tasks = actors.run(lambda s: set(s.scalars(select(HumanTask.task_name))))
    assert "reply_to_request" in tasks and "provider_review" not in tasks  # the copy really ran
    assert renamed == shipped


# -- the helper and its checks --------------------------------------------------------------
PROBE = Handlers(
    facts={
        "probe_answered": FactKind(
            required=("decision", "due"), optional=("reasons", "note"), decisions=("yes", "no")
        )
    }
)


@pytest.fixture
def probe(session_factory, engine, clock, tmp_path, restore_processes):
    """Actors whose engine knows the test's fact kind, and the probe process deployed."""
    actors = Actors(build_engine(PROBE).sessions(engine), clock)
    shutil.copy(Path(__file__).parent / "data" / "fact_probe.bpmn", tmp_path)
    definition_id = actors.run(lambda s: definition_of(s, deploy(s, clock, tmp_path)[0]).id)

    def start(**data):
        def go(s):
            user = actors.user(s, "pubsec.clerk")
            defaults = {
                "kind": "probe_answered",
                "role": "provider",
                "decision": "yes",
                "due": "2026-09-30T00:00:00+08:00",
                "omit_due": False,
            }
            return runtime.start_instance(
                s,
                clock,
                s.get(ProcessDefinition, definition_id),
                {**defaults, **data},
                {"provider": user.department_id},
                user.id,
            ).id

        instance_id = actors.run(go)
        return actors.run(lambda s: s.get(ProcessInstance, instance_id))

    return actors, start


def facts(actors: Actors, instance_id: int) -> list[ProcessFact]:
    return actors.run(
        lambda s: list(
            s.scalars(
                select(ProcessFact)
                .where(ProcessFact.instance_id == instance_id)
                .order_by(ProcessFact.id)
            )
        )
    )


def test_a_fact_is_written_with_its_department_actor_and_deadline(probe):
    actors, start = probe
    instance = start()
    assert instance.status == "completed"
    [fact] = facts(actors, instance.id)
    pubsec = actors.run(lambda s: actors.user(s, "pubsec.clerk"))
    assert (fact.kind, fact.role, fact.department_id, fact.actor_id) == (
        "probe_answered",
        "provider",
        pubsec.department_id,
        pubsec.id,
    )
    assert (fact.decision, fact.met, fact.details) == ("yes", True, {"note": "probe"})
    assert fact.due_at.isoformat() == "2026-09-29T16:00:00+00:00"


def test_a_fact_after_its_deadline_is_missed_and_without_a_role_is_about_the_actor(probe):
    actors, start = probe
    instance = start(due="2026-09-01T00:00:00+08:00", role=None)
    [fact] = facts(actors, instance.id)
    pubsec = actors.run(lambda s: actors.user(s, "pubsec.clerk"))
    assert fact.met is False and (fact.role, fact.department_id) == (None, pubsec.department_id)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "no_such_fact"}, "Unknown fact no_such_fact."),
        ({"omit_due": True}, "Fact probe_answered: missing due; unknown -."),
        ({"decision": "maybe"}, "decision maybe is not one of yes, no."),
        ({"due": "next week"}, "due is not an instant: next week."),
        ({"role": "authority"}, "Role authority is not bound in this instance"),
    ],
)
def test_a_fact_the_engine_cannot_record_is_an_incident_naming_its_element(probe, data, error):
    actors, start = probe
    instance = start(**data)
    assert instance.status == "incident"
    assert (
        instance.incident.startswith("record_fact (Record the fact): ")
        and error in instance.incident
    )
    assert facts(actors, instance.id) == []


def test_fact_is_one_of_the_helpers_scripts_may_call():
    handlers = build_engine().handlers
    names = helper_names(handlers)
    assert "fact" in BUILTIN_HELPERS and names[: len(BUILTIN_HELPERS)] == BUILTIN_HELPERS
    assert {"record_breach", "issue_grant"} <= set(names)
    env = make_script_engine(lambda: None, None, Effects(), handlers.effects).environment
    assert set(env.globals) == set(names)


def test_every_kind_a_shipped_process_records_is_registered():
    kinds = set(build_engine().handlers.facts)
    used = set()
    for path in default_processes_dir().glob("*.bpmn"):
        used |= set(re.findall(r"fact\('([a-z_]+)'", path.read_text("utf-8")))
    assert used and used <= kinds
