"""The annual report (art. 17) as a PDF for the region government, drawn with reportlab.

Chinese text is set in a TrueType CJK font embedded in the file (subset), so the document reads
the same in every PDF reader; which font, and what happens without one, is
:mod:`engine.pdf_font`'s.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from engine.pdf_font import pdf_font


@dataclass(frozen=True)
class _Styles:
    font: str
    title: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle


def _styles(font: str) -> _Styles:
    return _Styles(
        font,
        ParagraphStyle("title", fontName=font, fontSize=18, leading=24, spaceAfter=6),
        ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4),
        ParagraphStyle("body", fontName=font, fontSize=10, leading=14),
    )


def _table(rows: list[list], widths: list[float], font: str) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e4e9f0")),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#b8c2cc")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


class _NumberedCanvas(Canvas):
    """Writes "第 N 页 共 M 页" and the issuer in the footer of every page (M known at the end)."""

    issuer = ""
    font = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(self.font, 8)
            self.setFillColor(colors.HexColor("#5b6775"))
            self.drawString(18 * mm, 10 * mm, self.issuer)
            self.drawRightString(A4[0] - 18 * mm, 10 * mm, f"第 {number} 页 共 {total} 页")
            super().showPage()
        super().save()


STATES = {"on_time": "按时", "late": "逾期", "missing": "未报送", "not_due": "未到期"}


def _scale(top: float) -> tuple[int, int]:
    """The value axis for counts up to ``top``: (maximum, step) in whole numbers, 1-2-5 steps,
    at most 5 of them; (5, 1) when every figure is 0 (reportlab would otherwise draw 0–0.01)."""
    if top <= 5:
        return 5, 1
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return int(step * math.ceil(top / step)), int(step)


def _chart(values: list[int], names: list[str], font: str) -> Drawing:
    chart = Drawing(160 * mm, 40 * mm)
    bars = HorizontalBarChart()
    bars.x, bars.y, bars.width, bars.height = 40 * mm, 5 * mm, 110 * mm, 30 * mm
    bars.data = [values]
    bars.categoryAxis.categoryNames = names
    bars.categoryAxis.labels.fontName = font
    bars.valueAxis.labels.fontName = font
    bars.valueAxis.valueMin = 0
    bars.valueAxis.valueMax, bars.valueAxis.valueStep = _scale(max(values, default=0))
    bars.valueAxis.labelTextFormat = "%d"
    bars.bars[0].fillColor = colors.HexColor("#1d4e89")
    chart.add(bars)
    return chart


def annual_report_pdf(report: dict, issuer: str = "", issued_on: date | None = None) -> bytes:
    """The compiled report (engine.evaluation.compiled) as PDF bytes, in Chinese, issued by
    ``issuer`` (the authority's name) on ``issued_on``, with page numbers, in the embedded CJK
    font of :func:`engine.pdf_font.pdf_font`."""
    st = _styles(pdf_font().name)
    f = report["figures"]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{report['year']}年度政务数据资源共享工作报告",
        author=issuer or "govshare",
    )
    units = report["units"]
    count = {state: sum(u["state"] == state for u in units) for state in STATES}
    issued = f"{issuer}　{issued_on.isoformat()}" if issued_on else issuer
    story = [
        Paragraph(f"宁夏回族自治区{report['year']}年度政务数据资源共享工作报告", st.title),
        Paragraph(f"发布单位：{escape(issuer)}　　发布日期：{issued_on or ''}", st.body),
        Spacer(1, 2 * mm),
        Paragraph(
            "依据《宁夏回族自治区政务数据资源共享管理办法》第十七条，由自治区数据共享主管部门"
            "汇总各部门、各设区的市报送情况和系统统计数据编制。",
            st.body,
        ),
        Paragraph("一、全区共享数据", st.h2),
        _table(
            [
                ["指标", "数值"],
                ["收到的共享申请", f["requests_received"]],
                ["已答复", f["answered"]],
                ["10个工作日内答复", f["answered_on_time"]],
                [
                    "答复用时中位数（工作日）",
                    "—" if f["median_days_to_answer"] is None else f["median_days_to_answer"],
                ],
                ["不予共享", f["refusals"]],
                ["协商", f["negotiations"]],
                ["协调", f["coordinations"]],
                ["报告数据错误 / 已更正", f"{f['errors_reported']} / {f['errors_fixed']}"],
                [
                    "按时更新目录 / 目录更新任务",
                    f"{f['catalog_updates_on_time']} / {f['catalog_updates']}",
                ],
                ["目录条目 / 向社会开放", f"{f['catalog_entries']} / {f['open_entries']}"],
                [
                    "使用核验 / 核验信息项 / 拒绝",
                    f"{f.get('use_checks', 0)} / {f.get('use_items', 0)} / {f.get('use_refusals', 0)}",
                ],
            ],
            [110 * mm, 50 * mm],
            st.font,
        ),
        Spacer(1, 4 * mm),
        _chart(
            [f["requests_received"], f["answered"], f["answered_on_time"]],
            ["收到", "已答复", "按时答复"],
            st.font,
        ),
        Paragraph("二、各单位报送情况", st.h2),
        Paragraph(
            f"应报送 {len(units)} 个单位，按时报送 {count['on_time']} 个，逾期报送 {count['late']} 个，"
            f"逾期未报送 {count['missing']} 个，未到报送期限 {count['not_due']} 个。",
            st.body,
        ),
        Spacer(1, 2 * mm),
    ]
    rows = [["报送单位", "情况", "收到申请", "按时答复", "工作成效"]]
    for u in units:
        r = u["report"]
        rows.append(
            [
                Paragraph(escape(u["name"]), st.body),
                STATES[u["state"]],
                r.get("requests_received", ""),
                r.get("answered_on_time", ""),
                Paragraph(escape(str(r.get("achievements", ""))), st.body),  # the unit's own text
            ]
        )
    story.append(_table(rows, [48 * mm, 16 * mm, 18 * mm, 18 * mm, 74 * mm], st.font))
    canvas = type("IssuedCanvas", (_NumberedCanvas,), {"issuer": issued, "font": st.font})
    doc.build(story, canvasmaker=canvas)
    return buf.getvalue()
