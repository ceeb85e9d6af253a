"""What a passed deadline means in share requests, negotiation and coordination (art. 4, 11).

Every step of ``share_request`` and ``negotiation`` that waits on a person has a limit from
:mod:`engine.rules` (passed in the start data), a reminder ``reminder_before`` working days
before it, overdue marking in the inboxes on the day, and a timer that acts when it passes:

* the provider's answer (``reply``, art. 11): a breach is recorded and the same-level authority
  supervises; the provider's task stays open;
* the requester's decision whether to negotiate (``negotiation_decision``): the refusal stands and
  the request completes as refused;
* the negotiation positions (``negotiation``): the missed position is filed in the dossier and the
  negotiation goes to coordination (协商不成的，提请同级数据共享主管部门协调);
* the coordinator's request for information (``coordination_info``; the coordinator may set 3, 5
  or 10 days): the dossier shows the answer as missed and the coordination goes on;
* the coordination itself (``coordination``, no statutory limit): the coordination is marked
  overdue, and the authority of the level above supervises it (at region level there is none: the
  coordination stays marked overdue for the region);
* a supervision (``sharing_supervision``): marked overdue and reported to the supervisor's own
  authority or the level above.

The processes call :func:`note_deadline` for each reminder and each passed deadline, so the
instance's history (the audit trail) shows them beside the outbox message sent.
"""

from __future__ import annotations

from engine.workflow.handlers import StepContext

EVENTS = {
    "reminder": "deadline_reminder",
    "missed": "deadline_missed",
    "overdue": "deadline_overdue",
}


def note_deadline(
    ctx: StepContext,
    event: str,
    role: str,
    title: str,
    title_en: str = "",
    due: str | None = None,
) -> None:
    """Action ``note_deadline``: audit a reminder (``reminder``), a step closed by its deadline
    (``missed``) or a step left open past it (``overdue``) for the department bound to ``role``."""
    if event not in EVENTS:
        raise ValueError(f"note_deadline: unknown event {event!r}")
    ctx.audit(
        EVENTS[event],
        title=title,
        title_en=title_en,
        role=role,
        department_id=ctx.department_of(role),
        due=due,
    )
