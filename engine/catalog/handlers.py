"""What the catalog gives the workflow runtime."""

from __future__ import annotations

from engine.catalog.versions import publish_action, return_action, updated_since_event
from engine.workflow.handlers import Handlers

HANDLERS = Handlers(
    actions={
        "publish_catalog_version": publish_action,
        "return_catalog_version": return_action,
    },
    completion_checks={"catalog_published_since_event": updated_since_event},
    key_prefixes={"catalog_publication": "ML", "catalog_update": "MG"},
)
