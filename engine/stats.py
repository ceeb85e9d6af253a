"""Medians of counted values, for summaries that keep counts rather than rows
(:mod:`engine.oversight.summary`: days to answer, days to decide a dispute).

Working days between two stored days are counted when read, on the official calendar as it is
then (:func:`working_days_counts`): a calendar notice that changes a past day changes the figures
without recounting anything."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from engine.calendar import WorkingCalendar


def weighted_median(counts: dict[int, int]) -> float | int | None:
    """The median of values given with their counts (as :func:`statistics.median` of the list)."""
    total = sum(n for n in counts.values() if n > 0)
    if not total:
        return None
    ordered = sorted((v, n) for v, n in counts.items() if n > 0)

    def nth(i: int) -> int:  # the i-th value, from 0
        for value, n in ordered:
            if i < n:
                return value
            i -= n
        raise IndexError(i)

    if total % 2:
        return nth(total // 2)
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


def working_days_counts(
    calendar: WorkingCalendar, pairs: Iterable[tuple[date, date, int]]
) -> dict[int, int]:
    """Working days from the first day to the second of each pair (as
    :meth:`WorkingCalendar.working_days_between`), with the pairs' counts added up: every day of
    the span the pairs cover is classified once, whatever the number of pairs."""
    pairs = list(pairs)
    if not pairs:
        return {}
    first = min(min(a, b) for a, b, _ in pairs)
    last = max(max(a, b) for a, b, _ in pairs)
    ordinal: dict[date, int] = {first: 0}  # working days in (first, day]
    day, n = first, 0
    while day < last:
        day += timedelta(days=1)
        n += calendar.is_working_day(day)
        ordinal[day] = n
    out: dict[int, int] = {}
    for a, b, count in pairs:
        days = ordinal[b] - ordinal[a]
        out[days] = out.get(days, 0) + count
    return out


def parse_day(value: str) -> date | None:
    """A day stored as ``YYYY-MM-DD`` (None when empty)."""
    return date.fromisoformat(value) if value else None
