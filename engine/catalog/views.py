"""What the catalog hands to pages and the API: frozen dataclasses of plain values, built inside
the services with the queries they need (never a model object whose relationships a template
would load row by row)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from engine.catalog.models import Resource, ResourceVersion
from engine.directory.models import Department
from engine.i18n import Label


@dataclass(frozen=True)
class DepartmentRef:
    """A department as the catalog shows it (a provider, an option of a picker)."""

    id: int
    slug: str
    name: Label  # in both languages


def department_ref(department: Department) -> DepartmentRef:
    return DepartmentRef(department.id, department.slug, department.label)


@dataclass(frozen=True)
class Entry:
    """A catalog entry: its columns are the published version's metadata (see ``Resource``)."""

    id: int
    code: str
    name: str
    provider_id: int
    provider: DepartmentRef
    share_type: str
    conditions: str
    legal_basis: str
    info_items: list[dict]
    summary: str
    classification: str
    network: str
    open_to_public: bool
    division_code: str | None
    status: str
    published_version: int
    published_at: datetime | None
    search_text: str
    connected: bool
    connected_at: datetime | None
    metadata: dict  # the full published entry


def entry_of(resource: Resource) -> Entry:
    """The entry of a row whose provider is loaded (or loads it: callers load providers eagerly)."""
    return Entry(
        id=resource.id,
        code=resource.code,
        name=resource.name,
        provider_id=resource.provider_id,
        provider=department_ref(resource.provider),
        share_type=resource.share_type,
        conditions=resource.conditions or "",
        legal_basis=resource.legal_basis or "",
        info_items=copy.deepcopy(list(resource.info_items or [])),
        summary=resource.summary or "",
        classification=resource.classification,
        network=resource.network,
        open_to_public=bool(resource.open_to_public),
        division_code=resource.division_code,
        status=resource.status,
        published_version=resource.published_version,
        published_at=resource.published_at,
        search_text=resource.search_text or "",
        connected=bool(resource.connected),
        connected_at=resource.connected_at,
        metadata=copy.deepcopy(dict(resource.metadata_ or {})),
    )


@dataclass(frozen=True)
class Version:
    """One saved state of an entry, with the name of who saved it (None: the initial catalog)."""

    number: int
    status: str
    data: dict
    changed_fields: list[str]
    note: str
    created_by_id: int | None
    author: Label | None
    created_at: datetime
    review_comment: str
    decided_at: datetime | None


def version_of(version: ResourceVersion, authors: Mapping[int, Label]) -> Version:
    return Version(
        number=version.number,
        status=version.status,
        data=copy.deepcopy(dict(version.data or {})),
        changed_fields=list(version.changed_fields or []),
        note=version.note or "",
        created_by_id=version.created_by_id,
        author=authors.get(version.created_by_id) if version.created_by_id else None,
        created_at=version.created_at,
        review_comment=version.review_comment or "",
        decided_at=version.decided_at,
    )
