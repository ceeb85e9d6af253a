"""Linking (art. 8): city and county catalogs are linked (相衔接) to the region catalog — each of
their entries names the region entry it corresponds to (``region_link``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.catalog.models import Resource
from engine.catalog.views import Entry, entry_of
from engine.directory.models import Division


def region_code(session: Session) -> str | None:
    """The code of the region (自治区) division; None before the directory is loaded."""
    return session.scalar(select(Division.code).where(Division.level == "region"))


def unlinked(session: Session) -> list[tuple[Entry, str]]:
    """Published city/county entries without a valid link, each with why."""
    region = region_code(session)
    region_codes = set(
        session.scalars(
            select(Resource.code).where(
                Resource.status == "published", Resource.division_code == region
            )
        )
    )
    out: list[tuple[Entry, str]] = []
    local = session.scalars(
        select(Resource)
        .where(Resource.status == "published", Resource.division_code != region)
        .options(selectinload(Resource.provider))
        .order_by(Resource.division_code, Resource.code)
    )
    for r in local:
        link = (r.metadata_ or {}).get("region_link") or ""
        if not link:
            out.append((entry_of(r), "no link"))
        elif link not in region_codes:
            out.append((entry_of(r), f"links to {link}, which is not a published region entry"))
    return out
