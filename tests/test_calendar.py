"""Working days against the State Council notices for 2025 and 2026 and Ningxia's regional days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.calendar import HOLIDAY, REGIONAL, WORKDAY, CalendarDay, WorkingCalendar, due_label


def days(first: str, last: str) -> list[date]:
    d, end, out = date.fromisoformat(first), date.fromisoformat(last), []
    while d <= end:
        out.append(d)
        d += timedelta(days=1)
    return out


# 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号)
HOLIDAYS_2025 = {
    "元旦": days("2025-01-01", "2025-01-01"),
    "春节": days("2025-01-28", "2025-02-04"),
    "清明节": days("2025-04-04", "2025-04-06"),
    "劳动节": days("2025-05-01", "2025-05-05"),
    "端午节": days("2025-05-31", "2025-06-02"),
    "国庆节、中秋节": days("2025-10-01", "2025-10-08"),
}
MAKE_UP_2025 = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]

# 国务院办公厅关于2026年部分节假日安排的通知
HOLIDAYS_2026 = {
    "元旦": days("2026-01-01", "2026-01-03"),
    "春节": days("2026-02-15", "2026-02-23"),
    "清明节": days("2026-04-04", "2026-04-06"),
    "劳动节": days("2026-05-01", "2026-05-05"),
    "端午节": days("2026-06-19", "2026-06-21"),
    "中秋节": days("2026-09-25", "2026-09-27"),
    "国庆节": days("2026-10-01", "2026-10-07"),
}
MAKE_UP_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]

cal = WorkingCalendar()


@pytest.mark.parametrize(
    "block",
    sorted(HOLIDAYS_2025.items()) + sorted(HOLIDAYS_2026.items()),
    ids=lambda b: b[0] if isinstance(b, tuple) else str(b),
)
def test_every_day_of_each_official_holiday_block_is_off(block):
    name, block_days = block
    assert [d for d in block_days if cal.is_working_day(d)] == []


@pytest.mark.parametrize("day", MAKE_UP_2025 + MAKE_UP_2026)
def test_every_official_make_up_weekend_day_is_a_working_day(day):
    d = date.fromisoformat(day)
    assert d.weekday() >= 5
    working, why = cal.classify(d)
    assert working, why
    assert "调休" in why


@pytest.mark.parametrize(
    "year,blocks,make_up",
    [(2025, HOLIDAYS_2025, MAKE_UP_2025), (2026, HOLIDAYS_2026, MAKE_UP_2026)],
)
def test_no_other_weekday_is_off_and_no_other_weekend_is_worked(year, blocks, make_up):
    off = {d for block in blocks.values() for d in block}
    worked = {date.fromisoformat(d) for d in make_up}
    for d in days(f"{year}-01-01", f"{year}-12-31"):
        expected = (d.weekday() < 5 and d not in off) or d in worked
        assert cal.is_working_day(d) == expected, d


def test_deadline_skips_national_day_and_counts_make_up_sunday():
    d = cal.deadline("2026-09-18T10:00:00+08:00", 10)
    assert d.due_date == date(2026, 10, 9)
    assert d.counted[0] == date(2026, 9, 20)
    assert [m for m, _ in d.make_up_days] == [date(2026, 9, 20)]
    assert date(2026, 10, 5) in [s for s, _ in d.skipped]
    assert d.due_at.isoformat() == "2026-10-10T00:00:00+08:00"
    assert due_label(d.due_at) == "2026-10-09 24:00"


def test_event_day_is_not_counted_even_when_it_is_a_working_day():
    assert cal.deadline("2026-11-02T08:00:00+08:00", 1).due_date == date(
        2026, 11, 3
    )  # Monday → Tuesday


def test_late_evening_event_counts_from_its_shanghai_date():
    # 2026-11-02 23:30 in Shanghai is 15:30 UTC the same day; a UTC-naive reading would be wrong the other way round
    assert cal.deadline("2026-11-02T16:30:00+00:00", 1).due_date == date(2026, 11, 4)


def test_fifteen_working_days_across_spring_festival_2026():
    d = cal.deadline("2026-02-10T09:00:00+08:00", 15)
    # 11,12,13 | 14 (Sat, make-up) | 15-23 off | 24,25,26,27 | 28 (Sat, make-up) | 3/2..3/6, 3/9
    assert d.due_date == date(2026, 3, 9)
    assert [m for m, _ in d.make_up_days] == [date(2026, 2, 14), date(2026, 2, 28)]


def test_ningxia_regional_holidays_are_skipped():
    assert not cal.is_working_day(date(2021, 5, 13))  # 开斋节, a Thursday
    assert cal.classify(date(2021, 7, 20)) == (False, "古尔邦节")
    d = cal.deadline("2021-05-12T09:00:00+08:00", 1)
    assert d.due_date == date(2021, 5, 17)  # 13, 14 开斋节; 15-16 weekend
    assert not d.warnings


def test_a_year_without_regional_entries_is_flagged_not_guessed():
    d = cal.deadline("2026-03-18T09:00:00+08:00", 3)
    assert any("2026" in str(w) and "开斋节" in str(w) for w in d.warnings)


def test_a_year_without_official_national_schedule_is_flagged():
    warnings = [str(w) for w in cal.year_warnings(2027)]
    assert any("No official national holiday schedule for 2027" in w for w in warnings)
    assert not [w for w in cal.year_warnings(2026) if "national" in str(w)]


def test_administrator_entries_win_and_mark_the_year_entered():
    regional = [
        CalendarDay(date(2026, 3, 20), HOLIDAY, REGIONAL, "开斋节", "宁政办发〔2025〕XX号"),
        CalendarDay(date(2026, 3, 21), WORKDAY, REGIONAL, "开斋节调休上班", "宁政办发〔2025〕XX号"),
    ]
    c = WorkingCalendar(regional)
    assert not c.is_working_day(date(2026, 3, 20))
    assert c.is_working_day(date(2026, 3, 21))  # a Saturday worked
    assert [w for w in c.year_warnings(2026) if "开斋节" in str(w)] == []
    listing = {e.day: e for e in c.year_listing(2026)}
    assert listing[date(2026, 3, 20)].source == "宁政办发〔2025〕XX号"


def test_working_days_between_counts_working_days_used():
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == 2  # 10-08, 10-09
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 9, 30)) == -2
