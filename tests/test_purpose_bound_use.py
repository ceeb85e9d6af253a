"""Purpose-bound use (art. 12, 14; docs/trust.md): a department system's use check names the grant
or the application scenario, the info items and the purpose; it is allowed only within one grant's
scenario, items and period; every check is written to the append-only access log; a refused use
is one breach entry per department, grant (or resource) and day, with the count; usage shows on
the grant's page and in the annual figures."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine.audit import AuditEvent
from engine.cli import main
from engine.directory import department_by_slug
from engine.oversight import reports
from engine.oversight.models import Breach
from engine.sharing import grants, scenarios
from engine.sharing.models import Grant, GrantUse
from tests.conftest import HUKOU
from tests.test_api import auth
from tests.test_api import client as api  # noqa: F401  (the API test client fixture)
from tests.test_share_request_process import SCOPE
from tests.test_web import Browser, app  # noqa: F401  (the web app fixture)

SYSTEM = {"Authorization": "Bearer demo-client-civil"}  # the civil affairs department's system
LOW_INCOME = "YYCJ006"  # 城乡低保对象认定: the scenario HUKOU asks for
CREDIT = "YYCJ005"  # 公共信用信息共享
USE = {
    "resource_code": "JC-RK/0002",
    "info_items": ["公民身份号码"],
    "scenario": LOW_INCOME,
    "purpose": "核定城乡低保对象户籍状况",
}
IN_PERIOD = "2026-10-08T10:00:00+08:00"  # HUKOU's grant runs 2026-10-01 – 2027-09-30


def granted(actors, clock) -> tuple[str, int]:
    """Civil affairs holds a grant on JC-RK/0002 for the low-income scenario, in its period."""
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    clock.set(IN_PERIOD)
    grant_id = actors.run(lambda s: s.scalar(select(Grant.id)))
    return key, grant_id


def check(api, headers=SYSTEM, **change):  # noqa: F811
    body = {k: v for k, v in {**USE, **change}.items() if v is not None}
    r = api.post("/api/v1/grants/check", json=body, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def log(actors) -> list[GrantUse]:
    return actors.run(
        lambda s: [s.expunge(r) or r for r in s.scalars(select(GrantUse).order_by(GrantUse.id))]
    )


def ledger(actors) -> list[tuple[int | None, int, str]]:
    """The ledger's use entries: (grant concerned, count, day recorded)."""
    return actors.run(
        lambda s: [
            (b.evidence.get("grant_id"), b.count, b.once.rsplit(":", 1)[1])
            for b in s.scalars(
                select(Breach).where(Breach.kind == "use_outside_grant").order_by(Breach.id)
            )
        ]
    )


def test_the_grant_carries_the_requests_scenario(actors, clock):
    _, grant_id = granted(actors, clock)
    assert actors.run(lambda s: s.get(Grant, grant_id).scenario) == LOW_INCOME


def test_a_use_within_the_grant_is_allowed_and_logged_against_it(api, actors, clock):  # noqa: F811
    _, grant_id = granted(actors, clock)
    answer = check(api)
    assert answer["allowed"] is True and answer["grant_id"] == grant_id
    assert answer["scenario"] == LOW_INCOME
    (row,) = log(actors)
    assert (row.grant_id, row.allowed, row.reason, row.scenario) == (
        grant_id,
        True,
        None,
        LOW_INCOME,
    )
    assert row.purpose == USE["purpose"] and row.info_items == ["公民身份号码"]
    assert row.client_id is not None and row.user_id is None  # the department's system asked
    assert ledger(actors) == []


def test_commercial_marketing_is_refused_logged_and_one_entry_a_day_counts_it(
    api,  # noqa: F811
    actors,
    clock,
):
    granted(actors, clock)
    marketing = {"scenario": CREDIT, "purpose": "商业营销：向第三方出售"}
    answers = [check(api, **marketing) for _ in range(3)]
    assert {(a["allowed"], a["reason_code"]) for a in answers} == {(False, "wrong_scenario")}
    assert "application scenario" in answers[0]["reason"]
    assert [a["breach_count"] for a in answers] == [1, 2, 3]
    assert len({a["breach_id"] for a in answers}) == 1
    rows = log(actors)
    assert [(r.allowed, r.reason, r.purpose, r.grant_id) for r in rows] == [
        (False, "wrong_scenario", "商业营销：向第三方出售", None)  # no grant for that scenario
    ] * 3
    # counted against the resource: no grant of the department is bound to that scenario
    assert ledger(actors) == [(None, 3, "2026-10-08")]
    clock.advance(days=1)  # a new Shanghai day: a new entry
    check(api, **marketing)
    assert ledger(actors) == [(None, 3, "2026-10-08"), (None, 1, "2026-10-09")]


@pytest.mark.parametrize("purpose", ["", "   "])
def test_a_use_without_a_purpose_is_refused_by_field_and_nothing_written(
    api,  # noqa: F811
    actors,
    clock,
    purpose,
):
    granted(actors, clock)
    r = api.post("/api/v1/grants/check", json={**USE, "purpose": purpose}, headers=SYSTEM)
    assert r.status_code == 422
    assert "purpose" in str(r.get_json()["details"]).lower()
    assert log(actors) == [] and ledger(actors) == []


def test_a_use_naming_neither_grant_nor_scenario_is_refused_by_field(api, actors, clock):  # noqa: F811
    granted(actors, clock)
    body = {k: v for k, v in USE.items() if k != "scenario"}
    r = api.post("/api/v1/grants/check", json=body, headers=SYSTEM)
    assert r.status_code == 422 and "Application scenario" in r.get_json()["message"]
    assert log(actors) == []


def test_info_items_outside_the_grant_are_refused_with_their_reason(api, actors, clock):  # noqa: F811
    key, grant_id = granted(actors, clock)
    answer = check(api, info_items=["公民身份号码", "迁入地"])
    assert (answer["allowed"], answer["reason_code"]) == (False, "items_outside_grant")
    assert "迁入地" in answer["reason"] and answer["grant_concerned"] == grant_id
    assert [r.reason for r in log(actors)] == ["items_outside_grant"]
    assert ledger(actors) == [(grant_id, 1, "2026-10-08")]


def test_an_expired_grant_is_refused(api, actors, clock):  # noqa: F811
    _, grant_id = granted(actors, clock)
    clock.set("2027-10-01T09:00:00+08:00")  # (the demo system's token has expired by then)
    official = auth("civil.clerk")
    for answer in (check(api, official), check(api, official, grant_id=grant_id)):
        assert (answer["allowed"], answer["reason_code"]) == (False, "expired")
    assert [(r.grant_id, r.reason) for r in log(actors)] == [(grant_id, "expired")] * 2
    assert ledger(actors) == [(grant_id, 2, "2027-10-01")]


def test_a_grant_before_its_period_is_refused(api, actors, clock):  # noqa: F811
    _, grant_id = granted(actors, clock)
    clock.set("2026-09-30T23:00:00+08:00")  # the day before the period begins (Shanghai)
    answer = check(api)
    assert (answer["allowed"], answer["reason_code"]) == (False, "not_yet_valid")


def test_a_grant_is_named_by_its_number_and_the_scenario_stated_must_match(
    api,  # noqa: F811
    actors,
    clock,
):
    _, grant_id = granted(actors, clock)
    assert check(api, grant_id=grant_id)["allowed"] is True  # with its own scenario
    wrong = check(api, grant_id=grant_id, scenario=CREDIT)
    assert (wrong["allowed"], wrong["reason_code"]) == (False, "wrong_scenario")
    unknown = check(api, scenario=None, grant_id=grant_id + 1000)
    assert (unknown["allowed"], unknown["reason_code"]) == (False, "unknown_grant")
    # another department's system cannot use it, even naming it
    r = api.post(
        "/api/v1/grants/check",
        json={**USE, "grant_id": grant_id},
        headers={"Authorization": "Bearer demo-client-pubsec"},
    )
    assert r.get_json()["reason_code"] == "unknown_grant"


def test_a_grant_issued_before_scenarios_is_used_only_by_naming_it(api, actors, clock):  # noqa: F811
    _, grant_id = granted(actors, clock)
    actors.run(lambda s: s.execute(update(Grant).values(scenario=None)))  # as migration 0049
    refused = check(api)
    assert (refused["allowed"], refused["reason_code"]) == (False, "wrong_scenario")
    assert check(api, scenario=None, grant_id=grant_id)["allowed"] is True


def test_no_grant_on_the_resource_is_counted_against_the_resource(api, actors, clock):  # noqa: F811
    granted(actors, clock)
    answer = check(api, resource_code="JC-FR/0002", info_items=["统一社会信用代码"])
    assert (answer["allowed"], answer["reason_code"]) == (False, "no_grant")
    assert answer["grant_concerned"] is None
    once = actors.run(lambda s: s.scalar(select(Breach.once)))
    assert re.fullmatch(r"use:\d+:resource:\d+:2026-10-08", once)


def test_naming_the_grant_does_not_bypass_its_scenario(api, actors, clock):  # noqa: F811
    """The issue's example: selling to third parties, relying on the grant's number alone."""
    _, grant_id = granted(actors, clock)
    marketing = {"scenario": None, "grant_id": grant_id, "purpose": "商业营销：向第三方出售"}
    answer = check(api, **marketing)
    assert (answer["allowed"], answer["reason_code"]) == (False, "scenario_required")
    assert answer["grant_concerned"] == grant_id
    assert f"Grant {grant_id} is bound to an application scenario" in answer["reason"]
    assert [(r.allowed, r.reason, r.grant_id, r.purpose) for r in log(actors)] == [
        (False, "scenario_required", grant_id, "商业营销：向第三方出售")
    ]
    assert ledger(actors) == [(grant_id, 1, "2026-10-08")]


def test_the_reason_reads_in_chinese_for_a_chinese_reader():
    from engine.i18n import Message as M

    text = M(grants.REASONS["scenario_required"], grant=7).render(_zh())
    assert "应用场景" in text and "7" in text
    assert "撤销" in M(grants.REASONS["revoked"], grant=7).render(_zh())


def _zh():
    from babel.support import Translations

    root = Path(__file__).resolve().parent.parent / "web" / "translations"
    return Translations.load(str(root), ["zh"]).gettext


def revoke(actors, clock, username, grant_id, reason="供方停止提供该数据"):
    return actors.run(
        lambda s: grants.revoke_grant(s, clock, grant_id, actors.user(s, username), reason)
    )


def test_a_revoked_grant_is_refused_logged_and_counted(api, actors, clock):  # noqa: F811
    _, grant_id = granted(actors, clock)
    assert check(api)["allowed"] is True
    revoke(actors, clock, "pubsec.clerk", grant_id)  # an official of the providing department
    by_scenario, by_number = check(api), check(api, grant_id=grant_id)
    for answer in (by_scenario, by_number):
        assert (answer["allowed"], answer["reason_code"]) == (False, "revoked")
        assert answer["grant_concerned"] == grant_id
    assert f"Grant {grant_id} has been revoked." == by_number["reason"]
    assert [(r.allowed, r.reason, r.grant_id) for r in log(actors)] == [
        (True, None, grant_id),
        (False, "revoked", grant_id),
        (False, "revoked", grant_id),
    ]
    assert ledger(actors) == [(grant_id, 2, "2026-10-08")]
    row = actors.run(lambda s: s.get(Grant, grant_id))
    assert row.revoke_reason == "供方停止提供该数据" and row.revoked_at is not None
    # the art. 14 check finds it no more (its item rows ended the day before)
    found = actors.run(
        lambda s: grants.covering_grant(
            s, row.requester_id, row.resource_id, ["公民身份号码"], row.revoked_at.date()
        )
    )
    assert found is None


def test_who_may_revoke_a_grant(actors, clock):
    _, grant_id = granted(actors, clock)
    from engine.errors import Conflict, Forbidden

    for username in ("civil.clerk", "yinchuan-data.coord"):  # the requester; a level below
        with pytest.raises(Forbidden):
            revoke(actors, clock, username, grant_id)
    assert actors.run(lambda s: s.get(Grant, grant_id).revoked_at) is None
    revoke(actors, clock, "data.coord", grant_id)  # the region's authority
    with pytest.raises(Conflict, match="already been revoked"):
        revoke(actors, clock, "pubsec.clerk", grant_id)


def test_a_revocation_states_its_reason_and_is_audited(actors, clock):
    _, grant_id = granted(actors, clock)
    from engine.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        revoke(actors, clock, "pubsec.clerk", grant_id, reason="   ")
    assert refused.value.details[0]["field"] == "reason"
    assert str(refused.value.details[0]["label"]) == "Reason for revocation"
    assert actors.run(lambda s: s.get(Grant, grant_id).revoked_at) is None
    revoke(actors, clock, "pubsec.clerk", grant_id, reason="数据源停用")
    events = actors.run(
        lambda s: [
            (e.kind, e.actor_id is not None, e.detail.get("reason"))
            for e in s.scalars(select(AuditEvent).where(AuditEvent.object_type == "grant"))
        ]
    )
    assert events == [("grant_revoked", True, "数据源停用")]


def test_the_cli_revokes_a_grant(db_url, actors, clock, capsys):
    _, grant_id = granted(actors, clock)
    cli = ["--database", db_url, "--now", IN_PERIOD, "grants", "revoke", str(grant_id)]
    with pytest.raises(SystemExit):
        main([*cli, "--user", "civil.clerk", "--reason", "不再需要"])
    main([*cli, "--user", "pubsec.clerk", "--reason", "不再需要"])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"Grant {grant_id} revoked by pubsec.clerk."
    assert actors.run(lambda s: s.get(Grant, grant_id).revoke_reason) == "不再需要"
    with pytest.raises(SystemExit):
        main([*cli, "--user", "pubsec.clerk", "--reason", "again"])


def test_concurrent_refusals_make_one_entry_with_every_refusal_counted(
    session_factory, actors, clock
):
    granted(actors, clock)
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def refuse() -> None:
        try:
            barrier.wait(timeout=30)  # all at once (each waits for a pooled connection)
            with session_factory() as s, s.begin():
                user = actors.user(s, "civil.clerk")
                use = grants.UseAsked("JC-RK/0002", ["迁入地"], "核查", LOW_INCOME)
                grants.check_use(s, clock, user, use)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=refuse) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert [count for _, count, _ in ledger(actors)] == [n]
    assert len(log(actors)) == n


def test_usage_shows_on_the_grant_page_and_in_the_annual_figures(
    api,  # noqa: F811
    app,  # noqa: F811
    actors,
    clock,
):
    key, grant_id = granted(actors, clock)
    check(api)
    check(api, info_items=["公民身份号码", "变动类型"])
    check(api, info_items=["迁入地"])  # refused
    status = api.get(f"/api/v1/requests/{key}", headers=auth("civil.clerk")).get_json()
    (g,) = status["grants"]
    assert (g["id"], g["scenario"]) == (grant_id, LOW_INCOME)
    assert g["usage"] == {"checks": 3, "items": 4, "refusals": 1}
    html = Browser(app, "civil.clerk").get(f"/requests/{key}").get_data(as_text=True)
    assert "城乡低保对象认定" in html
    assert "3 次核验，核验信息项 4 个，拒绝 1 次" in html
    assert f'<dd class="grant-number">{grant_id}</dd>' in html  # the number a system names
    civil = actors.run(lambda s: department_by_slug(s, "civil").id)
    own = actors.run(lambda s: reports.figures(s, 2026, civil))
    region = actors.run(lambda s: reports.figures(s, 2026))
    for figures in (own, region):
        assert (figures["use_checks"], figures["use_items"], figures["use_refusals"]) == (3, 4, 1)
    other = actors.run(lambda s: reports.figures(s, 2026, department_by_slug(s, "health").id))
    assert other["use_checks"] == 0
    annual = Browser(app, "data.coord").get("/reports/annual/2026").get_data(as_text=True)
    assert '<dd id="use-figures">3 / 4 / 1</dd>' in annual


def test_the_ledger_page_and_export_show_the_count(app, api, actors, clock):  # noqa: F811
    granted(actors, clock)
    for _ in range(4):
        check(api, info_items=["迁入地"])
    browser = Browser(app, "civil.clerk")
    csv = browser.get("/breaches/?format=csv").get_data(as_text=True)
    header, row = csv.lstrip("\ufeff").splitlines()[:2]
    assert header.split(",")[5] == "count" and row.split(",")[5] == "4"
    page = browser.get("/breaches/").get_data(as_text=True)
    assert '<td class="count">4</td>' in page


# -- the access log is append-only ------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
WRITES = re.compile(
    r"(update|delete)\(\s*GrantUse\b|UPDATE\s+grant_use\b|DELETE\s+FROM\s+grant_use\b", re.I
)


def test_no_service_path_updates_or_deletes_the_access_log():
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("engine", "web", "notifications")
        for path in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if WRITES.search(line)
    ]
    assert found == []


def test_an_access_log_row_cannot_be_changed_through_the_orm(api, actors, clock):  # noqa: F811
    granted(actors, clock)
    check(api)

    def tamper(s):
        row = s.scalar(select(GrantUse))
        row.allowed = False
        s.flush()

    with pytest.raises(RuntimeError, match="append-only"):
        actors.run(tamper)
    with pytest.raises(RuntimeError, match="append-only"):
        actors.run(lambda s: (s.delete(s.scalar(select(GrantUse))), s.flush()))
    assert [r.allowed for r in log(actors)] == [True]


# -- the application scenarios ----------------------------------------------------------------
def test_a_new_request_names_an_application_scenario_in_use(actors):
    from engine.errors import ValidationFailed

    form = {k: v for k, v in HUKOU.items() if k != "scenario"}
    with pytest.raises(ValidationFailed) as err:
        actors.request("civil.clerk", **form)
    assert "scenario" in str(err.value.details)
    actors.run(lambda s: scenarios.set_active(s, actors.clock, None, LOW_INCOME, False))
    with pytest.raises(ValidationFailed, match="应用场景|Application scenario"):
        actors.request("civil.clerk", **HUKOU)


def test_the_seeded_list_and_who_keeps_it(actors):
    listed = actors.run(lambda s: scenarios.scenarios(s))
    assert len(listed) >= 10 and "户籍业务办理" in {sc.name_zh for sc in listed}
    from engine.errors import Forbidden

    with pytest.raises(Forbidden):
        actors.run(
            lambda s: scenarios.save_scenario(
                s, actors.clock, actors.user(s, "civil.clerk"), "YYCJ099", "测试", "Test"
            )
        )
    saved = actors.run(
        lambda s: scenarios.save_scenario(
            s, actors.clock, actors.user(s, "data.admin"), "YYCJ099", "测试场景", "Test"
        )
    )
    assert saved.active and saved.name_zh == "测试场景"


def test_the_cli_keeps_the_scenarios_and_audits_each_change(db_url, actors, capsys):
    cli = ["--database", db_url, "--now", "2026-09-18T10:00:00+08:00", "scenarios"]
    main([*cli, "save", "YYCJ098", "工程建设项目审批", "Construction project approval"])
    main([*cli, "deactivate", "YYCJ098"])
    main([*cli, "list"])
    out = capsys.readouterr().out
    assert "YYCJ098  工程建设项目审批 / Construction project approval" in out
    kinds = actors.run(
        lambda s: list(
            s.scalars(
                select(AuditEvent.kind)
                .where(AuditEvent.object_ref == "YYCJ098")
                .order_by(AuditEvent.id)
            )
        )
    )
    assert kinds == ["scenario_saved", "scenario_deactivated"]
    with pytest.raises(SystemExit):
        main([*cli, "save", "bad code!", "名", "name"])
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(GrantUse))) == 0


def test_the_admin_page_keeps_the_scenarios(app, actors):  # noqa: F811
    admin = Browser(app, "data.admin")
    page = admin.get("/admin/scenarios/").get_data(as_text=True)
    assert "户籍业务办理" in page and "YYCJ011" in page
    r = admin.post(
        "/admin/scenarios/",
        data={"code": "YYCJ097", "name_zh": "工程建设项目审批", "name_en": "Construction"},
        page="/admin/scenarios/",
    )
    assert r.status_code == 302
    r = admin.post("/admin/scenarios/", data={"code": "", "name_zh": "", "name_en": ""})
    assert r.status_code == 422 and "场景代码" in r.get_data(as_text=True)
    r = admin.post(
        "/admin/scenarios/YYCJ097/active", data={"active": "0"}, page="/admin/scenarios/"
    )
    assert r.status_code == 302
    listed = {sc.code: sc.active for sc in actors.run(lambda s: scenarios.scenarios(s))}
    assert listed["YYCJ097"] is False
    assert Browser(app, "civil.clerk").get("/admin/scenarios/").status_code == 403


def test_a_coordinated_grant_carries_the_requests_scenario(actors):
    from tests.test_coordination import to_coordination

    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="grant_in_part",
        coordination_reasons="低保核定确需，迁入地不予共享",
        coordination_conditions="仅限低保核定",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    (g,) = actors.status(key)["grants"]
    assert (g["basis"], g["scenario"]) == ("coordinated", LOW_INCOME)


def test_a_refusal_names_the_grant_it_concerns(actors):
    from datetime import timedelta

    from tests.test_grant_check_budget import TODAY, YEAR, hold

    later = (TODAY + timedelta(days=1), TODAY + YEAR)
    ended = (TODAY - YEAR, TODAY - timedelta(days=1))
    ended_id, later_id = hold(actors, "edu", [(["公民身份号码"], ended), (["公民身份号码"], later)])
    (only_ended,) = hold(actors, "health", [(["公民身份号码"], ended)])

    def ask(username: str, items: list[str], scenario: str = LOW_INCOME) -> tuple:
        def go(s):
            use = grants.UseAsked("JC-RK/0002", items, "核定低保", scenario)
            answer = grants.check_use(s, actors.clock, actors.user(s, username), use)
            return answer["reason_code"], answer["grant_concerned"]

        return actors.run(go)

    assert ask("edu.clerk", ["公民身份号码"]) == ("not_yet_valid", later_id)
    assert ask("health.clerk", ["公民身份号码"]) == ("expired", only_ended)
    assert ask("edu.clerk", ["迁入地"]) == ("items_outside_grant", ended_id)
    assert ask("edu.clerk", ["公民身份号码"], CREDIT) == ("wrong_scenario", None)
    assert ask("civil.clerk", ["公民身份号码"]) == ("no_grant", None)


def test_the_request_page_revokes_a_grant_for_those_allowed(app, api, actors, clock):  # noqa: F811
    key, grant_id = granted(actors, clock)
    page = f"/requests/{key}"
    action = f"/requests/{key}/grants/{grant_id}/revoke"
    requester = Browser(app, "civil.clerk")
    assert "revoke-grant" not in requester.get(page).get_data(as_text=True)
    assert requester.post(action, {"reason": "x"}, page=page).status_code == 403
    provider = Browser(app, "pubsec.clerk")
    assert "revoke-grant" in provider.get(page).get_data(as_text=True)
    blank = provider.post(action, {"reason": " "}, page=page)
    assert blank.status_code == 422 and "无法撤销该授权" in blank.get_data(as_text=True)
    assert actors.run(lambda s: s.get(Grant, grant_id).revoked_at) is None
    done = provider.post(action, {"reason": "数据源停用"}, page=page, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "grant-revoked" in html and "数据源停用" in html
    assert "revoke-grant" not in html  # revoked: no button any more
    assert check(api)["reason_code"] == "revoked"
