"""The process cockpit in the browser (issue 14): the system administrator filters instances,
opens one, suspends and resumes it, and activates a version; officials and a level's
administrator are refused."""

from __future__ import annotations

from engine.app import build_engine
from engine.workflow.deployment import active_definition
from tests.conftest import HUKOU, Actors
from tests.test_cockpit import LATER, _deploy_new_probe_version
from tests.test_incidents import ALL_ACTIONS, _start, deploy_probe

TEXT = {
    "zh_CN": {
        "title": "流程驾驶舱",
        "find": "查找流程实例",
        "apply": "筛选",
        "suspend": "暂停",
        "resume": "恢复",
        "suspended": "该流程实例已暂停",
        "banner": "该流程实例已暂停",
        "activate": "启用",
        "running": "办理中",
        "forbidden": "无权",
    },
    "en": {
        "title": "Process cockpit",
        "find": "Find instances",
        "apply": "Apply",
        "suspend": "Suspend",
        "resume": "Resume",
        "suspended": "This process instance is suspended",
        "banner": "Suspended by",
        "activate": "Activate",
        "running": "In progress",
        "forbidden": "may not",
    },
}


def test_the_administrator_filters_suspends_resumes_and_activates(
    official, engine, session_factory, clock, tmp_path
):
    factory = build_engine(ALL_ACTIONS).sessions(engine)
    deploy_probe(factory)
    probe_keys = [_start(factory, clock, fire_at=LATER) for _ in range(3)]
    key = Actors(session_factory, clock).request("civil.clerk", **HUKOU)
    for lang, text in TEXT.items():
        admin = official("data.admin", lang)
        page = admin.go("/admin/")
        page.get_by_role("link", name=text["title"]).click()
        assert page.locator("#process-share_request").is_visible()
        admin.shot("cockpit")
        page.get_by_role("link", name=text["find"]).click()
        page.locator("select[name=process]").select_option("share_request")
        page.locator("select[name=state]").select_option("running")
        page.get_by_role("button", name=text["apply"]).click()
        rows = page.locator("table.instances tbody tr")
        assert rows.count() == 1 and key in rows.first.inner_text()
        assert not any(k in page.inner_text("main") for k in probe_keys)
        admin.shot("cockpit-instances")
        page.get_by_role("link", name=key).click()
        assert "provider_review" not in page.inner_text("main")  # the task's title, not its id
        page.fill("#suspend-reason", "核对申请材料" if lang == "zh_CN" else "checking the papers")
        page.get_by_role("button", name=text["suspend"]).click()
        assert text["banner"] in page.locator("#suspension").inner_text()
        admin.shot("cockpit-instance-suspended")
        clerk = official("pubsec.clerk", lang)
        inbox = clerk.go("/inbox/queue")
        inbox.locator(f"tr:has-text('{key}') a").first.click()
        assert text["suspended"] in inbox.locator("#suspended").inner_text()
        clerk.shot("task-suspended")
        page.get_by_role("button", name=text["resume"]).click()
        assert page.locator("#suspension").count() == 0
        assert text["running"] in page.locator("p.actions .badge").inner_text()
        clerk.close()

    new = _deploy_new_probe_version(factory, clock, tmp_path, "browser")
    admin = official("data.admin", "zh_CN")
    page = admin.go("/admin/processes/")
    card = page.locator("#process-failure_probe")
    card.locator(f"a[data-activate='{new}']").click()
    page.fill("#reason", "修正了探针流程")
    admin.shot("cockpit-confirm")
    page.get_by_role("button", name="启用").click()
    assert f"第 {new} 版" in page.locator("#process-failure_probe h2").inner_text()
    with factory() as s:
        assert active_definition(s, "failure_probe").version == new


def test_officials_and_level_administrators_are_refused(official, session_factory, clock):
    key = Actors(session_factory, clock).request("civil.clerk", **HUKOU)
    paths = ("/admin/processes/", "/admin/processes/instances", f"/admin/processes/instances/{key}")
    for username in ("civil.clerk", "yinchuan-data.admin"):
        other = official(username, "en")
        for path in paths:
            assert "You may not see or do this" in other.go(path).inner_text("main")
    assert "Process cockpit" not in other.go("/admin/").inner_text("main")  # not in their hub
    other.shot("cockpit-refused")
