"""The open data-error verifications (art. 15) a reorganised department is a party to, as the
provider or the reporting department: the successor answers them. Closed ones are history."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.directory.administration import Holding
from engine.quality.models import Verification


def _open(session: Session, department_id: int) -> list[Verification]:
    return list(
        session.scalars(
            select(Verification)
            .where(
                Verification.status == "open",
                or_(
                    Verification.provider_id == department_id,
                    Verification.requester_id == department_id,
                ),
            )
            .order_by(Verification.id)
        )
    )


def holdings(session: Session, department_id: int) -> list[Holding]:
    return [
        Holding("verifications", str(v.id), f"#{v.id} · {v.record_id} · {v.field}")
        for v in _open(session, department_id)
    ]


def transfer(session: Session, department_id: int, moves: dict[str, int]) -> int:
    n = 0
    for v in _open(session, department_id):
        new = moves.get(str(v.id))
        if new is None:
            continue
        if v.provider_id == department_id:
            v.provider_id = new
        if v.requester_id == department_id:
            v.requester_id = new
        n += 1
    return n
