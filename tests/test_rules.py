"""Time limits: defaults, configuration, and the statutory ceiling."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import GovshareError
from engine.rules import LIMITS, days

DOC = Path(__file__).resolve().parent.parent / "docs" / "deadlines.md"


def test_the_reply_limit_is_ten_working_days_by_default():
    assert days("reply", {}) == 10


def test_an_operator_may_shorten_a_statutory_limit_but_not_lengthen_it():
    assert days("reply", {"GOVSHARE_DAYS_REPLY": "7"}) == 7
    with pytest.raises(GovshareError) as err:
        days("reply", {"GOVSHARE_DAYS_REPLY": "12"})
    assert "GOVSHARE_DAYS_REPLY" in str(err.value.message)


def test_a_limit_the_measures_leave_open_may_be_lengthened():
    assert days("verification", {"GOVSHARE_DAYS_VERIFICATION": "15"}) == 15


@pytest.mark.parametrize("raw", ["0", "-3", "ten", "366"])
def test_a_configured_limit_must_be_a_sensible_number_of_days(raw):
    with pytest.raises(GovshareError):
        days("verification", {"GOVSHARE_DAYS_VERIFICATION": raw})


def test_every_limit_is_documented_with_its_basis():
    text = DOC.read_text("utf-8")
    missing = [
        name
        for name, limit in LIMITS.items()
        if f"`{name}`" not in text or f"GOVSHARE_DAYS_{name.upper()}" not in text
    ]
    assert not missing, f"docs/deadlines.md does not list: {missing}"
