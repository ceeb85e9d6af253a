"""The annual report's PDF (art. 17): Chinese text in a CJK font embedded in the file, which the
project's own set-up installs (`make demo` / `make test`: fonts-wqy-microhei); without one the
PDF is still produced, with a warning naming what to install; an all-zero chart has a 0–5 axis."""

from __future__ import annotations

import io
import logging
import os
from datetime import date

import pytest
from pypdf import PdfReader

from engine import pdf_font
from engine.oversight.report_pdf import _scale, annual_report_pdf
from tests.test_evaluation import report_task, start

FIGURES = {
    "requests_received": 0,
    "answered": 0,
    "answered_on_time": 0,
    "median_days_to_answer": None,
    "refusals": 0,
    "negotiations": 0,
    "coordinations": 0,
    "errors_reported": 0,
    "errors_fixed": 0,
    "catalog_updates_on_time": 0,
    "catalog_updates": 0,
    "catalog_entries": 3,
    "open_entries": 1,
}
REPORT = {
    "year": 2026,
    "figures": FIGURES,
    "units": [
        {
            "name": "自治区公安厅",
            "state": "on_time",
            "report": {
                "requests_received": 3,
                "answered_on_time": 2,
                "achievements": "完成 <b> & 改造",
            },
        },
        {"name": "银川市人民政府", "state": "not_due", "report": {}},
    ],
}


def _fonts(data: bytes) -> dict[str, dict]:
    """Every font the pages use: base name -> its descriptor (empty for one without)."""
    fonts = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            fonts[str(font["/BaseFont"]).lstrip("/")] = (
                dict(descriptor.get_object()) if descriptor else {}
            )
    return fonts


def _installed() -> bool:
    return any(os.path.isfile(path) for path, _ in pdf_font.KNOWN) or bool(
        os.environ.get(pdf_font.ENV)
    )


@pytest.fixture
def fresh_font():
    pdf_font._font.cache_clear()
    yield
    pdf_font._font.cache_clear()


def test_the_report_embeds_its_cjk_font_as_truetype(fresh_font):
    if not _installed() and os.environ.get("CI") != "true":
        pytest.skip("no TrueType CJK font here: `make pdffont` installs fonts-wqy-microhei")
    data = annual_report_pdf(REPORT, "自治区数据共享主管部门", date(2027, 1, 2))
    cjk = {name: d for name, d in _fonts(data).items() if "Hei" in name or "GovshareCJK" in name}
    assert cjk, f"no CJK font in the PDF: {sorted(_fonts(data))}"
    assert all("/FontFile2" in d for d in cjk.values())  # TrueType outlines, embedded
    assert "STSong-Light" not in _fonts(data)
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "发布单位：自治区数据共享主管部门" in text and "2027-01-02" in text
    assert "第 1 页 共 1 页" in text and "完成 <b> & 改造" in text


def test_a_font_named_by_the_setting_is_used(fresh_font, monkeypatch):
    found = [(p, i) for p, i in pdf_font.KNOWN if os.path.isfile(p)]
    if not found:
        pytest.skip("no TrueType CJK font here to name")
    path, index = found[-1]
    monkeypatch.setenv(pdf_font.ENV, f"{path}#{index}")
    monkeypatch.setattr(pdf_font, "KNOWN", ())
    font = pdf_font.pdf_font()
    assert font.embedded and font.path == path


def test_without_a_font_the_report_is_still_made_and_the_log_says_what_to_install(
    fresh_font, monkeypatch, caplog, tmp_path
):
    not_a_font = tmp_path / "broken.ttf"
    not_a_font.write_bytes(b"not a font")
    monkeypatch.setenv(pdf_font.ENV, str(not_a_font))
    monkeypatch.setattr(pdf_font, "KNOWN", (("/nonexistent/wqy-microhei.ttc", 0),))
    with caplog.at_level(logging.WARNING, logger="govshare.pdf"):
        data = annual_report_pdf(REPORT, "自治区数据共享主管部门", date(2027, 1, 2))
    assert data.startswith(b"%PDF") and "STSong-Light" in _fonts(data)
    assert "fonts-wqy-microhei" in caplog.text and str(not_a_font) in caplog.text


@pytest.mark.parametrize(
    ("top", "axis"),
    [(0, (5, 1)), (3, (5, 1)), (7, (8, 2)), (42, (50, 10)), (999, (1000, 200))],
)
def test_the_chart_axis_counts_in_whole_steps_and_is_never_0_to_0_01(top, axis):
    assert _scale(top) == axis


def test_the_authority_downloads_the_report_with_the_embedded_font(actors, clock, db_url):
    from tests.test_web import Browser
    from web import create_app

    if not _installed() and os.environ.get("CI") != "true":
        pytest.skip("no TrueType CJK font here: `make pdffont` installs fonts-wqy-microhei")
    clock.set("2027-01-02T08:00:00+08:00")
    start(actors)
    actors.complete(
        "pubsec.clerk", report_task(actors, "pubsec"), "submit_annual_report", achievements="完成"
    )
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_CLOCK": clock, "SECRET_KEY": "t"}
    )
    pdf = Browser(app, "data.coord").get("/reports/annual/2026.pdf")
    assert pdf.status_code == 200
    fonts = _fonts(pdf.data)
    assert any("/FontFile2" in d for d in fonts.values()) and "STSong-Light" not in fonts
