"""What sharing gives the workflow runtime."""

from __future__ import annotations

from engine.sharing.disputes import file_dossier
from engine.sharing.grants import issue_grant_effect
from engine.workflow.handlers import Effect, Handlers

HANDLERS = Handlers(
    actions={"file_dossier": file_dossier},
    effects={"issue_grant": Effect(issue_grant_effect)},
    key_prefixes={"share_request": "GX", "negotiation": "XS"},
)
