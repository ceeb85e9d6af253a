"""Time limits: the 2018 measures as shipped (version 1), and the documentation agrees."""

from __future__ import annotations

from pathlib import Path

from engine import rules
from engine.rules import ANNUAL_REPORT, LIMITS

DOC = Path(__file__).resolve().parent.parent / "docs" / "deadlines.md"
MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0037_rule_sets.py"


def test_version_1_is_the_2018_measures_as_the_code_states_them(db):
    v1 = rules.by_version(db, 1)
    assert (v1.name, v1.state, v1.effective_from.isoformat()) == (
        "宁夏办法（2018）",
        "published",
        "2018-11-01",
    )
    shipped = {limit.name: (limit.days, limit.article, limit.statutory) for limit in v1.limits}
    expected = {
        name: (None if name == ANNUAL_REPORT else limit.days, limit.article, limit.statutory)
        for name, limit in LIMITS.items()
    }
    assert shipped == expected
    assert v1.days("reply") == 10 and v1.limit("reply").article == "《办法》第十一条"
    assert v1.limit(ANNUAL_REPORT).month_day == "01-31"


def test_every_limit_is_documented_with_its_value_and_article_as_shipped(db):
    """docs/deadlines.md's table lists each limit of version 1 with its value and article."""
    text = DOC.read_text("utf-8")
    rows = {
        line.split("|")[1].strip().strip("`"): [c.strip() for c in line.split("|")[1:-1]]
        for line in text.splitlines()
        if line.startswith("| `")
    }
    wrong = []
    for limit in rules.by_version(db, 1).limits:
        row = rows.get(limit.name)
        value = limit.month_day if limit.name == ANNUAL_REPORT else str(limit.days)
        article = limit.article or "no statutory limit"
        if row is None or row[1] != value or article not in row[2]:
            wrong.append(limit.name)
    assert not wrong, f"docs/deadlines.md disagrees with version 1 on: {wrong}"
