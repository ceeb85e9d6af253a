"""What the catalog gives the workflow runtime."""

from __future__ import annotations

from engine.catalog import declarations
from engine.catalog.versions import (
    publish_action,
    resubmit_action,
    return_action,
    revision_ready,
    updated_since_event,
)
from engine.i18n import N_, Message
from engine.workflow.handlers import FactKind, Handlers

HANDLERS = Handlers(
    actions={
        "publish_catalog_version": publish_action,
        "return_catalog_version": return_action,
        "resubmit_catalog_version": resubmit_action,
        "file_no_change_declaration": declarations.file_action,
        "accept_no_change_declaration": declarations.accept_action,
        "return_no_change_declaration": declarations.return_action,
    },
    action_labels={
        "publish_catalog_version": Message(N_("Catalog version published")),
        "return_catalog_version": Message(N_("Catalog version returned for correction")),
        "resubmit_catalog_version": Message(N_("Corrected catalog version resubmitted")),
        "file_no_change_declaration": Message(N_('"No change needed" declared, sent for review')),
        "accept_no_change_declaration": Message(N_('"No change needed" declaration accepted')),
        "return_no_change_declaration": Message(N_('"No change needed" declaration returned')),
    },
    completion_checks={
        "catalog_published_since_event": updated_since_event,
        "catalog_revision_ready": revision_ready,
    },
    facts={
        # a law revision or change of function requires the department's catalog updated by
        # ``due`` (art. 8), and the duty done (met or missed): by an update, or by a "no change
        # needed" declaration the authority accepted (on time if declared by ``due``: ``acted``)
        "catalog_update_required": FactKind(required=("role", "due")),
        "catalog_update_done": FactKind(
            required=("role", "due"),
            optional=("decision", "acted"),
            decisions=("updated", "no_change_declared"),
        ),
        # the department declared, with reasons, that the change needs no catalog update (met:
        # declared by the update deadline), and the authority's ruling on it
        declarations.DECLARED: FactKind(required=("role", "reasons", "due")),
        declarations.DECIDED: FactKind(
            required=("decision",), optional=("reasons",), decisions=declarations.RULINGS
        ),
        # the authority published a catalog change or returned it with comments
        "publication_decided": FactKind(
            required=("decision",),
            optional=("reasons",),
            decisions=("published", "returned", "withdrawn"),
        ),
    },
    key_prefixes={"catalog_publication": "ML", "catalog_update": "MG"},
)
