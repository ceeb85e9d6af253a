"""The system administrator enters Ningxia's regional notice on 工作日历, previews which open
deadlines move, applies it and reads the report; the official holding the task sees the move on
it; an official and a city's level administrator are refused (issue 14, item 7)."""

from __future__ import annotations

from tests.browser.test_content_security_policy import _watch
from tests.conftest import HUKOU

TEXT = {
    "zh_CN": {
        "hub": "工作日历",
        "enter": "录入通知",
        "preview": "预览",
        "moves": "2 个未到期的期限将调整。",
        "apply": "应用该通知",
        "done": "通知已录入",
        "moved": "2 个期限已调整",
        "twice": "重复列出",
        "task": "期限由 2026-10-09 24:00 调整为 2026-10-10 24:00",
        "refused": "无权",
    },
    "en": {
        "hub": "Working-day calendar",
        "enter": "Enter a notice",
        "preview": "Preview",
        "moves": "2 open deadlines move.",
        "apply": "Apply the notice",
        "done": "The notice is entered",
        "moved": "2 deadlines moved",
        "twice": "is listed twice",
        "task": "The deadline moved from 2026-10-09 24:00 to 2026-10-10 24:00",
        "refused": "may not",
    },
}


def test_the_administrator_previews_and_applies_a_regional_notice(official, actors):
    key = actors.request("civil.clerk", **HUKOU)
    for n, (lang, text) in enumerate(TEXT.items()):
        admin = official("data.admin", lang)
        problems = _watch(admin.page)  # no inline script or style refused by the CSP
        page = admin.go("/admin/")
        admin.shot("admin-hub-calendar")
        page.get_by_role("link", name=text["hub"], exact=True).click()
        assert "2026" in page.inner_text("#calendar-years")
        admin.shot("calendar")
        page.get_by_role("link", name=text["enter"]).click()
        page.select_option("#in-scope", "regional")
        page.fill("#in-reference", f"宁政办发〔2026〕8{n}号")
        page.fill("#in-holidays", "2026-09-24 开斋节\n2026-09-24 开斋节")
        page.get_by_role("button", name=text["preview"]).click()
        assert text["twice"] in page.inner_text("main")  # refused, naming the field
        admin.shot("calendar-notice-refused")
        page.fill("#in-holidays", "2026-09-24 开斋节" if n == 0 else "2026-09-23 开斋节")
        page.get_by_role("button", name=text["preview"]).click()
        main = page.inner_text("main")
        if n == 0:
            assert text["moves"] in main and key in main and "2026-10-10 24:00" in main
        admin.shot("calendar-preview")
        page.get_by_role("button", name=text["apply"]).click()
        main = page.inner_text("main")
        assert text["done"] in main
        if n == 0:
            assert text["moved"] in main and key in main
        admin.shot("calendar-report")
        assert [p for p in problems if "status of 422" not in p] == []  # 422: the refusal
    clerk = official("pubsec.clerk", "en")
    task_id = actors.open_task(key, "provider_review")
    assert TEXT["en"]["task"] in clerk.go(f"/tasks/{task_id}").inner_text("main")
    clerk.shot("calendar-task-moved")


def test_officials_and_level_administrators_are_refused(official):
    for username in ("civil.clerk", "yinchuan-data.admin"):
        user = official(username, "en")
        page = user.go("/admin/calendar/")
        assert "Working-day calendar" not in page.inner_text("main")
        assert page.title() and "Enter a notice" not in page.inner_text("body")
