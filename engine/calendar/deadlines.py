"""The ``deadline`` table: how each deadline variable of a running instance was counted.

The runtime calls :func:`record_deadlines` in the command whose script assigned a variable from
``deadline(start, n)`` (same transaction as the new state) and :func:`forget_deadlines` when the
instance completes. A calendar notice (engine.workflow.calendar_notices) finds the deadlines whose window
covers a changed day with one indexed range query and counts them again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from engine.calendar.models import DeadlineRecord
from engine.clock import SHANGHAI, parse_instant
from engine.db import add_row


def record_deadlines(
    session: Session,
    instance_id: int,
    assigned: dict[str, tuple[str, int, str]],
    new: bool = False,
) -> None:
    """Store (or replace) the start and working days of each deadline variable assigned; an
    instance ``new`` in this command has none stored yet (nothing to read)."""
    if not assigned:
        return
    rows = (
        {}
        if new
        else {
            r.variable: r
            for r in session.scalars(
                select(DeadlineRecord).where(
                    DeadlineRecord.instance_id == instance_id,
                    DeadlineRecord.variable.in_(list(assigned)),
                )
            )
        }
    )
    for variable, (start, n, due) in assigned.items():
        start_at, due_at = parse_instant(start), parse_instant(due)
        values = {
            "start_at": start_at,
            "working_days": n,
            "due_at": due_at,
            "start_day": start_at.astimezone(SHANGHAI).date(),
            "due_day": due_day_of(due_at),
        }
        row = rows.get(variable)
        if row is None:  # with the command's other rows (engine.db.add_row)
            add_row(
                session, DeadlineRecord, instance_id=instance_id, variable=variable[:100], **values
            )
        else:
            for key, value in values.items():
                setattr(row, key, value)


def due_day_of(due_at: datetime) -> date:
    """The last working day counted: a due instant is 24:00 (the next day's 00:00) of it."""
    return (due_at.astimezone(SHANGHAI) - timedelta(microseconds=1)).date()


def forget_deadlines(session: Session, instance_id: int) -> None:
    """A completed instance has no open deadline left (plain Core: a command never holds its
    deadline rows in the session)."""
    table: Table = DeadlineRecord.__table__  # type: ignore[assignment]
    session.connection().execute(delete(table).where(table.c.instance_id == instance_id))
