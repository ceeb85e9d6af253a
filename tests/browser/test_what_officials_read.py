"""What officials read in a browser: lanes in the reader's language, a diagram that fits the width
with zoom buttons, a request that prints on one clean A4 page, and the annual report's PDF."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import HUKOU
from tests.test_evaluation import report_task, start
from tests.test_share_request_process import SCOPE


def _granted(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    return key


def test_diagram_lanes_are_labelled_and_the_diagram_fits_the_width(official, actors):
    key = _granted(actors)
    for lang, lane in (("zh_CN", "提供部门"), ("en", "Providing department")):
        o = official("civil.clerk", lang)
        page = o.go(f"/requests/{key}")
        page.wait_for_selector(".diagram[data-ready=true]")
        text = page.eval_on_selector_all(
            ".diagram .djs-element[data-element-id^=Lane] text",
            "els => els.map(e => e.textContent)",
        )
        text = " ".join(text)
        assert lane in text.replace("\n", "") and "provider" not in text
        box = page.locator(".diagram").first.bounding_box()
        drawn = page.locator(".diagram .viewport").first.bounding_box()
        assert drawn["width"] <= box["width"] + 1
        assert page.locator(".diagram-tools button").count() == 3
        o.shot("request-diagram")


def test_a_request_prints_on_one_a4_page_without_the_menus(official, actors):
    key = _granted(actors)
    o = official("civil.clerk")
    page = o.go(f"/requests/{key}")
    page.wait_for_selector(".diagram[data-ready=true]")
    pdf = page.pdf(format="A4", print_background=True)
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    o.shot("request-print")
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "request-print.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert len(reader.pages) == 1
    assert "我的任务" not in text and "退出" not in text  # no menu, no sign-out


def test_annual_report_pdf_has_issuer_date_page_numbers_and_not_yet_due(official, actors, clock):
    clock.set("2027-01-02T08:00:00+08:00")
    start(actors)
    actors.complete(
        "pubsec.clerk", report_task(actors, "pubsec"), "submit_annual_report", achievements="完成"
    )
    o = official("data.coord")
    response = o.page.request.get(o.base + "/reports/annual/2026.pdf")
    data = response.body()
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "annual-report-2026.pdf").write_bytes(data)
    reader = PdfReader(io.BytesIO(data))
    first = reader.pages[0].extract_text()
    last = reader.pages[-1].extract_text()
    total = len(reader.pages)
    assert "发布单位" in first and "2027-01-02" in first
    assert f"第 1 页 共 {total} 页" in first and f"第 {total} 页 共 {total} 页" in last
    whole = "".join(p.extract_text() for p in reader.pages)
    assert "未到期" in whole and "未报送" not in whole.split("二、")[1].split("\n", 2)[-1]
