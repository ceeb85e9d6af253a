"""What oversight gives the workflow runtime."""

from __future__ import annotations

from engine.i18n import N_, Message
from engine.oversight.audit_log import checkpoint_job
from engine.oversight.breaches import close_rectification, record_breach_effect
from engine.oversight.evaluation import start_due_campaigns
from engine.oversight.projects import (
    acceptance_gate,
    approval_gate,
    close_joint_review,
    set_status,
)
from engine.oversight.summary import tally_fact
from engine.workflow.handlers import Effect, FactKind, Handlers

HANDLERS = Handlers(
    actions={
        "close_rectification": close_rectification,
        "project_status": set_status,
        "close_joint_review": close_joint_review,
    },
    action_labels={
        "close_rectification": Message(N_("Rectification closed")),
        "project_status": Message(N_("Project status updated")),
        "close_joint_review": Message(N_("Joint review closed")),
    },
    effects={"record_breach": Effect(record_breach_effect, role_arg=0)},
    completion_checks={
        "project_approval_gate": approval_gate,
        "project_acceptance_gate": acceptance_gate,
    },
    facts={
        # a unit's annual report about ``year`` (art. 17): ``report`` maps the figure names of
        # engine.oversight.evaluation.FIGURE_KEYS and achievements, problems, plans to the text
        # the unit submitted
        "annual_report_submitted": FactKind(required=("year", "due", "report")),
        # the end of January passed without the unit's report
        "annual_report_overdue": FactKind(required=("year", "due")),
        # the joint review approved or returned a project, or its acceptance passed (art. 20);
        # a return names the returning ``seat`` and its ``reasons``
        "project_decided": FactKind(
            required=("decision",),
            optional=("reasons", "seat"),
            decisions=("approved", "returned", "accepted"),
        ),
    },
    fact_tallies=(tally_fact,),  # the yearly figures, in step with the facts
    key_prefixes={"annual_evaluation": "PG", "project_approval": "XM", "rectification": "ZG"},
    jobs=(start_due_campaigns, checkpoint_job),
)
