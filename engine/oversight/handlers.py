"""What oversight gives the workflow runtime."""

from __future__ import annotations

from engine.oversight.breaches import close_rectification, record_breach_effect
from engine.oversight.evaluation import start_due_campaigns
from engine.oversight.projects import acceptance_gate, approval_gate, set_status
from engine.workflow.handlers import Effect, Handlers

HANDLERS = Handlers(
    actions={"close_rectification": close_rectification, "project_status": set_status},
    effects={"record_breach": Effect(record_breach_effect, role_arg=0)},
    completion_checks={
        "project_approval_gate": approval_gate,
        "project_acceptance_gate": acceptance_gate,
    },
    key_prefixes={"annual_evaluation": "PG", "project_approval": "XM", "rectification": "ZG"},
    jobs=(start_due_campaigns,),
)
