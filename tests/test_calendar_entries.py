"""Entering an administrator's notice (govshare calendar add): every wrong field is named and
nothing is written; a good notice changes the working days deadlines count."""

from __future__ import annotations

from datetime import date

import pytest

from engine.calendar import add_days, load_calendar
from engine.errors import ValidationFailed
from tests.test_bad_input import _cli


def test_every_wrong_field_is_named_and_nothing_is_entered(actors):
    with pytest.raises(ValidationFailed) as err:
        actors.run(
            lambda s: add_days(
                s, actors.clock, ["2027-03-10", "2027-02-30"], "feast", "county", " ", ""
            )
        )
    assert [d["field"] for d in err.value.details] == ["days", "kind", "scope", "name", "reference"]
    assert actors.run(lambda s: load_calendar(s).is_working_day(date(2027, 3, 10)))  # not entered


def test_an_entered_regional_holiday_is_a_day_off(actors):
    entered = actors.run(
        lambda s: add_days(
            s, actors.clock, ["2027-03-10"], "holiday", "regional", "开斋节", "宁政办发〔2026〕1号"
        )
    )
    assert entered == [date(2027, 3, 10)]
    assert not actors.run(lambda s: load_calendar(s).is_working_day(date(2027, 3, 10)))


def test_cli_calendar_add_names_the_wrong_field(db_url):
    r = _cli(
        db_url,
        "calendar",
        "add",
        "2027-13-01",
        "--kind",
        "holiday",
        "--scope",
        "regional",
        "--name",
        "开斋节",
        "--reference",
        "宁政办发〔2026〕1号",
    )
    assert r.returncode == 2 and "days: must be a date (YYYY-MM-DD)" in r.stderr
