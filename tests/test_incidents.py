"""No faulty instance stalls the others: every failure is an incident naming its element, set
aside with backoff, retried after a fix (issue 10)."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.app import build_engine
from engine.workflow import incidents
from engine.workflow.deployment import activate, active_definition, definition_of, deploy
from engine.workflow.handlers import Handlers
from engine.workflow.models import Incident, ProcessDefinition, ProcessInstance
from engine.workflow.runtime import start_instance
from engine.workflow.timers import run_worker, sweep
from tests.conftest import HUKOU
from tests.test_share_request_process import SCOPE
from tests.test_web import Browser, app  # noqa: F401

PROBE = Path(__file__).parent / "data" / "failure_probe"
FLAKY = {"broken": True}


def _archive(ctx, **_args):
    ctx.audit("archived")


def _flaky_write(ctx, **_args):
    if FLAKY["broken"]:
        raise RuntimeError("the archive store refused the write")
    ctx.audit("flaky_written")


ALL_ACTIONS = Handlers(actions={"archive_case": _archive, "flaky_write": _flaky_write})
# the same engine after a code change dropped the archive action
WITHOUT_ARCHIVE = Handlers(actions={"flaky_write": _flaky_write})


@pytest.fixture
def sessions(session_factory, engine):
    """Session factories on the test database: the fixed engine and a broken one."""
    FLAKY["broken"] = True
    fixed = build_engine(ALL_ACTIONS).sessions(engine)
    deploy_probe(fixed)
    return {"fixed": fixed, "broken": build_engine(WITHOUT_ARCHIVE).sessions(engine)}


def deploy_probe(factory):
    """Deploy the probe process and make it the active version (an earlier test of the session
    may have deployed it already and another version may be active since)."""
    clock = _clock_at("2026-09-18T09:00:00+08:00")
    with factory() as s, s.begin():
        for deployed in deploy(s, clock, PROBE):
            activate(s, clock, definition_of(s, deployed))


def _clock_at(when):
    from engine.clock import FakeClock

    return FakeClock(when)


def _start(factory, clock, **data):
    data = {"fire_at": "2026-09-18T11:00:00+08:00", "failure": "none", **data}
    with factory() as s, s.begin():
        definition = active_definition(s, "failure_probe")
        bindings = {"provider": 1, "requester": 2}
        return start_instance(s, clock, definition, data, bindings, None).business_key


def _instance(factory, key):
    with factory() as s:
        inst = s.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))
        rows = s.scalars(select(Incident).where(Incident.instance_id == inst.id)).all()
        return inst, rows


FAILURES = {
    "unknown_role": ({"audience": "nobody"}, "Role nobody is not bound", {"audience": "provider"}),
    "unknown_action": ({}, "Unknown action archive_case", None),
    "effect_error": ({}, "the archive store refused the write", None),
    "script_error": ({"total": 10, "count": 0}, "ZeroDivisionError", {"count": 2}),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failing_instance_never_keeps_a_healthy_one_from_firing(sessions, clock, failure):
    data, message, correction = FAILURES[failure]
    factory = sessions["broken"]
    bad = _start(factory, clock, failure=failure, **data)  # started first: due first
    good = _start(factory, clock)
    clock.set("2026-09-18T11:01:00+08:00")

    assert sweep(factory, clock) == 2

    assert _instance(factory, good)[0].status == "completed"
    inst, rows = _instance(factory, bad)
    assert inst.status == "incident"
    assert len(rows) == 1 and rows[0].element_id == "probe_step" and rows[0].attempts == 1
    assert message in rows[0].error
    assert "probe_step (Probe step)" in inst.incident
    assert inst.next_due_at == clock.now() + timedelta(minutes=1)  # set aside with backoff
    assert sweep(factory, clock) == 0  # not taken again at once

    clock.advance(minutes=1)
    assert sweep(factory, clock) == 1  # the worker retries on its own, backing off further
    inst, rows = _instance(factory, bad)
    assert rows[0].attempts == 2 and inst.next_due_at == clock.now() + timedelta(minutes=2)

    # the fix: the code has the action again, the store works again, or the data is corrected
    FLAKY["broken"] = False
    with sessions["fixed"]() as s, s.begin():
        incidents.retry(s, clock, bad, None, correction)
    inst, rows = _instance(factory, bad)
    assert inst.status == "completed" and inst.incident is None
    assert rows[0].resolved_at == clock.now()
    with factory() as s:
        assert incidents.list_incidents(s)[1] == 0


def test_the_worker_loop_survives_a_failing_instance(sessions, clock):
    factory = sessions["broken"]
    bad = _start(factory, clock, failure="unknown_action")
    good = _start(factory, clock)
    clock.set("2026-09-18T11:01:00+08:00")
    run_worker(factory, clock, once=True)
    assert _instance(factory, good)[0].status == "completed"
    assert _instance(factory, bad)[0].status == "incident"


def test_automatic_retries_stop_after_the_last_and_wait_for_an_administrator(sessions, clock):
    factory = sessions["broken"]
    bad = _start(factory, clock, failure="unknown_action")
    clock.set("2026-09-18T11:01:00+08:00")
    for _ in range(10):
        sweep(factory, clock)
        clock.advance(hours=2)
    inst, rows = _instance(factory, bad)
    assert inst.status == "incident" and inst.next_due_at is None
    assert rows[0].attempts == 7  # the first failure and six automatic retries
    with factory() as s:
        view = incidents.list_incidents(s)[0][0]
    assert view.next_retry_at is None and view.element_id == "probe_step"


def test_a_failure_right_after_the_start_keeps_the_started_instance(sessions, clock):
    factory = sessions["broken"]
    key = _start(factory, clock, failure="unknown_action", fire_at="2026-09-18T09:00:00+08:00")
    inst, rows = _instance(factory, key)
    assert inst.status == "incident" and rows[0].element_id == "probe_step"
    with sessions["fixed"]() as s, s.begin():
        incidents.retry(s, clock, key)
    assert _instance(factory, key)[0].status == "completed"


def test_a_looping_script_is_stopped_by_its_budget(sessions, clock, monkeypatch):
    monkeypatch.setenv("GOVSHARE_SCRIPT_SECONDS", "1")
    factory = sessions["fixed"]
    started = time.monotonic()
    key = _start(factory, clock, failure="loop", fire_at="2026-09-18T09:00:00+08:00")
    assert time.monotonic() - started < 10
    inst, rows = _instance(factory, key)
    assert inst.status == "incident" and "longer than 1 s" in rows[0].error


def test_operators_list_and_retry_incidents_at_the_command_line(sessions, clock, db_url, capsys):
    from engine.cli import main

    key = _start(sessions["broken"], clock, failure="script_error", total=1, count=0)
    clock.set("2026-09-18T11:01:00+08:00")
    sweep(sessions["broken"], clock)
    main(["--database", db_url, "--now", "2026-09-18T11:05:00+08:00", "incidents"])
    out = capsys.readouterr().out
    assert key in out and "probe_step (Probe step)" in out and "ZeroDivisionError" in out
    main(["--database", db_url, "incidents", "--retry", key, "--set", "count=4"])
    assert f"{key} completed" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["--database", db_url, "incidents", "--retry", key])
    assert exit_.value.code == 2
    assert "no incident to retry" in capsys.readouterr().err


# -- a looping script inside a share request, while others go on ---------------------------
LOOP = "n = 0\nwhile purpose == 'LOOP' and n &gt;= 0:\n    n = n + 1\n"


@pytest.fixture
def looping_share_request(session_factory, tmp_path, monkeypatch):
    """share_request with a script that loops for one purpose, as the active version."""
    monkeypatch.setenv("GOVSHARE_SCRIPT_SECONDS", "2")
    shutil.copytree(Path(__file__).parent.parent / "processes", tmp_path / "p")
    bpmn = tmp_path / "p" / "share_request.bpmn"
    text = bpmn.read_text("utf-8")
    at = text.index("<bpmn:script>", text.index('<bpmn:scriptTask id="prepare"')) + len(
        "<bpmn:script>"
    )
    bpmn.write_text(text[:at] + LOOP + text[at:])
    clock = _clock_at("2026-09-18T09:00:00+08:00")
    with session_factory() as s, s.begin():
        original = active_definition(s, "share_request").id
        deploy(s, clock, tmp_path / "p")
    yield
    with session_factory() as s, s.begin():
        activate(s, clock, s.get(ProcessDefinition, original))


def test_a_looping_share_request_is_an_incident_while_others_complete(
    looping_share_request, actors
):
    outcome: dict = {}

    def loop():
        started = time.monotonic()
        outcome["key"] = actors.request("civil.clerk", **{**HUKOU, "purpose": "LOOP"})
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=loop)
    thread.start()
    done = []
    for _ in range(3):
        key = actors.request("hrss.clerk", **HUKOU)
        actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
        done.append(actors.status(key))
    thread.join(timeout=30)

    assert outcome["seconds"] < 10
    looping = actors.status(outcome["key"])
    assert looping["status"] == "incident" and "prepare" in looping["incident"]
    assert "longer than 2 s" in looping["incident"]
    assert [d["status"] for d in done] == ["completed"] * 3
    assert all(d["grants"] for d in done)


def test_administrators_see_and_retry_incidents_in_the_browser(sessions, clock, app):  # noqa: F811

    key = _start(
        sessions["fixed"],
        clock,
        failure="script_error",
        total=1,
        count=0,
        fire_at="2026-09-18T09:00:00+08:00",
    )
    admin = Browser(app, "data.admin")
    page = admin.get("/admin/incidents/").get_data(as_text=True)
    assert key in page and "Probe step" in page and "ZeroDivisionError" in page
    assert "流程故障" in page  # the navigation shows the page to administrators, in Chinese
    r = admin.post(f"/admin/incidents/{key}/retry", page="/admin/incidents/", follow_redirects=True)
    assert "仍然失败" in r.get_data(as_text=True)
    assert Browser(app, "civil.clerk").get("/admin/incidents/").status_code == 403
    assert "流程故障" not in Browser(app, "civil.clerk").get("/inbox/mine").get_data(as_text=True)


def test_an_instance_that_cannot_even_be_saved_is_set_aside_and_the_sweep_goes_on(
    sessions, clock, monkeypatch
):
    from engine.workflow import timers

    factory = sessions["fixed"]
    bad = _start(factory, clock)
    good = _start(factory, clock)
    real = timers.fire_timers

    def fire(session, clock_, instance):
        if instance.business_key == bad:
            raise RuntimeError("the database refused the row")  # e.g. a failing commit
        return real(session, clock_, instance)

    monkeypatch.setattr(timers, "fire_timers", fire)
    clock.set("2026-09-18T11:01:00+08:00")
    sweep(factory, clock)
    assert _instance(factory, good)[0].status == "completed"
    inst, _ = _instance(factory, bad)
    assert inst.status == "incident" and inst.next_due_at > clock.now() + timedelta(hours=1)
    assert sweep(factory, clock) == 0  # set aside: the next sweeps serve the others


def test_a_retry_that_leaves_the_instance_stuck_keeps_backing_off(sessions, clock):
    factory = sessions["broken"]
    bad = _start(factory, clock, failure="unknown_action")
    clock.set("2026-09-18T11:01:00+08:00")
    for minutes in (1, 2, 4):
        sweep(factory, clock)
        clock.advance(minutes=minutes)
    _, rows = _instance(factory, bad)
    assert len(rows) == 1 and rows[0].attempts == 3  # one incident, counting on


def test_odd_page_numbers_are_read_as_the_first_page(app):  # noqa: F811
    admin = Browser(app, "data.admin")
    for page in ("²", "9" * 30, "-1", "abc"):
        assert admin.get(f"/admin/incidents/?page={page}").status_code == 200
    clerk = Browser(app, "pubsec.clerk")
    assert clerk.get("/inbox/queue?counterpart=" + "9" * 30).status_code == 200


def test_the_database_holds_at_most_one_active_version_per_process(session_factory):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with session_factory() as s, s.begin():
            active = active_definition(s, "share_request")
            s.execute(
                ProcessDefinition.__table__.update()
                .where(
                    ProcessDefinition.process_id == "share_request",
                    ProcessDefinition.id != active.id,
                )
                .values(active=True)
            )
            s.add(
                ProcessDefinition(
                    process_id="share_request",
                    version=999,
                    content_hash="x" * 64,
                    name="copy",
                    source_file="x.bpmn",
                    bpmn_xml="<x/>",
                    spec_json="{}",
                    forms={},
                    task_meta={},
                    deployed_at=active.deployed_at,
                    active=True,
                )
            )
            s.flush()


def test_resolving_an_incident_is_audited(sessions, clock):
    from engine.audit import AuditEvent

    factory = sessions["broken"]
    bad = _start(factory, clock, failure="effect_error")
    clock.set("2026-09-18T11:01:00+08:00")
    sweep(factory, clock)
    FLAKY["broken"] = False
    clock.advance(minutes=1)
    sweep(factory, clock)  # the automatic retry succeeds
    inst, rows = _instance(factory, bad)
    assert inst.status == "completed" and rows[0].resolved_at is not None
    with factory() as s:
        kinds = s.scalars(
            select(AuditEvent.kind).where(AuditEvent.instance_id == inst.id).order_by(AuditEvent.id)
        ).all()
    assert kinds.count("incident") == 1 and "incident_resolved" in kinds
