"""Every kind of notification: its rung on the ladder and who receives it.

The processes write outbox rows with a template name (``notify(role, 'reply_reminder', …)``), the
task service and the engine's services write the task events, and the worker's daily jobs make
the rest; each kind has a Jinja2 template ``notifications/templates/<kind>.txt`` (tested: every
kind one template, every template one kind) and a row in ``docs/notifications.md``.

Families (the ladder 提醒 → 催办 → 督办, DESIGN.md "Statutory time limits"):

* ``task``        new work for a department or a person
* ``reminder``    提醒: a deadline approaches (the processes' reminder timers)
* ``urgent``      催办: a deadline falls today or has passed; the department's leaders hear too
* ``supervision`` 督办: the same-level authority supervises an overdue step (its coordinators)
* ``outcome``     a decision, a return with reasons, an answer, a grant about to expire
* ``digest``      the daily digest

Audiences, resolved in :mod:`notifications.recipients`:

* ``workers``      whoever works the open step of the instance in the department: its holder
                   if claimed, else the officials it is offered to; if the department has no
                   open step there, ``parties``
* ``parties``      the department's officials who started or acted on the instance; else its
                   coordinators (an authority) or all its officials
* ``queue``        the officials a task (named in the payload) is offered to, but the actor
* ``holder``       the person named in the payload (a task handed to them)
* ``leaders``      the department's leaders (job role ``leader``)
* ``coordinators`` the department's coordinators (job role ``coordinator``)
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = ("task", "reminder", "urgent", "supervision", "outcome", "digest")
# the rungs whose external delivery ignores quiet hours (overdue excepted, issue 13)
URGENT_FAMILIES = frozenset({"urgent", "supervision"})


@dataclass(frozen=True)
class Kind:
    name: str
    family: str
    audience: tuple[str, ...]
    source: str  # what writes it, for the docs


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {k.name: k for k in kinds}


def _process(family: str, *names: str, audience: tuple[str, ...] = ("workers",)) -> list[Kind]:
    return [Kind(n, family, audience, "process") for n in names]


_TASK = _process(
    "task",
    "annual_report_requested",
    "catalog_declaration_submitted",
    "catalog_update_required",
    "coordination_info_requested",
    "coordination_opened",
    "negotiation_opened",
    "rectification_required",
    "verification_more_info",
    "verification_requested",
)
_REMINDER = _process(
    "reminder",
    "annual_report_reminder",
    "catalog_declaration_reminder",
    "catalog_review_reminder",
    "catalog_revision_reminder",
    "catalog_update_reminder",
    "coordination_info_reminder",
    "coordination_reminder",
    "negotiation_decision_reminder",
    "negotiation_reminder",
    "project_application_reminder",
    "project_review_reminder",
    "rectification_reminder",
    "rectification_review_reminder",
    "reply_reminder",
    "verification_correction_reminder",
    "verification_more_info_reminder",
    "verification_reminder",
    "verification_review_reminder",
    "verification_ruling_reminder",
)
_URGENT = _process(
    "urgent",
    "annual_report_overdue",
    "catalog_declaration_overdue",
    "catalog_review_overdue",
    "catalog_revision_overdue",
    "catalog_update_overdue",
    "catalog_update_still_overdue",
    "coordination_info_missed",
    "coordination_overdue",
    "negotiation_missed",
    "project_application_overdue",
    "project_review_overdue",
    "rectification_overdue",
    "rectification_review_overdue",
    "reply_overdue",
    "verification_correction_overdue",
    "verification_more_info_overdue",
    "verification_overdue",
    "verification_review_overdue",
    "verification_ruling_overdue",
    audience=("workers", "leaders"),
)
_SUPERVISION = _process(
    "supervision",
    "supervision_opened",
    "supervision_reminder",
    "supervision_overdue",
    audience=("workers", "coordinators"),
)
_OUTCOME = _process(
    "outcome",
    "annual_report_received",
    "catalog_declaration_accepted",
    "catalog_declaration_returned",
    "catalog_published",
    "catalog_returned",
    "coordination_decided",
    "coordination_info_answered",
    "project_accepted",
    "project_approved",
    "project_returned",
    "rectification_accepted",
    "rectification_returned",
    "refusal_final",
    "request_granted",
    "request_refused",
    "verification_answered",
    "verification_corrected",
    "verification_ruled",
    audience=("workers",),
)
_EVENTS = [
    Kind("task_offered", "task", ("queue",), "a step opens (engine.workflow.runtime)"),
    Kind("task_assigned", "task", ("holder",), "a leader hands a task to an official"),
    Kind("task_unclaimed", "task", ("queue",), "a task is given back to the department queue"),
    Kind("task_claimed", "outcome", ("leaders",), "an official claims a task"),
    Kind(
        "task_returned",
        "task",
        ("queue",),
        "an account is deactivated or moved: its claimed tasks go back to the queue",
    ),
    Kind("task_due_today", "urgent", ("holder_or_queue", "leaders"), "daily job (催办)"),
    Kind("grant_expiring", "outcome", ("parties",), "daily job over data_grant.period_end"),
    Kind("breach_recorded", "outcome", ("parties", "leaders"), "the breach ledger (art. 23)"),
    Kind("appeal_decided", "outcome", ("parties", "leaders"), "a coordinator decides an appeal"),
    Kind("daily_digest", "digest", ("self",), "daily job on working days"),
    Kind(
        "deadline_moved",
        "outcome",
        ("holder_or_queue",),
        "a calendar notice moves a deadline (engine.workflow.calendar_notices)",
    ),
]

KINDS: dict[str, Kind] = _kinds(*_TASK, *_REMINDER, *_URGENT, *_SUPERVISION, *_OUTCOME, *_EVENTS)


def kind_of(name: str) -> Kind:
    """The kind of an outbox template; an unknown one (a process newer than this table) is told
    to the department's workers as an outcome rather than dropped."""
    return KINDS.get(name) or Kind(name, "outcome", ("workers",), "process")


def is_urgent(name: str) -> bool:
    return kind_of(name).family in URGENT_FAMILIES
