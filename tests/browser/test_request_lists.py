"""本部门申请 in the browser: the filters, the search and the export; the header's search box
(issue 12, item 9). Screenshots of the new pages in Chinese and English."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import HUKOU
from tests.test_request_lists import UNCONDITIONAL, YINCHUAN
from tests.test_share_request_process import REFUSE


def three_requests(actors, clock):
    granted = actors.request("civil.clerk", **UNCONDITIONAL)
    clock.set("2026-09-21T10:00:00+08:00")
    waiting = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-09-22T10:00:00+08:00")
    refused = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", refused, "provider_review", **REFUSE)
    return granted, waiting, refused


def keys(page, count):
    """The business keys listed, once the page shows ``count`` rows (after a navigation)."""
    expect(page.locator("tbody tr")).to_have_count(count)
    return page.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-request'))"
    )


def test_department_requests_filters_and_search(official, actors, clock):
    granted, waiting, refused = three_requests(actors, clock)
    civil = official("civil.clerk")
    page = civil.go("/inbox/mine")
    page.get_by_role("link", name="本部门申请").click()
    expect(page.locator("h1")).to_contain_text("本部门申请")
    assert keys(page, 3) == [refused, waiting, granted]
    expect(page.locator(f"tr[data-request='{refused}'] .badge")).to_have_text("不予共享")
    expect(page.locator(f"tr[data-request='{waiting}'] .badge")).to_have_text("办理中")
    expect(page.locator(f"tr[data-request='{granted}'] .badge")).to_have_text("已授权")
    civil.shot("department-requests")

    page.get_by_label("状态").select_option(label="已授权")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**status=granted**")
    assert keys(page, 1) == [granted]

    page.get_by_label("状态").select_option(label="全部")
    page.get_by_label("提交日期自").fill("2026-09-21")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**from=2026-09-21**")
    assert keys(page, 2) == [refused, waiting]

    page.get_by_role("searchbox", name="搜索").fill(waiting)
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(f"**q={waiting}**")
    assert keys(page, 1) == [waiting]

    with page.expect_download() as download:
        page.get_by_role("link", name="导出 CSV").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert text.splitlines()[1].startswith(f"{waiting},办理中,")

    page.get_by_role("link", name="清除").click()
    page.wait_for_url("**/requests/")
    assert keys(page, 3) == [refused, waiting, granted]
    page.get_by_role("link", name=waiting).click()
    expect(page).to_have_url(f"{civil.base}/requests/{waiting}")


def test_the_header_search_finds_a_request_and_a_catalog_entry(official, actors, clock):
    _, waiting, _ = three_requests(actors, clock)
    civil = official("civil.clerk")
    page = civil.go("/inbox/mine")
    page.locator("header .site-search input").fill("户籍变动")
    page.locator("header .site-search button").click()
    expect(page.locator("[data-kind=requests]")).to_contain_text(waiting)
    expect(page.locator("[data-kind=catalog]")).to_contain_text("JC-RK/0002")
    civil.shot("search")
    page.locator("[data-kind=requests]").get_by_role("link", name=waiting).click()
    expect(page).to_have_url(f"{civil.base}/requests/{waiting}")


def test_english_pages_and_an_authoritys_levels(official, actors, clock):
    three_requests(actors, clock)
    city = actors.request("yinchuan-samr.clerk", **YINCHUAN)
    civil = official("civil.clerk", "en")
    page = civil.go("/requests/")
    expect(page.locator("h1")).to_contain_text("Department requests")
    expect(page.locator("tbody")).to_contain_text("Refused")
    civil.shot("department-requests")
    civil.go("/search/?q=JC-RK")
    expect(page.locator("[data-kind=catalog]")).to_contain_text("JC-RK/0002")
    civil.shot("search")
    authority = official("data.clerk")
    page = authority.go("/requests/")
    page.get_by_role("link", name="本级及下级申请").click()
    expect(page.locator(f"tr[data-request='{city}']")).to_contain_text("银川市")
    authority.shot("requests-of-my-levels")
    english = official("data.clerk", "en")
    english.go("/requests/?scope=level")
    english.shot("requests-of-my-levels")
