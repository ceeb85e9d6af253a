"""The process cockpit (issue 14): versions with their instances per state, activation and
rollback with a reason, the instance list paged in constant queries, and suspending an instance
(its timers wait, its tasks refuse every action, resuming brings it back)."""

from __future__ import annotations

import shutil
import threading

import pytest
from sqlalchemy import select

from engine.app import build_engine
from engine.audit import AuditEvent
from engine.cli import main
from engine.directory import user_by_name
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.workflow import cockpit, incidents
from engine.workflow import tasks as task_service
from engine.workflow.deployment import active_definition, deploy
from engine.workflow.inbox import list_view
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.runtime import start_instance
from engine.workflow.timers import sweep
from tests import sql_counting
from tests.conftest import HUKOU
from tests.test_incidents import ALL_ACTIONS, PROBE, _start, deploy_probe
from tests.test_web import Browser, app  # noqa: F401

FIRE_AT = "2026-09-18T11:00:00+08:00"
LATER = "2026-12-31T11:00:00+08:00"


@pytest.fixture
def probe(session_factory, engine):
    """Sessions whose engine knows the probe's actions, with the probe process deployed."""
    factory = build_engine(ALL_ACTIONS).sessions(engine)
    deploy_probe(factory)
    return factory


def statements(engine):
    return sql_counting.statements(engine, keep=lambda s: s.lstrip().upper().startswith("SELECT"))


def admin(s):
    return user_by_name(s, "data.admin")


def _status(factory, key):
    with factory() as s:
        return s.scalar(select(ProcessInstance.status).where(ProcessInstance.business_key == key))


def _deploy_new_probe_version(factory, clock, tmp_path, tag):
    """A changed copy of the probe process, deployed as a new version (not active)."""
    folder = tmp_path / tag
    shutil.copytree(PROBE, folder)
    bpmn = folder / "failure_probe.bpmn"
    bpmn.write_text(
        bpmn.read_text("utf-8").replace("Failure probe (tests)", f"Failure probe ({tag})"), "utf-8"
    )
    with factory() as s, s.begin():
        [deployed] = deploy(s, clock, folder, activate=False, actor_id=admin(s).id)
    return deployed.version


# -- versions and counts ------------------------------------------------------------------------
def test_versions_show_their_instances_per_state_from_one_grouped_query(probe, clock, engine):
    factory = probe
    keys = [_start(factory, clock) for _ in range(4)]
    failing = _start(factory, clock, failure="script_error", total=1, count=0)
    clock.set("2026-09-18T11:01:00+08:00")
    sweep(factory, clock)  # four complete, one fails
    with factory() as s, s.begin():
        version = active_definition(s, "failure_probe").version
        waiting = start_instance(
            s,
            clock,
            active_definition(s, "failure_probe"),
            {"fire_at": "2026-09-19T11:00:00+08:00", "failure": "none"},
            {"provider": 1},
            None,
        ).business_key
    with factory() as s, s.begin():
        cockpit.suspend(s, clock, admin(s), waiting, "核对数据")
    with factory() as s:
        user = admin(s)
        with statements(engine) as seen:
            rows = cockpit.overview(s, user)
    [row] = [p for p in rows if p.process_id == "failure_probe"]
    assert len(seen) <= 3  # definitions, grouped counts, who deployed: never per instance
    [current] = [v for v in row.versions if v.version == version]
    assert current.active and row.active_version == version
    assert current.counts == {"running": 0, "incident": 1, "suspended": 1, "completed": 4}
    assert len(keys) == 4 and failing


def test_an_administrator_activates_a_version_and_rolls_back_with_a_reason(probe, clock, tmp_path):
    factory = probe
    with factory() as s:
        before = active_definition(s, "failure_probe").version
    new = _deploy_new_probe_version(factory, clock, tmp_path, "activate")
    with factory() as s:
        row = cockpit.process_row(s, admin(s), "failure_probe")
        assert row.versions[0].deployed_by == admin(s).label
    assert row.active_version == before and row.versions[0].version == new
    assert not row.versions[0].active
    with factory() as s, s.begin():
        with pytest.raises(ValidationFailed) as refused:
            cockpit.activate(s, clock, admin(s), "failure_probe", new, "  ")
        assert "Reason" in str(refused.value.message)
        done = cockpit.activate(s, clock, admin(s), "failure_probe", new, "修正了第三步")
    assert (done.version, done.previous, done.changed) == (new, before, True)
    key = _start(factory, clock)  # new instances start on the new version
    with factory() as s:
        assert (
            s.scalar(
                select(ProcessInstance).where(ProcessInstance.business_key == key)
            ).definition.version
            == new
        )
        row = cockpit.process_row(s, admin(s), "failure_probe")
    assert row.rollback_to == max(v.version for v in row.versions if v.version < new)
    with factory() as s, s.begin():
        back = cockpit.rollback(s, clock, admin(s), "failure_probe", "新版本有误")
    assert back.version == row.rollback_to and back.previous == new
    with factory() as s:
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.kind == "version_activated", AuditEvent.object_ref == "failure_probe")
            .order_by(AuditEvent.id.desc())
            .limit(2)
        ).all()
        assert [e.detail["reason"] for e in events] == ["新版本有误", "修正了第三步"]
        assert all(e.actor_id == admin(s).id for e in events)


def test_rollback_of_the_first_version_is_refused(session_factory, clock):
    with session_factory() as s, s.begin():
        first = cockpit.process_row(s, None, "share_request")
        lowest = min(v.version for v in first.versions)
        if first.active_version == lowest:
            with pytest.raises(Conflict):
                cockpit.rollback(s, clock, None, "share_request", "试一试")


@pytest.mark.parametrize("username", ["civil.clerk", "yinchuan-data.admin"])
def test_only_the_system_administrator_uses_the_cockpit(session_factory, clock, username):
    key = _start_share_request(session_factory, clock)
    with session_factory() as s:
        user = user_by_name(s, username)
        for call in (
            lambda: cockpit.overview(s, user),
            lambda: cockpit.instances(s, user),
            lambda: cockpit.instance_page(s, user, key),
            lambda: cockpit.suspend(s, clock, user, key, "x"),
            lambda: cockpit.rollback(s, clock, user, "share_request", "x"),
            lambda: cockpit.activate(s, clock, user, "share_request", 1, "x"),
        ):
            with pytest.raises(Forbidden):
                call()
    assert _status(session_factory, key) == "running"


# -- the instance list ------------------------------------------------------------------------
def test_instance_pages_cost_the_same_queries_however_many_instances_match(probe, clock, engine):
    factory = probe
    keys = []
    for n in range(130):
        if n % 40 == 0:
            clock.advance(hours=1)
        keys.append(_start(factory, clock, fire_at=LATER))
    filters = cockpit.InstanceFilters(process="failure_probe", state="running")
    seen_keys: list[str] = []
    counts = []
    after = None
    with factory() as s:
        user = admin(s)
        while True:
            with statements(engine) as seen:
                page = cockpit.instances(s, user, filters, after=after, page_size=50)
            counts.append(len(seen))
            seen_keys += [r.business_key for r in page.rows]
            if page.next_after is None:
                break
            after = page.next_after
    assert seen_keys == keys[::-1]  # newest first, each exactly once
    assert page.total == 130 and not page.more
    assert max(counts) <= 5 and len(set(counts[1:])) <= 1
    with factory() as s:
        page = cockpit.instances(
            s, admin(s), cockpit.InstanceFilters(key=keys[5][-6:].lower()), page_size=50
        )
    assert [r.business_key for r in page.rows] == [keys[5]]


def test_the_count_stops_at_the_cap(probe, clock, monkeypatch):
    monkeypatch.setattr(cockpit, "COUNT_CAP", 10)
    for _ in range(12):
        _start(probe, clock, fire_at=LATER)
    with probe() as s:
        page = cockpit.instances(s, admin(s), cockpit.InstanceFilters(process="failure_probe"))
    assert page.total == 11 and page.more


def test_bad_filters_are_refused_naming_each_field(session_factory):
    bad = cockpit.InstanceFilters(
        process="nope", version="x", state="sleeping", started_from="2026-13-01"
    )
    with session_factory() as s:
        with pytest.raises(ValidationFailed) as refused:
            cockpit.instances(s, admin(s), bad)
    assert {d["field"] for d in refused.value.details} == {
        "process",
        "version",
        "state",
        "started_from",
    }
    period = cockpit.InstanceFilters(started_from="2026-09-18", started_to="2026-09-01")
    with session_factory() as s:
        with pytest.raises(ValidationFailed) as refused:
            cockpit.instances(s, admin(s), period)
    assert refused.value.details[0]["field"] == "started_to"


# -- suspend and resume ---------------------------------------------------------------------------
def test_a_suspended_instance_fires_no_timer_until_it_is_resumed(probe, clock):
    factory = probe
    key = _start(factory, clock, fire_at=FIRE_AT)
    with factory() as s, s.begin():
        cockpit.suspend(s, clock, admin(s), key, "等待数据核对")
    clock.set("2026-09-18T12:00:00+08:00")
    assert sweep(factory, clock) == 0  # the worker skips it
    assert _status(factory, key) == "suspended"
    with factory() as s:
        due = s.scalar(
            select(ProcessInstance.next_due_at).where(ProcessInstance.business_key == key)
        )
    assert due is not None  # kept for the resume
    with factory() as s, s.begin():
        change = cockpit.resume(s, clock, admin(s), key, "核对完毕")
    assert (change.before, change.after) == ("suspended", "running")
    assert sweep(factory, clock) == 1  # the overdue timer fires now
    assert _status(factory, key) == "completed"
    with factory() as s:
        kinds = [
            (e.kind, e.detail.get("reason"))
            for e in s.scalars(
                select(AuditEvent)
                .join(ProcessInstance, AuditEvent.instance_id == ProcessInstance.id)
                .where(ProcessInstance.business_key == key)
                .order_by(AuditEvent.id)
            )
        ]
    assert ("instance_suspended", "等待数据核对") in kinds and (
        "instance_resumed",
        "核对完毕",
    ) in kinds
    assert kinds.index(("instance_resumed", "核对完毕")) < [k for k, _ in kinds].index(
        "timers_fired"
    )


def test_an_instance_in_incident_resumes_into_its_incident(probe, clock):
    key = _start(probe, clock, failure="script_error", total=1, count=0)
    clock.set("2026-09-18T11:01:00+08:00")
    sweep(probe, clock)
    with probe() as s, s.begin():
        cockpit.suspend(s, clock, admin(s), key, "先别重试")
    with probe() as s, s.begin():
        with pytest.raises(Conflict) as refused:
            incidents.retry(s, clock, key, None)
    assert "suspended" in str(refused.value.message) and "先别重试" in str(refused.value.message)
    with probe() as s, s.begin():
        assert cockpit.resume(s, clock, admin(s), key).after == "incident"


def _start_share_request(factory, clock):
    from tests.conftest import Actors

    return Actors(factory, clock).request("civil.clerk", **HUKOU)


def test_a_suspended_instances_tasks_refuse_every_action_naming_who_and_why(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: cockpit.suspend(s, clock, admin(s), key, "申请材料存疑"))
    pubsec = "pubsec.clerk"
    for action in (
        lambda s: task_service.claim(s, clock, task_id, user_by_name(s, pubsec)),
        lambda s: task_service.complete(
            s,
            clock,
            task_id,
            user_by_name(s, pubsec),
            {"review_decision": "refuse", "review_reason": "超出职责范围"},
        ),
    ):
        with pytest.raises(Conflict) as refused:
            actors.run(action)
        message = str(refused.value.message)
        assert "suspended" in message and "申请材料存疑" in message
        assert "System Administrator" in message  # who suspended it
    with actors.factory() as s:
        [row] = [
            r for r in list_view(s, user_by_name(s, pubsec), clock, "queue").rows if r.id == task_id
        ]
    assert row.suspended  # the inbox shows it as suspended
    with pytest.raises(Conflict):  # suspending twice says who did it first
        actors.run(lambda s: cockpit.suspend(s, clock, admin(s), key, "again"))
    actors.run(lambda s: cockpit.resume(s, clock, admin(s), key))
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, pubsec)))
    assert actors.status(key)["status"] == "running"


def test_a_completed_instance_cannot_be_suspended(probe, clock):
    key = _start(probe, clock, fire_at="2026-09-18T09:00:00+08:00")
    assert _status(probe, key) == "completed"
    with probe() as s, s.begin():
        with pytest.raises(Conflict):
            cockpit.suspend(s, clock, admin(s), key, "x")
        with pytest.raises(ValidationFailed):
            cockpit.suspend(s, clock, admin(s), key, "")


# -- the command line ---------------------------------------------------------------------------
def test_operators_list_suspend_resume_and_roll_back_at_the_command_line(
    probe, clock, db_url, capsys, tmp_path
):
    key = _start(probe, clock)
    govshare = ["--database", db_url, "--now", "2026-09-18T10:30:00+08:00", "processes"]
    main([*govshare, "instances", "--process", "failure_probe", "--state", "running"])
    out = capsys.readouterr().out
    assert key in out and "1 instance(s) match" in out
    main([*govshare, "suspend", key, "--reason", "核对"])
    assert "suspended" in capsys.readouterr().out
    main([*govshare, "instances", "--state", "suspended", "--json"])
    assert key in capsys.readouterr().out
    main([*govshare, "resume", key])
    assert "resumed" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main([*govshare, "resume", key])
    assert refused.value.code == 2 and "not suspended" in capsys.readouterr().err
    new = _deploy_new_probe_version(probe, clock, tmp_path, "cli")
    main([*govshare[:-1], "processes", "activate", "failure_probe", str(new)])
    capsys.readouterr()
    main([*govshare, "rollback", "failure_probe", "--reason", "回退"])
    assert f"before: version {new}" in capsys.readouterr().out


# -- the web pages ------------------------------------------------------------------------------
def test_the_administrator_opens_the_cockpit_and_others_are_refused(app, actors, clock):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    web = Browser(app, "data.admin")
    html = web.get("/admin/processes/").get_data(as_text=True)
    assert "流程驾驶舱" in html and "数据共享申请" in html
    html = web.get("/admin/processes/instances?process=share_request").get_data(as_text=True)
    assert key in html
    assert web.get("/admin/processes/instances?started_from=2026-02-30").status_code == 422
    html = web.get(f"/admin/processes/instances/{key}").get_data(as_text=True)
    assert "审核共享申请" in html  # the open task
    r = web.post(
        f"/admin/processes/instances/{key}/suspend",
        {"reason": "核对材料"},
        page=f"/admin/processes/instances/{key}",
    )
    assert r.status_code == 302 and actors.status(key)["status"] == "suspended"
    task_id = actors.open_task(key, "provider_review")
    clerk = Browser(app, "pubsec.clerk")
    r = clerk.post(f"/tasks/{task_id}/claim", page=f"/tasks/{task_id}")
    assert r.status_code == 409 and "该流程实例已暂停" in r.get_data(as_text=True)
    page = clerk.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "该流程实例已暂停" in page and "核对材料" in page and "签收</button>" not in page
    for username in ("civil.clerk", "yinchuan-data.admin"):
        other = Browser(app, username)
        assert other.get("/admin/processes/").status_code == 403
        assert other.get(f"/admin/processes/instances/{key}").status_code == 403
        r = other.post(f"/admin/processes/instances/{key}/resume", {}, page="/inbox/mine")
        assert r.status_code == 403
    assert actors.status(key)["status"] == "suspended"


def test_a_claim_racing_a_suspension_waits_and_is_told_who_suspended(actors, clock):
    """The suspension holds the instance (a row lock on PostgreSQL, the write lock on SQLite);
    the claim waits for it and then finds the instance suspended: exactly one wins."""
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    outcome: dict[str, object] = {}

    def claim() -> None:
        try:
            actors.run(
                lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk"))
            )
            outcome["claim"] = "claimed"
        except Conflict as err:
            outcome["claim"] = str(err.message)

    with actors.factory() as s, s.begin():
        cockpit.suspend(s, clock, admin(s), key, "并发核对")
        racer = threading.Thread(target=claim)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive()  # waiting for the suspension's transaction
    racer.join(30)
    assert "并发核对" in str(outcome["claim"])
    assert actors.run(lambda s: s.get(HumanTask, task_id).assignee_id) is None


def test_bad_input_on_the_pages_is_refused_and_changes_nothing(app, actors, clock):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    web = Browser(app, "data.admin")
    page = f"/admin/processes/instances/{key}"
    r = web.post(f"{page}/suspend", {"reason": "   "}, page=page, follow_redirects=True)
    assert r.status_code == 200 and "原因" in r.get_data(as_text=True)
    assert actors.status(key)["status"] == "running"
    r = web.post(f"{page}/resume", {}, page=page, follow_redirects=True)
    assert "GX-" in r.get_data(as_text=True) and actors.status(key)["status"] == "running"
    assert web.get("/admin/processes/share_request/activate/999").status_code == 404
    assert web.get("/admin/processes/nope/activate/1").status_code == 404
    assert web.get("/admin/processes/instances/GX-0000").status_code == 404
    r = web.get("/admin/processes/instances?version=%EF%BC%91&key=%00")
    assert r.status_code == 422 and "版本" in r.get_data(as_text=True)
    with actors.factory() as s:
        active = cockpit.process_row(s, None, "share_request").active_version
    form = f"/admin/processes/share_request/activate/{active}"
    r = web.post(form, {"reason": ""}, page="/admin/processes/", follow_redirects=True)
    assert r.status_code == 200  # back to the confirmation, told the reason is required


def test_the_command_line_names_a_bad_filter(db_url, capsys, session_factory):
    with pytest.raises(SystemExit) as refused:
        main(["--database", db_url, "processes", "instances", "--from", "2026-02-30"])
    assert refused.value.code == 2 and "Started from" in capsys.readouterr().err
