"""An administrator finds a failed delivery on 通知投递, reads why, and retries it (issue 13)."""

from __future__ import annotations

from tests.test_delivery_admin import _dead

TEXT = {
    "zh_CN": {
        "admin": "系统管理",
        "nav": "通知投递",
        "why": "失败原因",
        "retry": "立即重试",
        "queued": "已重新排队",
    },
    "en": {
        "admin": "Administration",
        "nav": "Notification delivery",
        "why": "Why it failed",
        "retry": "Retry now",
        "queued": "is queued again",
    },
}


def test_an_administrator_reads_why_a_delivery_failed_and_retries_it(
    official, session_factory, clock
):
    _dead(session_factory, clock, 2, channel="email")
    _dead(session_factory, clock, 1, channel="webhook", start=2)
    for lang, text in TEXT.items():
        admin = official("data.admin", lang)
        page = admin.go("/inbox/mine")
        page.get_by_role("link", name=text["admin"]).click()  # the menu counts the failures
        admin.shot("admin-hub")
        page.get_by_role("link", name=text["nav"]).click()
        main = page.inner_text("main")
        assert "n1:email" not in main  # the key stays folded away with the error
        page.get_by_text(text["why"]).first.click()
        assert "HTTP 401" in page.inner_text("main")
        admin.shot("deliveries")
        page.get_by_role("button", name=text["retry"]).first.click()
        assert text["queued"] in page.inner_text("main")
