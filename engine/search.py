"""One search box for everything an official may look up (issue 12): requests, catalog entries,
IT projects and breach-ledger entries, by key, name or code.

Each group is found by its area's own service with the area's own rule of who sees what — the
request list (:mod:`engine.sharing.request_list`: the department's requests, an authority's
levels), the published catalog (:mod:`engine.catalog.search`, everyone), the projects a user sees
(:func:`engine.oversight.projects.projects_for`) and the ledger as scoped for the reader
(:func:`engine.oversight.breaches.ledger`, by the business key of the request that recorded the
entry). Each group holds at most :data:`PER_GROUP` results and says whether there are more; the
page links "more" into the area's own list, filtered the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.catalog import search as catalog_search
from engine.clock import Clock
from engine.directory.models import User
from engine.errors import Forbidden, NotFound
from engine.i18n import N_, Message
from engine.inputs import require
from engine.oversight import breaches
from engine.oversight.projects import projects_for
from engine.sharing import request_list
from engine.workflow import history

PER_GROUP = 5
BUSINESS_KEY = re.compile(r"[A-Z]{2}-\d{4}-\d{6}")
KINDS = ("requests", "catalog", "projects", "breaches")


@dataclass(frozen=True)
class Hit:
    """One result: what it is called and what identifies it (the page links it by ``ref``)."""

    ref: str  # business key, catalog code, project id, ledger entry id
    title: str
    detail: Message  # a second line: provider, department … (names in the reader's language)
    code: str  # shown through its label: a request's status, a ledger entry's kind; else ""


@dataclass(frozen=True)
class Group:
    kind: str  # one of KINDS
    hits: list[Hit]
    more: bool  # more results than shown: follow the area's filtered list


@dataclass(frozen=True)
class SearchResults:
    q: str
    groups: list[Group]  # in KINDS order, empty groups included

    @property
    def empty(self) -> bool:
        return not any(g.hits for g in self.groups)


def search_everything(session: Session, clock: Clock, user: User, q: str) -> SearchResults:
    """What ``q`` (a key, name or code, or part of one) finds in each area, as the user may see
    it; an empty query finds nothing."""
    q = (q or "").strip()
    if q:
        require("q", q, Message(N_("Search")), max_length=100)
    if not q:
        return SearchResults(q, [Group(kind, [], False) for kind in KINDS])
    return SearchResults(
        q,
        [
            _requests(session, clock, user, q),
            _catalog(session, q),
            _projects(session, user, q),
            _breaches(session, user, q),
        ],
    )


def _requests(session: Session, clock: Clock, user: User, q: str) -> Group:
    scope = "level" if user.department.is_authority else "department"
    found = request_list.requests_of(
        session, clock, user, request_list.Filters(scope=scope, q=q), page_size=PER_GROUP
    )
    hits = [
        Hit(
            r.business_key,
            r.resource_name,
            Message(N_("%(requester)s → %(provider)s"), requester=r.requester, provider=r.provider),
            r.status,
        )
        for r in found.rows
    ]
    key = q.upper()
    if BUSINESS_KEY.fullmatch(key) and all(h.ref != key for h in hits):
        hits = _case_by_key(session, user, key) + hits
    return Group("requests", hits, found.total > PER_GROUP)


def _case_by_key(session: Session, user: User, key: str) -> list[Hit]:
    """A case of any procedure (a catalog update duty, a verification, a project's approval …)
    found by its exact business key, where the user may open it."""
    try:
        instance = history.instance_for(session, user, key)
    except (NotFound, Forbidden):
        return []
    summary = instance.summary or {}
    title = str(summary.get("resource_name") or summary.get("project_name") or "")
    return [Hit(key, title or key, Message(N_("Found by its business key")), "")]


def _catalog(session: Session, q: str) -> Group:
    found = catalog_search.search(session, catalog_search.Filters(q=q), page_size=PER_GROUP)
    hits = [Hit(e.code, e.name, e.provider.name, "") for e in found.rows]
    return Group("catalog", hits, found.total > PER_GROUP)


def _projects(session: Session, user: User, q: str) -> Group:
    found = projects_for(session, user, limit=PER_GROUP + 1, q=q)
    hits = [Hit(str(p.id), p.name, p.department_name, "") for p in found[:PER_GROUP]]
    return Group("projects", hits, len(found) > PER_GROUP)


def _breaches(session: Session, user: User, q: str) -> Group:
    if len(q) > 40:  # no business key is longer
        return Group("breaches", [], False)
    found = breaches.ledger(session, user, breaches.Filters(key=q), page_size=PER_GROUP)
    hits = [
        Hit(str(b.id), str(b.evidence.get("business_key") or ""), b.department_name, b.kind)
        for b in found.rows
    ]
    return Group("breaches", hits, found.total > PER_GROUP)
