"""What the trust area gives the runtime: the kinds of signed decision a user task may name with
its ``signs`` property (docs/trust.md), each signed on completion with the acting department's key.

A kind may sign only some completions of its task: the coordination task also asks for
information and records meetings, and only its decision binds (``only_when``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from engine.directory.models import User
from engine.trust.signatures import sign_decision
from engine.workflow.handlers import Handlers, SignContext


@dataclass(frozen=True)
class SignedKind:
    only_when: tuple[str, str] | None = None  # (form field, value) that makes it a decision


SIGNED_KINDS: Mapping[str, SignedKind] = {
    "provider_reply": SignedKind(),
    "coordination_decision": SignedKind(only_when=("coordination_action", "decide")),
    "review_opinion": SignedKind(),
    "annual_report": SignedKind(),
}


def sign_task(kind: str, ctx: SignContext) -> None:
    """Sign the decision the completed task carries, for the department the task was offered to,
    by the official who completed it."""
    spec = SIGNED_KINDS[kind]
    if spec.only_when and ctx.data.get(spec.only_when[0]) != spec.only_when[1]:
        return
    task = ctx.task
    instance = task.instance
    what: dict[str, Any] = {
        "process": instance.process_id,
        "task": task.task_name,
        "title": task.title,
        "statute": task.statute,
    }
    # inside the command: its pending changes are written once, when it saves, not by these reads
    with ctx.session.no_autoflush:
        _sign(kind, ctx, what)


def _sign(kind: str, ctx: SignContext, what: dict[str, Any]) -> None:
    task = ctx.task
    instance = task.instance
    sign_decision(
        ctx.session,
        ctx.clock,
        kind=kind,
        subject=instance.business_key,
        department_id=task.department_id,
        user=ctx.session.get(User, ctx.actor_id),
        decision=dict(ctx.data),
        what=what,
        rule_set_version=instance.rule_set_version,
        instance_id=instance.id,
        task_id=task.id,
    )


HANDLERS = Handlers(signers={kind: partial(sign_task, kind) for kind in SIGNED_KINDS})
