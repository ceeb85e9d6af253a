"""The annual report (art. 17) as a PDF for the region government, drawn with reportlab.

Chinese text uses the Adobe CJK font STSong-Light, which PDF readers provide: nothing is embedded
and no font file needs to be installed on the server.
"""

from __future__ import annotations

import io

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
TITLE = ParagraphStyle("title", fontName=FONT, fontSize=18, leading=24, spaceAfter=6)
H2 = ParagraphStyle("h2", fontName=FONT, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14)


def _table(rows: list[list], widths: list[float]) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e4e9f0")),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#b8c2cc")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def annual_report_pdf(report: dict) -> bytes:
    """The compiled report (engine.evaluation.compiled) as PDF bytes, in Chinese."""
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
        author="govshare",
    )
    units = report["units"]
    on_time = sum(u["on_time"] for u in units)
    late = sum(u["submitted"] and not u["on_time"] for u in units)
    story = [
        Paragraph(f"宁夏回族自治区{report['year']}年度政务数据资源共享工作报告", TITLE),
        Paragraph(
            "依据《宁夏回族自治区政务数据资源共享管理办法》第十七条，由自治区数据共享主管部门汇总各部门、各设区的市报送情况和系统统计数据编制。",
            BODY,
        ),
        Paragraph("一、全区共享数据", H2),
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
            ],
            [110 * mm, 50 * mm],
        ),
    ]
    chart = Drawing(160 * mm, 40 * mm)
    bars = HorizontalBarChart()
    bars.x, bars.y, bars.width, bars.height = 40 * mm, 5 * mm, 110 * mm, 30 * mm
    bars.data = [[f["requests_received"], f["answered"], f["answered_on_time"]]]
    bars.categoryAxis.categoryNames = ["收到", "已答复", "按时答复"]
    bars.categoryAxis.labels.fontName = FONT
    bars.valueAxis.valueMin = 0
    bars.bars[0].fillColor = colors.HexColor("#1d4e89")
    chart.add(bars)
    story += [
        Spacer(1, 4 * mm),
        chart,
        Paragraph("二、各单位报送情况", H2),
        Paragraph(
            f"应报送 {len(units)} 个单位，按时报送 {on_time} 个，逾期报送 {late} 个，未报送 {len(units) - on_time - late} 个。",
            BODY,
        ),
        Spacer(1, 2 * mm),
    ]
    rows = [["报送单位", "情况", "收到申请", "按时答复", "工作成效"]]
    for u in units:
        state = "按时" if u["on_time"] else "逾期" if u["submitted"] else "未报送"
        r = u["report"]
        rows.append(
            [
                Paragraph(u["name"], BODY),
                state,
                r.get("requests_received", ""),
                r.get("answered_on_time", ""),
                Paragraph(r.get("achievements", ""), BODY),
            ]
        )
    story.append(_table(rows, [48 * mm, 16 * mm, 18 * mm, 18 * mm, 74 * mm]))
    doc.build(story)
    return buf.getvalue()
