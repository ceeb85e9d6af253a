"""What English and Chinese readers see in the header and the date fields, at 1366 px wide
(issue 12, item 10): the account actions stay on the header's line, names are in the reader's
language, and a date field reads YYYY-MM-DD in an English browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import HUKOU

LONG_NAMES = ["civil.clerk", "gov.coord", "data.admin", "yinchuan-samr.clerk"]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_header_keeps_the_account_actions_on_one_line_at_1366(official, lang):
    for username in LONG_NAMES:
        o = official(username, lang)
        page = o.go("/inbox/mine")
        account = page.locator("header.top .account-menu > summary").bounding_box()
        sign_out = page.locator("header.top button.link").bounding_box()
        brand = page.locator("header.top .brand").bounding_box()
        bar = page.locator("header.top .bar").bounding_box()
        assert (
            abs(account["y"] + account["height"] / 2 - (sign_out["y"] + sign_out["height"] / 2)) < 3
        )
        o.shot(f"header-{username}")
        assert (
            abs(sign_out["y"] + sign_out["height"] / 2 - (brand["y"] + brand["height"] / 2)) < 8
        ), username
        assert bar["height"] < 64, (username, bar)  # one row
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        if username == "civil.clerk":  # the name opens the account menu
            page.locator("header.top .account-menu > summary").click()
            menu = page.locator("header.top .account-menu .menu")
            expect(menu).to_contain_text("Leave cover" if lang == "en" else "请假代理")
            o.shot("header-account-menu")
            who = page.locator("header.top .who")
            expect(who).to_contain_text(
                "Civil Affairs Clerk" if lang == "en" else "自治区民政厅经办人"
            )
            o.shot("header-inbox")


def test_english_pages_name_departments_and_officials_in_english(official, actors):
    key = actors.request("civil.clerk", **HUKOU)
    o = official("pubsec.clerk", "en")
    page = o.go("/inbox/queue")
    row = page.locator("tr", has_text=key)
    expect(row).to_contain_text("Department of Civil Affairs")
    o.shot("queue-names")
    page = o.go(f"/requests/{key}")
    expect(page.locator("main")).to_contain_text("Public Security Department")
    assert "自治区公安厅" not in page.locator("main").inner_text()
    o.shot("request-names")
    page = o.go("/requests/")
    expect(page.locator("main")).to_contain_text("Department of Civil Affairs")
    o.shot("request-list-names")


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_date_field_reads_yyyy_mm_dd_in_an_english_browser(official, lang):
    o = official("civil.clerk", lang)  # the browser's locale follows: en-US or zh-CN
    page = o.go("/requests/new?resource=JC-RK/0002")
    start = page.locator("#period_start")
    expect(start).to_have_attribute("placeholder", "YYYY-MM-DD")
    assert start.evaluate("e => e.type") == "text"
    start.fill("2026-12-01")
    assert start.input_value() == "2026-12-01"
    o.shot("request-new-dates")
    page = o.go("/inbox/queue")
    expect(page.locator("input[name=due_from]")).to_have_attribute("placeholder", "YYYY-MM-DD")
    o.shot("queue-date-filters")
    page = o.go("/inbox/queue?due_from=2026-02-30")
    expect(page.locator("main")).to_contain_text("Due from" if lang == "en" else "期限自")
    o.shot("bad-date-filter")
