"""The composition root: the workflow runtime plus every domain area's handlers = the engine.

Only this module (and the seed, which fills a whole database) imports every area. Web, the CLI,
the worker, tests and benchmarks receive an :class:`Engine` from :func:`build_engine` and make
their sessions with it, so every command they run knows the handlers of every area::

    engine = build_engine()
    with engine.sessions(db)() as session, session.begin():
        ...call a service of engine.workflow or of an area with `session`...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sqlalchemy import Engine as Database
from sqlalchemy import MetaData
from sqlalchemy.orm import Session, sessionmaker

from engine import audit as _audit_models
from engine import refcache as _refcache_models
from engine.calendar import models as _calendar_models
from engine.catalog import models as _catalog_models
from engine.catalog.handlers import HANDLERS as CATALOG
from engine.db import Base, make_engine
from engine.directory import client_models as _client_models
from engine.directory import models as _directory_models
from engine.oversight import models as _oversight_models
from engine.oversight.handlers import HANDLERS as OVERSIGHT
from engine.quality import models as _quality_models
from engine.quality.handlers import HANDLERS as QUALITY
from engine.rules import models as _rules_models
from engine.sharing import models as _sharing_models
from engine.sharing.handlers import HANDLERS as SHARING
from engine.trust import models as _trust_models
from engine.trust.handlers import HANDLERS as TRUST
from engine.trust.keys import sign_checkpoint, verify_checkpoint
from engine.workflow import models as _workflow_models
from engine.workflow.attachments import sweep_orphans
from engine.workflow.handlers import SESSION_KEY, Handlers
from notifications import delivery as _delivery_models
from notifications import models as _notification_models
from notifications.digest import daily_digest
from notifications.fanout import fan_out
from notifications.ladder import due_today, grants_expiring
from notifications.sending import deliver_in_background

AREA_MODELS = (
    _audit_models,
    _refcache_models,
    _directory_models,
    _client_models,
    _calendar_models,
    _workflow_models,
    _catalog_models,
    _sharing_models,
    _quality_models,
    _oversight_models,
    _rules_models,
    _trust_models,
    _notification_models,
    _delivery_models,
)
AREA_HANDLERS = (
    CATALOG,
    SHARING,
    QUALITY,
    OVERSIGHT,
    TRUST,
    Handlers(jobs=(fan_out, due_today, grants_expiring, daily_digest, sweep_orphans)),
    Handlers(background=(deliver_in_background,)),
)

# the audit chain's checkpoints are signed by the region authority's key (docs/trust.md)
_audit_models.set_checkpoint_signer(sign_checkpoint)
_audit_models.set_checkpoint_verifier(verify_checkpoint)

# what Engine.sessions makes: call it for a session whose commands run with the engine's handlers
SessionFactory: TypeAlias = sessionmaker[Session]


@dataclass(frozen=True)
class Engine:
    """The assembled engine: the handler table every command on an instance runs with."""

    handlers: Handlers

    def session_options(self) -> dict:
        """Options for a sessionmaker (or Flask-SQLAlchemy) whose sessions run this engine."""
        return {"info": {SESSION_KEY: self.handlers}}

    def sessions(self, database: Database | str | None = None) -> SessionFactory:
        """A session factory on ``database`` (an SQLAlchemy engine or URL; default: the
        configured database) whose sessions run commands with this engine's handlers."""
        bind = database if isinstance(database, Database) else make_engine(database)
        return sessionmaker(bind=bind, expire_on_commit=False, **self.session_options())


def build_engine(*extra: Handlers) -> Engine:
    """Every area's handlers (plus ``extra`` tables, e.g. a test's) combined into one engine;
    a name registered twice is refused here, at start-up."""
    return Engine(Handlers.combine(*AREA_HANDLERS, *extra))


def metadata() -> MetaData:
    """Every table of every area (for Alembic and schema checks)."""
    return Base.metadata
