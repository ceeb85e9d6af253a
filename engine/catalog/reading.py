"""The catalog as one user may read it: an entry with its versions, the edit form, the provider
filter, the public list and the search of the request form.

Unpublished entries and versions are shown only to the providing department and the reviewing
authority (:func:`engine.catalog.may_see_unpublished`); everyone else sees the published entry
and its published and superseded versions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, joinedload

from engine.catalog import may_see_unpublished, resource_by_code, resource_for
from engine.catalog.models import Resource
from engine.catalog.versions import history, latest_version
from engine.catalog.views import DepartmentRef, Entry, Version, department_ref, entry_of, version_of
from engine.directory import departments, users_by_id
from engine.directory.models import Department, User
from engine.errors import Forbidden
from engine.i18n import Message
from engine.inputs import storable

PUBLIC_VERSIONS = ("published", "superseded")
NEW_ENTRY = {
    "info_items": [],
    "share_method": "interface",
    "network": "extranet",
    "update_cycle": "monthly",
    "classification": "department",
}


@dataclass(frozen=True)
class EntryView:
    resource: Entry
    versions: list[Version]  # newest first, those the user may see
    own: bool  # the user's department provides the entry
    latest: Version | None  # the newest version, for those who may see it, else None
    entry: dict  # the metadata shown: the chosen version, else the published (or latest) one
    chosen: Version | None  # the version asked for, when the user may see it
    lead: DepartmentRef | None = None  # the lead department of a thematic entry (by its slug)


def entry_view(session: Session, user: User, code: str, version: str = "") -> EntryView:
    resource = resource_for(session, user, code)
    rows = history(session, resource)
    insider = may_see_unpublished(session, user, resource)
    shown_rows = [v for v in rows if insider or v.status in PUBLIC_VERSIONS]
    authors = {
        i: u.label for i, u in users_by_id(session, {v.created_by_id for v in shown_rows}).items()
    }
    shown = [version_of(v, authors) for v in shown_rows]
    latest = version_of(rows[0], authors) if rows and insider else None
    chosen = next((v for v in shown if str(v.number) == version), None)
    shown_entry = entry_of(resource)
    if chosen is not None:
        entry = chosen.data
    elif resource.status == "published":
        entry = shown_entry.metadata
    else:
        entry = latest.data if latest else {}
    lead = session.scalar(
        select(Department).where(Department.slug == str(entry.get("lead_department") or ""))
    )
    return EntryView(
        resource=shown_entry,
        versions=shown,
        own=resource.provider_id == user.department_id,
        latest=latest,
        entry=entry,
        chosen=chosen,
        lead=department_ref(lead) if lead is not None else None,
    )


@dataclass(frozen=True)
class EditView:
    code: str | None  # None: a new entry
    data: dict  # the latest version's entry, or the defaults of a new one
    provider: str  # the slug of the providing department
    departments: list[DepartmentRef]  # for the related-departments picker


def edit_view(session: Session, user: User, code: str | None) -> EditView:
    """The edit form of an entry of the user's department (Forbidden for another's)."""
    resource = resource_for(session, user, code) if code else None
    if resource is not None and resource.provider_id != user.department_id:
        raise Forbidden(
            Message("Only officials of the providing department may edit its catalog entries.")
        )
    latest = latest_version(session, resource) if resource is not None else None
    provider = resource.provider.slug if resource is not None else user.department.slug
    data = dict(latest.data) if latest else {"provider": provider, **NEW_ENTRY}
    return EditView(
        resource.code if resource is not None else None,
        data,
        provider,
        [department_ref(d) for d in departments(session)],
    )


def providers(session: Session) -> list[DepartmentRef]:
    """Departments with a published entry (the catalog's provider filter)."""
    ids = session.scalars(
        select(Resource.provider_id).where(Resource.status == "published").distinct()
    )
    return [department_ref(d) for d in departments(session, ids=ids)]


def published_entry(session: Session, code: str) -> Entry:
    """The published entry ``code`` (NotFound otherwise), as the API shows it."""
    return entry_of(resource_by_code(session, code))


def find_requestable(session: Session, q: str = "", limit: int = 50) -> list[Entry]:
    """Published entries whose name, code, provider or info items contain ``q`` (the request
    form's search), by code."""
    stmt = (
        select(Resource)
        .join(Department, Resource.provider_id == Department.id)
        .where(Resource.status == "published")
        .options(joinedload(Resource.provider))
        .order_by(Resource.code)
    )
    if q:
        like = f"%{q}%"
        # info items are JSON: matched as text
        stmt = stmt.where(
            or_(
                Resource.name.like(like),
                Resource.code.like(like),
                Department.name.like(like),
                func.lower(Department.name_en).like(like.lower()),
                cast(Resource.info_items, String).like(like),
            )
        )
    return [entry_of(r) for r in session.scalars(stmt.limit(limit))]


def requestable(session: Session, code: str | None) -> Entry | None:
    """The published entry ``code`` (what the request form may apply for), or None."""
    if not code or not storable(code):
        return None
    resource = session.scalar(
        select(Resource)
        .where(Resource.code == code, Resource.status == "published")
        .options(joinedload(Resource.provider))
    )
    return entry_of(resource) if resource is not None else None


def published_counts(session: Session, provider_id: int | None = None) -> tuple[int, int]:
    """Published entries and open ones among them (art. 24), of one provider or of everyone."""
    stmt = select(
        func.count(Resource.id),
        func.count(Resource.id).filter(Resource.open_to_public.is_(True)),
    ).where(Resource.status == "published")
    if provider_id is not None:
        stmt = stmt.where(Resource.provider_id == provider_id)
    entries, open_ = session.execute(stmt).one()
    return int(entries), int(open_)
