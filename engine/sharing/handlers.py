"""What sharing gives the workflow runtime."""

from __future__ import annotations

from engine.i18n import N_, Message
from engine.sharing.deadlines import note_deadline
from engine.sharing.disputes import file_dossier
from engine.sharing.grants import issue_grant_effect, partial_grant_narrower
from engine.workflow.handlers import Effect, FactKind, Handlers

HANDLERS = Handlers(
    actions={"file_dossier": file_dossier, "note_deadline": note_deadline},
    action_labels={
        "file_dossier": Message(N_("Coordination dossier filed")),
        # records the reminder, the missed or the overdue deadline itself (deadline_* events)
        "note_deadline": None,
    },
    effects={"issue_grant": Effect(issue_grant_effect)},
    completion_checks={"partial_grant_narrower": partial_grant_narrower},
    facts={
        # a department applied for data (a share request, or a direct negotiation for a
        # not-shared resource); ``role``: the requester, ``opened``: the submission
        "request_submitted": FactKind(required=("role", "opened")),
        # the provider's answer to a request (art. 11, 12): refusals carry reasons; ``opened`` is
        # the submission, ``due`` the reply deadline (met or missed)
        "request_answered": FactKind(
            required=("role", "decision", "due", "opened"),
            optional=("reasons",),
            decisions=("approved", "approved_in_part", "refused"),
        ),
        # a negotiation began (after a refusal, or directly for a not-shared resource)
        "negotiation_opened": FactKind(optional=("due",)),
        # a party's negotiation position (``role`` says whose)
        "position_stated": FactKind(required=("role", "position"), optional=("due",)),
        # the same-level authority took the dispute over (``role``: the authority)
        "coordination_opened": FactKind(required=("role",), optional=("due",)),
        # the authority's binding decision, with its reasons (art. 4, 11)
        "coordination_decided": FactKind(
            required=("decision", "reasons"),
            optional=("conditions",),
            decisions=("granted", "granted_in_part", "refusal_upheld"),
        ),
    },
    key_prefixes={"share_request": "GX", "negotiation": "XS"},
)
