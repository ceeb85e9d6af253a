"""Versioned rule sets (issue 14, item 8): a case keeps the limits of the version in force when it
started; a new version applies from its effective date to new cases only; only the system
administrator drafts, edits and publishes; refusals name the field; pages show the rule applied."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import rules
from engine.audit import AuditEvent
from engine.cli import main
from engine.directory import user_by_name
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.rules import admin
from engine.sharing import requests as share_requests
from tests.conftest import HUKOU
from tests.test_web import Browser, app  # noqa: F401

NATIONAL = "《政务数据共享条例》第十五条"


def _as(session, name):
    return user_by_name(session, name)


def _new_version(actors, clock, effective, **form):
    def go(s):
        me = _as(s, "data.admin")
        draft = admin.create_draft(s, clock, me)
        admin.update_draft(s, clock, me, draft.version, form)
        return admin.publish(s, clock, me, draft.version, effective).version

    return actors.run(go)


def _instance(actors, key):
    def go(s):
        inst = share_requests.instance_by_key(s, key)
        return inst.rule_set_version, share_requests.request_status(s, inst)

    return actors.run(go)


def test_a_case_keeps_the_version_it_started_under_and_new_ones_take_the_new(actors, clock):
    before = actors.request("civil.clerk", **HUKOU)  # Friday 2026-09-18
    version = _new_version(actors, clock, "2026-09-21", days_reply="8", name="试行缩短答复期限")
    same_day = actors.request("civil.clerk", **HUKOU)  # not yet in force
    clock.set("2026-09-21T09:00:00+08:00")
    after = actors.request("civil.clerk", **HUKOU)

    v_before, st_before = _instance(actors, before)
    v_same, st_same = _instance(actors, same_day)
    v_after, st_after = _instance(actors, after)
    assert (v_before, v_same, v_after) == (1, 1, version)
    assert st_before["summary"]["reply_days"] == 10 and st_same["summary"]["reply_days"] == 10
    assert st_after["summary"]["reply_days"] == 8
    assert st_after["reply_deadline"]["working_days"] == 8
    assert st_before["reply_deadline"]["rule"]["version"] == 1
    assert st_after["reply_deadline"]["rule"] == {
        "limit": "reply",
        "days": 8,
        "article": "《办法》第十一条",
        "statutory": True,
        "version": version,
        "rule_set": "试行缩短答复期限",
    }
    assert st_before["reply_deadline"]["working_days"] == 10


def test_every_start_path_records_the_version(actors, clock, db):
    actors.request("civil.clerk", **HUKOU)
    from engine.workflow.models import ProcessInstance

    versions = set(db.scalars(select(ProcessInstance.rule_set_version)))
    assert versions == {1}


def test_a_statutory_limit_may_be_shortened_but_lengthened_only_on_a_national_article(
    actors, clock
):
    def go(s):
        me = _as(s, "data.admin")
        draft = admin.create_draft(s, clock, me)
        with pytest.raises(ValidationFailed) as err:
            admin.update_draft(s, clock, me, draft.version, {"days_reply": "12"})
        fields = [d["field"] for d in err.value.details]
        assert fields == ["article_reply"]
        assert "the provider answers a share request" in str(err.value.message)
        # the national regulation prevails where it differs (art. 24)
        saved = admin.update_draft(
            s, clock, me, draft.version, {"days_reply": "12", "article_reply": NATIONAL}
        )
        assert saved.limit("reply").days == 12 and saved.limit("reply").statutory
        # a limit the measures leave open may be lengthened freely
        saved = admin.update_draft(s, clock, me, draft.version, {"days_verification": "15"})
        assert saved.limit("verification").days == 15

    actors.run(go)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("days_verification", "0"),
        ("days_verification", "366"),
        ("days_verification", "ten"),
        ("days_annual_report", "02-30"),
        ("days_annual_report", "1-31"),
        ("name", ""),
    ],
)
def test_bad_limits_are_refused_naming_the_field_and_nothing_is_saved(actors, clock, field, value):
    def go(s):
        me = _as(s, "data.admin")
        draft = admin.create_draft(s, clock, me)
        with pytest.raises(ValidationFailed) as err:
            admin.update_draft(s, clock, me, draft.version, {"days_reply": "7", field: value})
        assert [d["field"] for d in err.value.details] == [field]
        return draft.version

    version = actors.run(go)
    assert actors.run(lambda s: rules.by_version(s, version).days("reply")) == 10


def test_publishing_needs_an_effective_date_not_in_the_past(actors, clock):
    def go(s):
        me = _as(s, "data.admin")
        draft = admin.create_draft(s, clock, me)
        for bad in ("2026-09-17", "2026-13-01", ""):
            with pytest.raises(ValidationFailed) as err:
                admin.publish(s, clock, me, draft.version, bad)
            assert [d["field"] for d in err.value.details] == ["effective_from"]
        published = admin.publish(s, clock, me, draft.version, "2026-09-18")
        assert published.state == "published"
        with pytest.raises(Conflict):
            admin.publish(s, clock, me, draft.version, "2026-09-19")
        with pytest.raises(Conflict):  # a published version never changes
            admin.update_draft(s, clock, me, draft.version, {"days_reply": "9"})
        # a later version may not take effect before an earlier one
        second = admin.create_draft(s, clock, me)
        admin.publish(s, clock, me, second.version, "2026-10-01")
        third = admin.create_draft(s, clock, me)
        with pytest.raises(ValidationFailed):
            admin.publish(s, clock, me, third.version, "2026-09-30")
        with pytest.raises(Conflict):  # one draft at a time
            admin.create_draft(s, clock, me)

    actors.run(go)
    # published on the day: in force at once
    assert actors.run(lambda s: rules.current(s, clock).version) == 2


def test_only_the_system_administrator_administers_rule_sets(actors, clock):
    def go(s):
        for name in ("civil.clerk", "yinchuan-data.admin", "data.coord"):
            who = _as(s, name)
            with pytest.raises(Forbidden):
                admin.create_draft(s, clock, who)
            with pytest.raises(Forbidden):
                admin.rule_sets(s, who)
            with pytest.raises(Forbidden):
                admin.publish(s, clock, who, 1, "2027-01-01")

    actors.run(go)


def test_every_change_is_audited(actors, clock, db):
    version = _new_version(
        actors, clock, "2026-10-01", days_reply="9", article_reply="《办法》第十一条"
    )
    kinds = [
        (e.kind, e.detail.get("after"))
        for e in db.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "rule_set", AuditEvent.object_ref == f"v{version}")
            .order_by(AuditEvent.id)
        )
    ]
    assert [k for k, _ in kinds] == ["rule_set_drafted", "rule_set_changed", "rule_set_published"]
    assert kinds[1][1]["reply"] == {"value": 9, "article": "《办法》第十一条"}


def test_the_annual_report_due_date_comes_from_the_rule_set(actors, clock, db):
    from engine.oversight.evaluation import start_campaign
    from engine.workflow.models import HumanTask

    _new_version(actors, clock, "2026-10-01", days_annual_report="01-20")
    clock.set("2027-01-02T09:00:00+08:00")
    actors.run(lambda s: start_campaign(s, clock, 2027))
    task = db.scalars(
        select(HumanTask).where(HumanTask.task_name == "submit_annual_report")
    ).first()
    assert task.due_at.isoformat().startswith("2027-01-20T16:00")  # 24:00 of 20 January, Beijing


def test_the_cli_lists_shows_and_imports(db_url, session_factory, tmp_path, capsys):
    path = tmp_path / "national.json"
    path.write_text(
        json.dumps(
            {
                "name": "政务数据共享条例（2025）",
                "basis": "国务院令第809号",
                "effective_from": "2026-10-01",
                "limits": {"reply": {"days": 12, "article": NATIONAL}},
            },
            ensure_ascii=False,
        ),
        "utf-8",
    )
    now = ["--database", db_url, "--now", "2026-09-18T10:00:00+08:00"]
    main([*now, "rules", "import", str(path)])
    assert "2026-10-01" in capsys.readouterr().out
    main([*now, "rules", "show", "2", "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["limits"]["reply"] == {
        "days": 12,
        "month_day": None,
        "article": NATIONAL,
        "statutory": True,
    }
    main([*now, "rules", "list"])
    listed = capsys.readouterr().out
    assert "政务数据共享条例（2025）" in listed and "宁夏办法（2018）" in listed
    path.write_text(
        json.dumps(
            {"effective_from": "2026-10-02", "limits": {"reply": {"days": 30, "article": "x"}}}
        )
    )
    with pytest.raises(SystemExit):
        main([*now, "rules", "import", str(path)])
    assert "article_reply" in capsys.readouterr().err


def test_the_admin_pages_list_edit_and_publish(app, actors, clock):  # noqa: F811
    web = Browser(app, "data.admin")
    page = web.get("/admin/rules/").get_data(as_text=True)
    assert "宁夏办法（2018）" in page
    r = web.post("/admin/rules/new", page="/admin/rules/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/rules/2")
    r = web.post("/admin/rules/2", {"name": "新规则", "days_reply": "15", "article_reply": ""})
    assert r.status_code == 422
    assert "政务数据共享条例" in r.get_data(as_text=True)  # the refusal says what basis is needed
    assert actors.run(lambda s: rules.by_version(s, 2).days("reply")) == 10
    r = web.post(
        "/admin/rules/2", {"name": "新规则", "days_reply": "7", "article_reply": "《办法》第十一条"}
    )
    assert r.status_code == 302
    r = web.post("/admin/rules/2/publish", {"effective_from": "2026-09-01"}, page="/admin/rules/2")
    assert r.status_code == 422
    r = web.post("/admin/rules/2/publish", {"effective_from": "2026-09-18"}, page="/admin/rules/2")
    assert r.status_code == 302
    shown = web.get("/admin/rules/2").get_data(as_text=True)
    assert "2026-09-18" in shown and "7" in shown
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    task_page = Browser(app, "pubsec.clerk").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'id="deadline-rule"' in task_page and "新规则" in task_page
    assert "《办法》第十一条" in task_page
    request_page = Browser(app, "civil.clerk").get(f"/requests/{key}").get_data(as_text=True)
    assert 'id="reply-rule"' in request_page and "新规则" in request_page


def test_officials_and_level_administrators_are_refused_the_pages(app):  # noqa: F811
    for name in ("civil.clerk", "yinchuan-data.admin"):
        web = Browser(app, name)
        assert web.get("/admin/rules/").status_code == 403
        assert web.get("/admin/rules/1").status_code == 403
        assert web.post("/admin/rules/new", page="/inbox/mine").status_code == 403


def test_retired_day_settings_become_a_version_when_migrating(tmp_path, monkeypatch):
    """An installation that set GOVSHARE_DAYS_* keeps those limits for new cases: migration 0037
    turns them into version 2; a value the measures forbid stops the migration, naming it."""
    from engine.app import build_engine
    from engine.clock import FakeClock
    from engine.schema import upgrade

    monkeypatch.setenv("GOVSHARE_DAYS_VERIFICATION", "15")
    monkeypatch.setenv("GOVSHARE_DAYS_REPLY", "7")
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    upgrade(url)
    with build_engine().sessions(url)() as s:
        now = rules.current(s, FakeClock("2026-09-18T10:00:00+08:00"))
        assert (now.version, now.days("verification"), now.days("reply")) == (2, 15, 7)
        assert rules.by_version(s, 1).days("verification") == 10
    monkeypatch.setenv("GOVSHARE_DAYS_REPLY", "12")
    with pytest.raises(RuntimeError, match="GOVSHARE_DAYS_REPLY"):
        upgrade(f"sqlite:///{tmp_path / 'refused.db'}")


def test_of_two_administrators_publishing_the_same_draft_one_wins(session_factory, clock):
    """Both opened the draft; the second to press publish is told it is published already."""
    with session_factory() as s, s.begin():
        version = admin.create_draft(s, clock, _as(s, "data.admin")).version
    with session_factory() as s, s.begin():
        admin.publish(s, clock, _as(s, "data.admin"), version, "2026-10-01")
    with session_factory() as s, s.begin(), pytest.raises(Conflict) as err:
        admin.publish(s, clock, _as(s, "data.admin"), version, "2026-10-08")
    assert "published already" in str(err.value.message)
    with session_factory() as s:
        assert rules.by_version(s, version).effective_from.isoformat() == "2026-10-01"


def test_a_period_chosen_at_the_start_says_so_beside_the_rule(actors, clock):
    """The reporter may give the provider more than the rule set's 10 days to verify: the task
    page says the period was chosen and what the rule is."""
    from engine.quality import verification
    from engine.workflow import tasks as task_service
    from tests.test_verification import REPORT, granted, report

    granted(actors)
    key = actors.run(
        lambda s: (
            verification.report_error(
                s, clock, actors.user(s, "civil.clerk"), REPORT, verify_days=15
            ).business_key
        )
    )
    task_id = actors.open_task(key, "verify_record")
    page = actors.run(
        lambda s: task_service.task_page(s, clock, actors.user(s, "pubsec.clerk"), task_id)
    )
    line = page.deadline.rule.render()
    assert "15" in line and "10" in line and "宁夏办法（2018）" in line
    other = actors.open_task(report(actors), "verify_record")
    default = actors.run(
        lambda s: task_service.task_page(s, clock, actors.user(s, "pubsec.clerk"), other)
    )
    assert default.deadline.rule.render().startswith("Limit: 10 working days")
