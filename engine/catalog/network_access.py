"""Which resources a department system may ask about, by the network it connects over (art. 5).

A resource is shared over the e-government internal network (政务内网) or the extranet (政务外网);
a registered client (engine.directory.clients) sits on one of them. A client on the extranet is
refused every resource shared only over the internal network, with the reason; a client on the
internal network may ask about both."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog.models import Resource
from engine.directory.clients import ClientPrincipal
from engine.errors import Forbidden
from engine.i18n import Message


def check_network(session: Session, principal: ClientPrincipal, resource_code: str) -> None:
    """A client on the extranet is refused a resource shared only over the internal network
    (art. 5). Unknown codes pass here (the service answers 404 with its own message)."""
    if principal.network != "extranet":
        return
    row = session.execute(
        select(Resource.code, Resource.name, Resource.network).where(Resource.code == resource_code)
    ).first()
    if row is not None and row.network == "internal":
        raise Forbidden(
            Message(
                "Resource %(code)s %(name)s is shared only over the e-government internal "
                "network; this system connects over the extranet.",
                code=row.code,
                name=row.name,
            )
        )


def visible_network(principal: ClientPrincipal | None) -> str | None:
    """The only network whose resources the caller may list (None: every network)."""
    return "extranet" if principal is not None and principal.network == "extranet" else None
