"""A minimal catalog (art. 9, 10): resources, their providers, share types and info items.

The catalog issue extends this with versions, rules and publication; requests already point at
resources by their code.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFound
from .i18n import Message
from .models import Resource

SHARE_TYPES = ("unconditional", "conditional", "not_shared")


def resource_by_code(session: Session, code: str) -> Resource:
    resource = session.scalar(select(Resource).where(Resource.code == code))
    if resource is None:
        raise NotFound(Message("Unknown resource '%(code)s' in the catalog.", code=code))
    return resource


def item_names(resource: Resource) -> list[str]:
    return [item["name"] for item in resource.info_items]
