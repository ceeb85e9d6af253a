"""Main pages at laptop and tablet sizes, for people to look at; plus the basics every page needs."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import HUKOU


def test_sign_in_page_and_wrong_password(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#username", "civil.clerk")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".flash.danger")).to_contain_text("用户名或密码错误")
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "login.zh_CN.png"), full_page=True)
    context.close()


def test_tablet_inbox_and_request_page(official, actors):
    key = actors.request("civil.clerk", **HUKOU)
    o = official("pubsec.clerk")
    o.page.set_viewport_size({"width": 820, "height": 1180})
    page = o.go("/inbox/queue")
    expect(page.locator("tr", has_text=key)).to_be_visible()
    # on a tablet the row still shows the task, its key and its deadline without horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    o.shot("department-queue-tablet")
    page.get_by_role("link", name=key).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))
    expect(page.locator(".diagram[data-ready=true]").first).to_be_visible()
    expect(page.locator(".diagram .gs-active").first).to_be_attached()
    o.shot("request-tablet")


def test_forbidden_page_is_clear(official, actors):
    key = actors.request("civil.clerk", **HUKOU)
    o = official("health.clerk")
    response = o.page.goto(f"{o.base}/requests/{key}")
    assert response.status == 403
    expect(o.page.locator("h1")).to_contain_text("无权查看或操作")
    o.shot("error-403")
