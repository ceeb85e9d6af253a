"""The system administrator drafts, edits and publishes a rule set version on 法定时限规则; a share
request started afterwards shows the new reply limit, an older one keeps 10 working days; an
official and a level administrator are refused (issue 14, item 8)."""

from __future__ import annotations

from tests.conftest import HUKOU

TEXT = {
    "zh_CN": {
        "hub": "管理",
        "section": "法定时限规则",
        "new": "新建版本",
        "save": "保存草稿",
        "publish": "发布此版本",
        "refused": "无权",
        "limit": "限期",
    },
    "en": {
        "hub": "Administration",
        "section": "Statutory rule sets",
        "new": "New version",
        "save": "Save the draft",
        "publish": "Publish this version",
        "refused": "You may not",
        "limit": "Limit",
    },
}


def test_the_administrator_publishes_a_version_and_new_requests_count_it(official, actors):
    older = actors.request("civil.clerk", **HUKOU)
    text = TEXT["zh_CN"]
    admin = official("data.admin", "zh_CN")
    page = admin.go("/admin/")
    page.get_by_role("link", name=text["section"]).click()
    assert "宁夏办法（2018）" in page.inner_text("main")
    page.get_by_role("button", name=text["new"]).click()
    page.fill("input[name=name]", "答复期限缩短试行")
    page.fill("input[name=days_reply]", "15")
    page.get_by_role("button", name=text["save"]).click()
    main = page.inner_text("main")
    assert "政务数据共享条例" in main  # lengthening needs the national article
    admin.shot("rule_set_refused")
    page.fill("input[name=days_reply]", "8")
    page.get_by_role("button", name=text["save"]).click()
    admin.shot("rule_set_draft")
    page.fill("#in-effective_from", "2026-09-18")
    page.get_by_role("button", name=text["publish"]).click()
    main = page.inner_text("main")
    assert "2026-09-18" in main and "8 个工作日" in main
    admin.shot("rule_set_published")
    page = admin.go("/admin/rules/")
    admin.shot("rule_sets")

    newer = actors.request("civil.clerk", **HUKOU)
    clerk = official("civil.clerk", "zh_CN")
    new_page = clerk.go(f"/requests/{newer}")
    rule = new_page.inner_text("#reply-rule")
    assert "8" in rule and "答复期限缩短试行" in rule and "《办法》第十一条" in rule
    clerk.shot("request_rule_applied")
    old_rule = clerk.go(f"/requests/{older}").inner_text("#reply-rule")
    assert "10" in old_rule and "宁夏办法（2018）" in old_rule
    provider = official("pubsec.clerk", "en")
    task_id = actors.open_task(newer, "provider_review")
    task_page = provider.go(f"/tasks/{task_id}")
    line = task_page.inner_text("#deadline-rule")
    assert "8 working days" in line and "答复期限缩短试行" in line
    provider.shot("task_rule_applied")


def test_the_pages_in_english_and_refused_to_others(official):
    admin = official("data.admin", "en")
    page = admin.go("/admin/rules/1")
    main = page.inner_text("main")
    assert "no statutory limit; default" in main and "《办法》第十七条" in main
    admin.shot("rule_set_v1")
    for name in ("civil.clerk", "yinchuan-data.admin"):
        other = official(name, "zh_CN")
        page = other.go("/admin/rules/")
        assert "宁夏办法（2018）" not in page.inner_text("main")
        assert "(403)" in page.inner_text("main")
