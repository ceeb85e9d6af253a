"""The printable decision (回复函, 协调决定书) with its signature: who signed, the SM3 fingerprint
of the key, the digest of the decision, the verification code and a QR code to the verification
page (docs/trust.md). Drawn with reportlab in the embedded CJK font of
:mod:`engine.pdf_font`; the printed text is the signed decision's, field by field with
the labels of the task's form."""

from __future__ import annotations

import io
import json
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import NotFound
from engine.i18n import Message
from engine.pdf_font import pdf_font
from engine.trust.models import Signature
from engine.trust.signatures import SignatureCheck, check, verify_code
from engine.workflow.models import HumanTask

# the printed documents: kind -> title
DOCUMENTS = {
    "provider_reply": "政务数据共享申请答复函",
    "coordination_decision": "政务数据共享协调决定书",
}


def _qr(url: str, size: float) -> Drawing:
    widget = QrCodeWidget(url)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def _labelled(form: dict | None, decision: dict[str, Any]) -> list[tuple[str, str]]:
    """The decision's fields as (label, value) in the form's order, enum values by their label."""
    properties = (form or {}).get("properties", {})
    order = [k for k in properties if k in decision] + sorted(
        k for k in decision if k not in properties
    )
    rows = []
    for name in order:
        value = decision[name]
        if value in (None, "", []):
            continue
        spec = properties.get(name, {})
        labels = spec.get("x-enum-labels") or (spec.get("items") or {}).get("x-enum-labels") or {}
        values = value if isinstance(value, list) else [value]
        shown = "、".join(
            str(labels.get(v, [v])[0]) if isinstance(v, str) else str(v) for v in values
        )
        rows.append((str(spec.get("title", name)), shown))
    return rows


def decision_pdf(session: Session, code: str, verify_url: str) -> bytes:
    """The printable decision a verification code names (NotFound for a kind not printed)."""
    [found] = verify_code(session, code)
    if found.kind not in DOCUMENTS:
        raise NotFound(
            Message("No printable decision has the verification code %(code)s.", code=code)
        )
    row = session.scalars(select(Signature).where(Signature.id == found.id)).one()
    task = session.get(HumanTask, row.task_id) if row.task_id else None
    form = task.instance.definition.forms.get(task.form) if task and task.form else None
    return render(check(row), form, verify_url)


def render(sig: SignatureCheck, form: dict | None, verify_url: str) -> bytes:
    font = pdf_font().name
    title = ParagraphStyle("title", fontName=font, fontSize=18, leading=26, alignment=1)
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=11)
    document = json.loads(sig.canonical)
    signer = document.get("signer", {})
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
        bottomMargin=20 * mm, title=DOCUMENTS[sig.kind], author=str(signer.get("department_name")),
    )  # fmt: skip
    rows = [
        ["案件编号", sig.subject],
        ["事项", document.get("what", {}).get("title", "")],
        ["依据", document.get("what", {}).get("statute", "")],
        *[[label, Paragraph(escape(value), body)] for label, value in _labelled(form, document.get("decision", {}))],
        ["作出部门", signer.get("department_name", "")],
        ["经办人", signer.get("official_name") or ""],
        ["签名时间", sig.signed_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S（北京时间）")],
    ]  # fmt: skip
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font, 10),
            ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#b8c2cc")),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef1f5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    table = Table(rows, colWidths=[38 * mm, 132 * mm])
    table.setStyle(grid)
    link = f"{verify_url}"
    seal = Table(
        [
            [
                Paragraph(
                    "本文书由作出部门以 SM2 数字签名（SM3 摘要，GB/T 32918、GB/T 32905）签署。<br/>"
                    f"验证码：<b>{escape(sig.code)}</b><br/>"
                    f"密钥指纹（SM3）：{escape(sig.key_id)}<br/>"
                    f"决定摘要（SM3）：{escape(sig.digest)}<br/>"
                    f"核验：扫描二维码或访问 {escape(link)}",
                    small,
                ),
                _qr(link, 30 * mm),
            ]
        ],
        colWidths=[136 * mm, 34 * mm],
    )
    seal.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story = [
        Paragraph(DOCUMENTS[sig.kind], title),
        Spacer(1, 6 * mm),
        table,
        Spacer(1, 10 * mm),
        seal,
    ]
    doc.build(story)
    return buf.getvalue()
