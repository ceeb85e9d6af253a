"""The grants a reorganised department holds as requester (art. 12, 14): those still in force go
to the successor, so the use check answers for it; expired grants stay with the predecessor."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.directory.administration import Holding
from engine.sharing.models import Grant


def _in_force(session: Session, department_id: int, today: date) -> list[Grant]:
    return list(
        session.scalars(
            select(Grant)
            .where(
                Grant.requester_id == department_id,
                or_(Grant.period_end.is_(None), Grant.period_end >= today),
            )
            .order_by(Grant.id)
        )
    )


def holdings(session: Session, department_id: int, today: date) -> list[Holding]:
    out = []
    for grant in _in_force(session, department_id, today):
        until = grant.period_end.isoformat() if grant.period_end else "—"
        out.append(Holding("grants", str(grant.id), f"#{grant.id} · {until}"))
    return out


def transfer(session: Session, department_id: int, moves: dict[str, int], today: date) -> int:
    n = 0
    for grant in _in_force(session, department_id, today):
        new = moves.get(str(grant.id))
        if new is not None:
            grant.requester_id = new
            for row in grant.item_rows:  # the rows the art. 14 check walks move with it
                row.requester_id = new
            n += 1
    return n
