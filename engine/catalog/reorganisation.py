"""The catalog entries a reorganised department provides (art. 8-10): a merger or split carries
them, drafts and published alike, to the successor, and the entry's level follows the provider."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog.models import Resource
from engine.directory.administration import Holding


def holdings(session: Session, department_id: int) -> list[Holding]:
    return [
        Holding("resources", r.code, f"{r.name} ({r.code})")
        for r in session.scalars(
            select(Resource).where(Resource.provider_id == department_id).order_by(Resource.code)
        )
    ]


def transfer(
    session: Session, department_id: int, moves: dict[str, int], divisions: dict[int, str]
) -> int:
    """Give the entries ``moves`` (code -> successor id) to their successor; ``divisions`` holds
    each successor's division (the catalog's level)."""
    n = 0
    for resource in session.scalars(select(Resource).where(Resource.provider_id == department_id)):
        new = moves.get(resource.code)
        if new is not None:
            resource.provider_id = new
            resource.division_code = divisions[new]
            n += 1
    return n


def follow_division(session: Session, department_id: int, division_code: str) -> int:
    """A department moved to another division: its entries belong to that level's catalog."""
    n = 0
    for resource in session.scalars(select(Resource).where(Resource.provider_id == department_id)):
        resource.division_code = division_code
        n += 1
    return n
