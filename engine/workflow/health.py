"""The health check: is the database reachable, and how many process versions are deployed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.workflow.models import ProcessDefinition


@dataclass(frozen=True)
class Health:
    ok: bool
    database: str  # the dialect (sqlite, postgresql) when ok, else the error
    process_versions: int = 0


def check(session: Session) -> Health:
    """Never raises: a failing database is reported as ``ok=False`` with the error."""
    try:
        session.execute(text("SELECT 1"))
        deployed = session.scalar(select(func.count()).select_from(ProcessDefinition))
    except Exception as exc:  # noqa: BLE001 - report any database failure
        return Health(False, str(exc))
    return Health(True, session.get_bind().dialect.name, deployed or 0)
