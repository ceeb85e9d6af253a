"""Catalog search: a bigram index that works the same on SQLite and PostgreSQL.

Indexing: the search text of a published entry becomes terms — every pair of adjacent CJK
characters and every lower-cased ASCII word — stored in ``catalog_term (term, resource_id)``.
Searching: the query's terms must all be present (the first term's postings are scanned in
resource order, the others checked by index lookups) and the text must contain the query (LIKE),
with filters applied in the same statement. A page costs O(page + rows skipped), and the count
stops at COUNT_CAP, so a search costs about the same over 1,000 or 50,000 entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, exists, func, insert, select
from sqlalchemy.orm import Session, aliased, selectinload

from engine.catalog.models import CatalogTerm, Resource
from engine.catalog.views import Entry, entry_of
from engine.paging import COUNT_CAP, capped_count, page_count

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[A-Za-z0-9]+")
PAGE_SIZE = 20
PUBLIC_PAGE_SIZE = 50


def terms(text: str) -> list[str]:
    """Distinct index terms of a text: CJK bigrams (a lone character stays a unigram) and words."""
    out: list[str] = []
    for run in CJK.findall(text or ""):
        out += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
    out += [w.lower() for w in WORD.findall(text or "")]
    return list(dict.fromkeys(t[:40] for t in out))


def index_resource(session: Session, resource: Resource) -> None:
    """(Re)index one entry; unpublished entries have no terms."""
    session.execute(delete(CatalogTerm).where(CatalogTerm.resource_id == resource.id))
    if resource.status == "published":
        rows = [{"term": t, "resource_id": resource.id} for t in terms(resource.search_text)]
        if rows:
            session.execute(insert(CatalogTerm), rows)


@dataclass
class Filters:
    q: str = ""
    provider_id: int | None = None
    share_type: str | None = None
    classification: str | None = None
    network: str | None = None
    open_to_public: bool | None = None
    division_code: str | None = None


@dataclass(frozen=True)
class Results:
    rows: list[Entry]
    total: int  # exact up to COUNT_CAP
    page: int
    pages: int
    more: bool


def _statement(f: Filters) -> tuple[Select[Resource], bool]:
    stmt = select(Resource).where(Resource.status == "published")
    q = (f.q or "").strip()
    query_terms = terms(q)
    if query_terms:
        first, rest = query_terms[0], query_terms[1:]
        stmt = (
            select(Resource)
            .join(
                CatalogTerm, (CatalogTerm.resource_id == Resource.id) & (CatalogTerm.term == first)
            )
            .where(Resource.status == "published")
        )
        for t in rest:
            other = aliased(CatalogTerm)
            stmt = stmt.where(exists().where(other.resource_id == Resource.id, other.term == t))
        for part in q.split():
            stmt = stmt.where(func.lower(Resource.search_text).like(f"%{part.lower()}%"))
    for column, value in (
        (Resource.provider_id, f.provider_id),
        (Resource.share_type, f.share_type),
        (Resource.classification, f.classification),
        (Resource.network, f.network),
        (Resource.open_to_public, f.open_to_public),
        (Resource.division_code, f.division_code),
    ):
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    return stmt, bool(query_terms)


def search(
    session: Session, filters: Filters, page: int = 1, page_size: int = PAGE_SIZE
) -> Results:
    stmt, by_term = _statement(filters)
    order = CatalogTerm.resource_id if by_term else Resource.id  # both indexed
    return _page(session, stmt, order, page, page_size)


def open_to_public(
    session: Session, q: str = "", page: int = 1, page_size: int = PUBLIC_PAGE_SIZE
) -> Results:
    """Published entries open to the public (art. 24), by code (unique, indexed), one page;
    ``q`` narrows by text. The count stops at COUNT_CAP."""
    stmt = select(Resource).where(Resource.status == "published", Resource.open_to_public.is_(True))
    if q:
        stmt = stmt.where(Resource.search_text.like(f"%{q}%"))
    return _page(session, stmt, Resource.code, page, page_size)


def _page(session: Session, stmt: Select[Any], order: Any, page: int, page_size: int) -> Results:
    """One page of the entries ``stmt`` selects, in ``order`` (indexed): a count that stops at
    COUNT_CAP, the page clamped to the pages there are, the entries with their providers."""
    total = capped_count(session, stmt, Resource.id, COUNT_CAP)
    pages = page_count(total, page_size, COUNT_CAP)
    page = min(max(1, page), pages)
    rows = session.scalars(
        stmt.options(selectinload(Resource.provider))
        .order_by(order)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return Results(
        [entry_of(r) for r in rows], min(total, COUNT_CAP), page, pages, total > COUNT_CAP
    )
