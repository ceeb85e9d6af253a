"""Once a day: the worker's daily jobs (the 催办 on the day a deadline falls, grants about to
expire, the digest) each run once per day, from ``GOVSHARE_NOTIFY_HOUR`` (default 8:00 Beijing
time) on, however many workers run and however often they loop.

A job locks its row of ``notification_job_mark`` (``FOR UPDATE`` on PostgreSQL; SQLite
serializes writers anyway), and the day it records commits with the notifications it made: a
worker killed in the middle leaves the day to do again, and the notifications' dedupe keys keep
what was made before from being made twice.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI, Clock
from engine.db import is_postgres
from notifications.models import NotificationJobMark


def notify_hour() -> int:
    return int(os.environ.get("GOVSHARE_NOTIFY_HOUR", "8"))


def local_today(clock: Clock) -> date:
    return clock.now().astimezone(SHANGHAI).date()


def start_of(day: date) -> datetime:
    """00:00 Beijing time of ``day``, as an aware instant."""
    return datetime.combine(day, time(0), SHANGHAI)


def _mark(session: Session, job: str) -> NotificationJobMark:
    stmt = select(NotificationJobMark).where(NotificationJobMark.job == job)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    mark = session.scalar(stmt.execution_options(populate_existing=True))
    if mark is not None:
        return mark
    try:
        with session.begin_nested():
            session.add(NotificationJobMark(job=job))
            session.flush()
    except IntegrityError:
        pass  # another worker made the row first; lock theirs
    return session.scalar(stmt.execution_options(populate_existing=True))  # type: ignore[return-value]


def claim_day(session: Session, clock: Clock, job: str) -> NotificationJobMark | None:
    """The job's mark, locked and moved to today, if the job has not run today and it is past
    the hour; else None (nothing to do). ``mark.through`` is left for the job to keep."""
    local = clock.now().astimezone(SHANGHAI)
    if local.hour < notify_hour():
        return None
    mark = _mark(session, job)
    if mark.day is not None and mark.day >= local.date():
        return None
    mark.day = local.date()
    return mark
