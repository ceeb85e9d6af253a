"""The data-resource catalog (政务数据资源目录; art. 8, 9, 10, 12, 20, 24).

- ``entry``: the metadata of an entry (政务信息资源目录编制指南(试行)) and its normal form
- ``rules``: what makes an entry acceptable, each rule with a clear message
- ``versions``: drafts, submission, publication, history — every change is a version
- ``search``: the bigram index and the search used by pages and the API
- ``transfer``: bulk import and export (CSV, JSON, DCAT-style JSON)
- ``reading``: the catalog as one user may read it (entry pages, the edit form, lists)

Who sees an entry that is not published, or a version that is not (a draft, one under review or
returned): the providing department and the data-sharing authority that reviews its publication
(the authority of the provider's division, art. 8) — :func:`may_see_unpublished`, here for every
page, the API and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.catalog.models import Resource
from engine.clock import Clock
from engine.directory import authority_of
from engine.directory.models import User
from engine.errors import Forbidden, NotFound
from engine.i18n import Message
from engine.inputs import storable

SHARE_TYPES = ("unconditional", "conditional", "not_shared")


def find_resource(session: Session, code: str | None) -> Resource | None:
    """A catalog entry by code, in whatever state, or None."""
    if not code or not storable(code):
        return None
    return session.scalar(select(Resource).where(Resource.code == code))


def resource_by_code(session: Session, code: str, published: bool = True) -> Resource:
    """A catalog entry by code; by default only a published one (only those can be requested)."""
    resource = (
        session.scalar(select(Resource).where(Resource.code == code)) if storable(code) else None
    )
    if resource is None or (published and resource.status != "published"):
        raise NotFound(Message("Unknown resource '%(code)s' in the catalog.", code=code))
    return resource


def item_names(resource: Resource) -> list[str]:
    return [item["name"] for item in resource.info_items]


def is_reviewer(session: Session, user: User, resource: Resource) -> bool:
    """Is the user an official of the authority that reviews the entry's publication?"""
    if not user.department.is_authority:
        return False
    try:
        return authority_of(session, resource.provider.division_code).id == user.department_id
    except NotFound:
        return False


def may_see_unpublished(session: Session, user: User, resource: Resource) -> bool:
    """Unpublished entries and versions: the providing department and the reviewing authority."""
    return resource.provider_id == user.department_id or is_reviewer(session, user, resource)


def resource_for(session: Session, user: User, code: str) -> Resource:
    """An entry as the user may see it: published, or unpublished for the providing department
    and the reviewing authority (else NotFound: others do not learn that a draft exists)."""
    resource = resource_by_code(session, code, published=False)
    if resource.status != "published" and not may_see_unpublished(session, user, resource):
        raise NotFound(Message("Unknown resource '%(code)s' in the catalog.", code=code))
    return resource


def resources_by_code(session: Session, codes: Iterable[str]) -> dict[str, Resource]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return {r.code: r for r in session.scalars(select(Resource).where(Resource.code.in_(wanted)))}


def resources_by_id(session: Session, ids: Iterable[int]) -> list[Resource]:
    """Entries by id, in code order."""
    wanted = set(ids)
    if not wanted:
        return []
    return list(
        session.scalars(select(Resource).where(Resource.id.in_(wanted)).order_by(Resource.code))
    )


def resource_id_of(session: Session, code: str | None) -> int | None:
    if not code or not storable(code):
        return None
    return session.scalar(select(Resource.id).where(Resource.code == code))


def mark_connected(
    session: Session, clock: Clock, user: User, code: str, connected: bool = True
) -> Resource:
    """Record that an entry is (or no longer is) provided through the sharing platform (art. 7,
    20). Only officials of the providing department may."""
    resource = resource_by_code(session, code, published=False)
    if resource.provider_id != user.department_id:
        raise Forbidden(
            Message(
                "Only officials of the providing department may mark %(code)s as connected.",
                code=resource.code,
            )
        )
    before = resource.connected
    resource.connected, resource.connected_at = connected, clock.now() if connected else None
    audit.record(
        session,
        clock.now(),
        "catalog_connection_marked",
        actor_id=user.id,
        object_type="catalog_entry",
        object_ref=resource.code,
        before=bool(before),
        after=connected,
    )
    session.flush()
    return resource
