"""What a reorganised department holds in oversight: its breach-ledger entries (art. 23: the
successor answers for them, appeals and rectification included) and its IT projects (art. 20)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.directory.administration import Holding
from engine.oversight.models import Breach, Project


def holdings(session: Session, department_id: int) -> list[Holding]:
    out = [
        Holding(
            "breaches", str(b.id), f"#{b.id} · {b.article} · {b.recorded_at.date().isoformat()}"
        )
        for b in session.scalars(
            select(Breach).where(Breach.department_id == department_id).order_by(Breach.id)
        )
    ]
    out += [
        Holding("projects", str(p.id), p.name)
        for p in session.scalars(
            select(Project).where(Project.department_id == department_id).order_by(Project.id)
        )
    ]
    return out


def transfer(session: Session, department_id: int, moves: dict[tuple[str, str], int]) -> int:
    """``moves``: (kind, key) -> successor id."""
    n = 0
    for breach in session.scalars(select(Breach).where(Breach.department_id == department_id)):
        new = moves.get(("breaches", str(breach.id)))
        if new is not None:
            breach.department_id = new
            n += 1
    for project in session.scalars(select(Project).where(Project.department_id == department_id)):
        new = moves.get(("projects", str(project.id)))
        if new is not None:
            project.department_id = new
            n += 1
    return n
