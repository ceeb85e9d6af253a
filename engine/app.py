"""The composition root: the workflow runtime plus every domain area's handlers = the engine.

Web, CLI, worker and tests receive the engine built here; nothing else imports every area.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from engine.calendar import models as _calendar_models
from engine.catalog import models as _catalog_models
from engine.db import Base
from engine.directory import models as _directory_models
from engine.oversight import models as _oversight_models
from engine.quality import models as _quality_models
from engine.sharing import models as _sharing_models
from engine.workflow import models as _workflow_models

AREA_MODELS = (
    _directory_models,
    _calendar_models,
    _workflow_models,
    _catalog_models,
    _sharing_models,
    _quality_models,
    _oversight_models,
)


def metadata() -> MetaData:
    """Every table of every area (for Alembic and schema checks)."""
    return Base.metadata
