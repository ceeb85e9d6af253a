"""The data-resource catalog (政务数据资源目录; art. 8, 9, 10, 12, 20, 24).

- ``entry``: the metadata of an entry (政务信息资源目录编制指南(试行)) and its normal form
- ``rules``: what makes an entry acceptable, each rule with a clear message
- ``versions``: drafts, submission, publication, history — every change is a version
- ``search``: the bigram index and the search used by pages and the API
- ``transfer``: bulk import and export (CSV, JSON, DCAT-style JSON)
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog.models import Resource
from engine.errors import NotFound
from engine.i18n import Message

SHARE_TYPES = ("unconditional", "conditional", "not_shared")


def resource_by_code(session: Session, code: str, published: bool = True) -> Resource:
    """A catalog entry by code; by default only a published one (only those can be requested)."""
    resource = session.scalar(select(Resource).where(Resource.code == code))
    if resource is None or (published and resource.status != "published"):
        raise NotFound(Message("Unknown resource '%(code)s' in the catalog.", code=code))
    return resource


def item_names(resource: Resource) -> list[str]:
    return [item["name"] for item in resource.info_items]
