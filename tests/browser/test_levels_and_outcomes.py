"""In a browser: the coordinators' board of disputes by level, the breach ledger's pages, a grant
in part agreed in negotiation, and the annual report's PDF with its embedded font rendered to a
picture (issue 12, items 1, 8, 10)."""

from __future__ import annotations

import shutil
import subprocess

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.test_dispute_board import three_levels
from tests.test_evaluation import report_task, start
from tests.test_ledger_paging import record
from tests.test_partial_grants import FEWER_ITEMS, negotiated
from tests.test_report_pdf import _fonts


def test_the_region_coordinator_sees_disputes_of_every_level_marked_and_filters_them(
    official, actors
):
    region, city, county = three_levels(actors)
    for lang in ("zh_CN", "en"):
        coord = official("data.coord", lang)
        page = coord.go("/disputes/")
        for key in (region, city, county):
            expect(page.locator(f"tr[data-dispute='{key}']")).to_be_visible()
        level = "县级" if lang == "zh_CN" else "County level"
        expect(page.locator(f"tr[data-dispute='{county}']")).to_contain_text(level)
        coord.shot("disputes-board-levels")
    coord = official("data.coord")
    page = coord.go("/disputes/")
    page.select_option("select[name=level]", "city")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("tr[data-dispute]")).to_have_count(1)
    expect(page.locator(f"tr[data-dispute='{city}']")).to_contain_text("银川市")
    city_coord = official("yinchuan-data.coord")
    page = city_coord.go("/disputes/")
    expect(page.locator("tr[data-dispute]")).to_have_count(2)
    expect(page.locator(f"tr[data-dispute='{region}']")).to_have_count(0)
    city_coord.shot("disputes-board-city")


def test_the_ledger_pages_through_its_entries(official, actors):
    record(actors, 60)
    coord = official("data.coord")
    page = coord.go("/breaches/")
    expect(page.locator("#ledger-count")).to_have_text("共 60 条")
    expect(page.locator(".pager")).to_contain_text("第 1 页，共 2 页")
    coord.shot("breach-ledger-paged")
    page.get_by_role("link", name="下一页").click()
    expect(page.locator("table.list tbody tr")).to_have_count(10)


def test_a_grant_in_part_agreed_in_negotiation_reads_so_for_both_parties(official, actors):
    key = negotiated(actors, FEWER_ITEMS)
    civil = official("civil.clerk")
    page = civil.go(f"/requests/{key}")
    expect(page.locator("#decision")).to_have_text("部分授权")
    civil.shot("request-negotiated-in-part")
    pubsec = official("pubsec.clerk")
    page = pubsec.go("/requests/?status=granted_in_part")
    expect(page.locator(f"tr[data-request='{key}']")).to_contain_text("部分授权")
    pubsec.shot("requests-granted-in-part")


def test_the_annual_report_pdf_embeds_its_font_and_renders(official, actors, clock):
    clock.set("2027-01-02T08:00:00+08:00")
    start(actors)
    actors.complete(
        "pubsec.clerk", report_task(actors, "pubsec"), "submit_annual_report", achievements="完成"
    )
    o = official("data.coord")
    data = o.page.request.get(o.base + "/reports/annual/2026.pdf").body()
    fonts = _fonts(data)
    assert any("/FontFile2" in d for d in fonts.values()) and "STSong-Light" not in fonts
    SCREENSHOTS.mkdir(exist_ok=True)
    pdf = SCREENSHOTS / "annual-report-2026.pdf"
    pdf.write_bytes(data)
    if shutil.which("pdftoppm"):  # poppler-utils: a picture of each page for people to look at
        subprocess.run(
            ["pdftoppm", "-r", "80", "-png", str(pdf), str(SCREENSHOTS / "annual-report-2026")],
            check=True,
            timeout=60,
        )
        assert list(SCREENSHOTS.glob("annual-report-2026-*.png"))
