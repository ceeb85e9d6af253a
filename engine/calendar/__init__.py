"""Statutory working days: the one source of "within N working days".

Three layers decide whether a day is a working day, the later one winning:

1. the week: Monday to Friday work, Saturday and Sunday rest;
2. the national schedule of the State Council, from the ``holidays`` package (China), including
   the make-up working days (调休) it lists as ``weekend_workdays``;
3. Ningxia's regional days off (开斋节, 古尔邦节) shipped in ``engine/data/regional_holidays.json``
   for verified years;
4. entries an administrator stored in the database (``calendar_day``), for schedules published
   after the installed package or the shipped data.

A year is *official* nationally when the package lists make-up days for it or an administrator
entered its schedule; regionally when shipped data or an administrator entry covers it. Counting
in a year that is not official still happens (weekends and the package's statutory days apply) but
every deadline touching it carries a warning: the calendar never guesses silently.

Counting rule (民法典 第二百零一条、第二百零三条; DESIGN.md): the day of the triggering event is not
counted; the next N working days are; the deadline is the end (24:00 Asia/Shanghai) of the Nth.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, refcache
from engine.calendar.models import CalendarEntry, CalendarSchedule
from engine.clock import SHANGHAI, Clock, parse_instant
from engine.errors import ValidationFailed
from engine.i18n import Message

# the administrators' entries are read by every deadline: cached per process (engine.refcache)
refcache.watch("calendar", CalendarEntry)
refcache.watch("calendar", CalendarSchedule)

NATIONAL = "national"
REGIONAL = "regional"
HOLIDAY = "holiday"
WORKDAY = "workday"


@dataclass(frozen=True)
class CalendarDay:
    """A day that departs from the plain week: a day off on a weekday or a worked weekend day."""

    day: date
    kind: str  # HOLIDAY or WORKDAY
    scope: str  # NATIONAL or REGIONAL
    name: str
    source: str


@dataclass(frozen=True)
class Deadline:
    """The end of the Nth working day after an event, with how it was counted."""

    start: datetime
    working_days: int
    due_date: date
    counted: tuple[date, ...]
    skipped: tuple[tuple[date, str], ...]
    make_up_days: tuple[tuple[date, str], ...]
    warnings: tuple[Message, ...] = field(default=())
    regional_missing: tuple[int, ...] = field(default=())  # years counted without their schedule

    @property
    def provisional(self) -> bool:
        """Counted across a year whose Ningxia holidays are not entered: the date may move
        (pages mark it with a short sign; administrators see one notice, docs/calendar.md)."""
        return bool(self.regional_missing)

    @property
    def event_day(self) -> date:
        return self.start.astimezone(SHANGHAI).date()

    @property
    def due_at(self) -> datetime:
        """24:00 Asia/Shanghai of the due date, as an aware datetime."""
        return datetime.combine(self.due_date + timedelta(days=1), time(0), SHANGHAI)

    def explanation(self) -> list[Message]:
        lines = [
            Message(
                "Event on %(event)s (not counted); %(n)s working days counted from %(first)s; due at the end (24:00 Asia/Shanghai) of %(due)s.",
                event=self.event_day.isoformat(),
                n=self.working_days,
                first=self.counted[0].isoformat() if self.counted else "-",
                due=self.due_date.isoformat(),
            )
        ]
        for day, why in self.skipped:
            lines.append(Message("Skipped %(day)s: %(why)s", day=day.isoformat(), why=why))
        for day, why in self.make_up_days:
            lines.append(
                Message(
                    "Counted %(day)s, a weekend make-up working day: %(why)s",
                    day=day.isoformat(),
                    why=why,
                )
            )
        return lines  # the year warnings are given once, not under every deadline

    def to_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "working_days": self.working_days,
            "due_date": self.due_date.isoformat(),
            "due_at": self.due_at.isoformat(),
            "skipped": [[d.isoformat(), why] for d, why in self.skipped],
            "make_up_days": [[d.isoformat(), why] for d, why in self.make_up_days],
            "warnings": [str(w) for w in self.warnings],
            "provisional": self.provisional,
            "explanation": [str(m) for m in self.explanation()],
        }


@cache
def _national(year: int) -> tuple[dict[date, str], dict[date, str], bool]:
    """(days off, make-up working days, official?) for a year from the holidays package."""
    cn = holidays.China(years=year, language="zh_CN")
    days_off = {d: str(name) for d, name in cn.items() if d.year == year}
    makeup = {}
    for d in sorted(cn.weekend_workdays):
        if d.year == year:
            makeup[d] = "调休上班"
    for d, name in days_off.items():
        # "休息日（由 2026-02-14 调休）" names the worked weekend day it was swapped from.
        if "由 " in name:
            swapped = date.fromisoformat(name.split("由 ", 1)[1][:10])
            makeup[swapped] = f"调休上班（{d.isoformat()} 休息）"
    return days_off, makeup, bool(makeup)


def package_official(year: int) -> bool:
    """Does the installed ``holidays`` package carry the State Council's notice for ``year``
    (its make-up working days)?"""
    return _national(year)[2]


def holidays_version() -> str:
    return str(holidays.__version__)


@cache
def shipped_regional() -> dict[int, tuple[list[CalendarDay], str]]:
    raw = json.loads(
        resources.files("engine").joinpath("data/regional_holidays.json").read_text("utf-8")
    )
    out: dict[int, tuple[list[CalendarDay], str]] = {}
    for year, entry in raw["years"].items():
        days = [
            CalendarDay(date.fromisoformat(d), HOLIDAY, REGIONAL, name, entry["source"])
            for d, name in entry["holidays"]
        ]
        days += [
            CalendarDay(date.fromisoformat(d), WORKDAY, REGIONAL, name, entry["source"])
            for d, name in entry["workdays"]
        ]
        out[int(year)] = (days, entry["source"])
    return out


class WorkingCalendar:
    """Answers "is this a working day in Ningxia?" and counts statutory deadlines.

    ``entries`` are administrator entries (they win over everything shipped); ``schedules`` maps
    ``(scope, year)`` to the reference of a notice an administrator entered, marking that year's
    schedule for the scope as official even when it adds no day.
    """

    def __init__(
        self,
        entries: Iterable[CalendarDay] = (),
        schedules: dict[tuple[str, int], str] | None = None,
    ) -> None:
        self._entries = {e.day: e for e in entries}
        self._schedules = dict(schedules or {})
        for e in self._entries.values():
            self._schedules.setdefault((e.scope, e.day.year), e.source)
        self._regional: dict[date, CalendarDay] = {}
        for year, (days, source) in shipped_regional().items():
            self._schedules.setdefault((REGIONAL, year), source)
            self._regional.update({d.day: d for d in days})

    def with_notice(
        self, days: Iterable[CalendarDay], schedules: dict[tuple[str, int], str]
    ) -> WorkingCalendar:
        """This calendar with a notice's days entered on top (for a preview before applying)."""
        return WorkingCalendar([*self._entries.values(), *days], {**self._schedules, **schedules})

    # -- one day ---------------------------------------------------------------------------
    def classify(self, day: date) -> tuple[bool, str]:
        """(is a working day, why) for one day; ``why`` names the holiday or make-up day."""
        entry = self._entries.get(day) or self._regional.get(day)
        if entry is not None:
            return entry.kind == WORKDAY, entry.name
        days_off, makeup, _ = _national(day.year)
        if day in makeup:
            return True, makeup[day]
        if day in days_off:
            return False, days_off[day]
        if day.weekday() >= 5:
            return False, "周末"
        return True, ""

    def is_working_day(self, day: date) -> bool:
        return self.classify(day)[0]

    # -- years -----------------------------------------------------------------------------
    def year_warnings(self, year: int) -> list[Message]:
        warnings = []
        if not (_national(year)[2] or (NATIONAL, year) in self._schedules):
            warnings.append(
                Message(
                    "No official national holiday schedule for %(year)s is known: only weekends and statutory holidays are applied. Enter the State Council notice when it is published.",
                    year=year,
                )
            )
        if (REGIONAL, year) not in self._schedules:
            warnings.append(
                Message(
                    "Ningxia's regional holidays (开斋节, 古尔邦节) for %(year)s have not been entered: they are not skipped. Enter the region's notice.",
                    year=year,
                )
            )
        return warnings

    def has_regional_schedule(self, year: int) -> bool:
        """Whether Ningxia's regional holidays of ``year`` are known (shipped or entered)."""
        return (REGIONAL, year) in self._schedules

    def year_listing(self, year: int) -> list[CalendarDay]:
        """Every day of ``year`` that departs from the plain week, with its source."""
        days_off, makeup, official = _national(year)
        source = (
            f"holidays {holidays.__version__} (国务院办公厅通知)"
            if official
            else f"holidays {holidays.__version__} (statutory days only)"
        )
        listing: dict[date, CalendarDay] = {}
        for d, name in days_off.items():
            listing[d] = CalendarDay(d, HOLIDAY, NATIONAL, name, source)
        for d, name in makeup.items():
            listing[d] = CalendarDay(d, WORKDAY, NATIONAL, name, source)
        for d, entry in self._regional.items():
            if d.year == year:
                listing[d] = entry
        for d, entry in self._entries.items():
            if d.year == year:
                listing[d] = entry
        return [listing[d] for d in sorted(listing)]

    # -- counting --------------------------------------------------------------------------
    def deadline(self, start: datetime | str, working_days: int) -> Deadline:
        """The end of the ``working_days``-th working day after the day of ``start``."""
        if working_days < 1:
            raise ValueError("a statutory period counts at least one working day")
        start_dt = parse_instant(start)
        day = start_dt.astimezone(SHANGHAI).date()
        counted: list[date] = []
        skipped: list[tuple[date, str]] = []
        makeup: list[tuple[date, str]] = []
        years = {day.year}
        while len(counted) < working_days:
            day += timedelta(days=1)
            years.add(day.year)
            working, why = self.classify(day)
            if working:
                counted.append(day)
                if day.weekday() >= 5:
                    makeup.append((day, why))
            else:
                skipped.append((day, why))
        warnings = tuple(w for y in sorted(years) for w in self.year_warnings(y))
        return Deadline(
            start_dt,
            working_days,
            counted[-1],
            tuple(counted),
            tuple(skipped),
            tuple(makeup),
            warnings,
            tuple(y for y in sorted(years) if not self.has_regional_schedule(y)),
        )

    def working_days_between(self, first: date, last: date) -> int:
        """Working days in (first, last]: how many were used between two dates (negative if reversed)."""
        if last < first:
            return -self.working_days_between(last, first)
        n, day = 0, first
        while day < last:
            day += timedelta(days=1)
            n += self.is_working_day(day)
        return n


def due_label(instant: datetime | str | None) -> str:
    """A deadline instant as officials read it: ``2026-10-09 24:00`` rather than ``10-10 00:00``."""
    if not instant:
        return "-"
    local = parse_instant(instant).astimezone(SHANGHAI)
    if local.time() == time(0):
        return f"{(local.date() - timedelta(days=1)).isoformat()} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def load_calendar(session: Session) -> WorkingCalendar:
    """The calendar with the administrator entries stored in the database.

    Cached per process and rebuilt only when the entries change (``calendar`` in
    :mod:`engine.refcache`: one version query per transaction, shared with the other kinds)."""

    def load() -> WorkingCalendar:
        entries = [
            CalendarDay(e.day, e.kind, e.scope, e.name, e.reference)
            for e in session.execute(
                select(
                    CalendarEntry.day,
                    CalendarEntry.kind,
                    CalendarEntry.scope,
                    CalendarEntry.name,
                    CalendarEntry.reference,
                )
            )
        ]
        schedules = {
            (s.scope, s.year): s.reference
            for s in session.execute(
                select(CalendarSchedule.scope, CalendarSchedule.year, CalendarSchedule.reference)
            )
        }
        return WorkingCalendar(entries, schedules)

    return refcache.cached(session, "calendar", "calendar", load)


def regional_gap(session: Session, today: date) -> list[int]:
    """The years whose Ningxia holidays are not entered and that deadlines now reach: this
    year, and from December on the next one too (the notice administrators are shown)."""
    calendar = load_calendar(session)
    years = [today.year] + ([today.year + 1] if today.month == 12 else [])
    return [y for y in years if not calendar.has_regional_schedule(y)]


def _entry_problems(days: list[str], kind: str, scope: str, name: str, reference: str) -> list:
    problems = []
    if not days:
        problems.append({"field": "days", "message": Message("is required")})
    for day in days:
        try:
            date.fromisoformat(day)
        except (TypeError, ValueError):
            problems.append({"field": "days", "message": Message("must be a date (YYYY-MM-DD)")})
    for field_name, value, allowed in (
        ("kind", kind, (HOLIDAY, WORKDAY)),
        ("scope", scope, (NATIONAL, REGIONAL)),
    ):
        if value not in allowed:
            problems.append(
                {
                    "field": field_name,
                    "message": Message("must be one of %(values)s", values=", ".join(allowed)),
                }
            )
    for field_name, value in (("name", name), ("reference", reference)):
        if not (value or "").strip():
            problems.append({"field": field_name, "message": Message("is required")})
    return problems


def add_days(
    session: Session,
    clock: Clock,
    days: list[str],
    kind: str,
    scope: str,
    name: str,
    reference: str,
    actor_id: int | None = None,
) -> list[date]:
    """Enter holidays or make-up working days from a notice published after the shipped data
    (an entry for a day replaces the day's earlier one), and mark each year's schedule for the
    scope as entered. Nothing is written when a field is wrong."""
    problems = _entry_problems(days, kind, scope, name, reference)
    if problems:
        raise ValidationFailed(
            Message(
                "The calendar days are not valid: %(fields)s",
                fields=", ".join(dict.fromkeys(p["field"] for p in problems)),
            ),
            problems,
        )
    parsed = [date.fromisoformat(d) for d in days]
    now = clock.now()
    for day in parsed:
        row = session.scalar(select(CalendarEntry).where(CalendarEntry.day == day))
        if row is None:
            row = CalendarEntry(day=day)
            session.add(row)
        before = None if row.kind is None else {"kind": row.kind, "scope": row.scope}
        audit.record(
            session,
            now,
            "calendar_day_entered",
            actor_id=actor_id,
            object_type="calendar_day",
            object_ref=day.isoformat(),
            before=before,
            after={"kind": kind, "scope": scope, "name": name.strip()},
            reference=reference.strip(),
        )
        row.kind, row.scope, row.name = kind, scope, name.strip()
        row.reference, row.entered_at = reference.strip(), now
    for year in sorted({d.year for d in parsed}):
        scheduled = session.scalar(
            select(CalendarSchedule).where(
                CalendarSchedule.scope == scope, CalendarSchedule.year == year
            )
        )
        if scheduled is None:
            session.add(
                CalendarSchedule(
                    scope=scope, year=year, reference=reference.strip(), entered_at=now
                )
            )
    session.flush()
    return parsed
