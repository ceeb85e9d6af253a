"""What data-error verification gives the workflow runtime."""

from __future__ import annotations

from engine.i18n import N_, Message
from engine.quality.verification import (
    answer_date_valid,
    close_verification,
    correction_date_valid,
    file_verification,
)
from engine.workflow.handlers import FactKind, Handlers

HANDLERS = Handlers(
    actions={"file_verification": file_verification, "close_verification": close_verification},
    completion_checks={
        "answer_date_valid": answer_date_valid,
        "correction_date_valid": correction_date_valid,
    },
    action_labels={
        "file_verification": Message(N_("Verification record updated")),
        "close_verification": Message(N_("Verification closed")),
    },
    facts={
        # a grant holder reported a suspected error in the provider's data (``role``: provider)
        "error_reported": FactKind(required=("role", "opened")),
        # the provider's answer to a reported data error (art. 13, 15): corrected, or the data
        # is right; ``due`` the verification deadline
        "verification_answered": FactKind(
            required=("decision", "due"),
            optional=("reasons",),
            decisions=("corrected", "data_correct"),
        ),
        # the authority's ruling when the requester disputes the answer
        "verification_ruled": FactKind(
            required=("decision",), optional=("reasons",), decisions=("data_wrong", "data_right")
        ),
        # the provider corrected a record the authority ruled wrong; ``due`` the correction
        # deadline
        "verification_corrected": FactKind(required=("due",), optional=("reasons",)),
    },
    key_prefixes={"data_error_verification": "JY"},
)
