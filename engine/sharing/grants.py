"""Grants (art. 12, 14): issued by share processes, checked when a department system uses data.

A grant is a right to use a resource: its info items, its period and the purpose stated. Processes
issue one with the sandbox helper ``issue_grant(basis)``; department systems ask
:func:`check_use` before using shared data, and a use outside every grant is refused and recorded
in the breach ledger (art. 23 (4)) once a day per grant, with the count. A grant is bound to its
purpose and application scenario (应用场景, :mod:`engine.sharing.scenarios`); every check is
written to the append-only access log (:class:`engine.sharing.models.GrantUse`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from engine import audit
from engine.catalog import resource_by_code, resources_by_id
from engine.clock import SHANGHAI, Clock
from engine.db import add_row, insert_object
from engine.directory import divisions_under, is_coordinator
from engine.directory.models import Division, User
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.i18n import N_, Message
from engine.inputs import Checks
from engine.oversight import breaches, summary
from engine.sharing.models import FOREVER, Grant, GrantItem, GrantUse
from engine.workflow.handlers import CheckContext, StepContext


def _as_date(value: object) -> date | None:
    if not value:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def narrower_than_requested(data: Mapping[str, Any]) -> bool:
    """Does the scope granted (``granted_items``, ``granted_period_start`` / ``_end``) leave out
    something the request asked for (``info_items``, ``period_start`` / ``_end``): fewer info
    items, a later start or an earlier end? Such a grant is a grant in part (部分授权), whoever
    decided it: the provider, the parties in negotiation, or the coordinating authority."""
    requested = set(data.get("info_items") or ())
    granted = set(data.get("granted_items") or requested)
    if requested - granted:
        return True
    start, end = _as_date(data.get("period_start")), _as_date(data.get("period_end"))
    granted_start = _as_date(data.get("granted_period_start")) or start
    granted_end = _as_date(data.get("granted_period_end")) or end
    return bool(
        (start and granted_start and granted_start > start)
        or (end and granted_end and granted_end < end)
    )


def partial_grant_narrower(ctx: CheckContext) -> None:
    """Completion check ``partial_grant_narrower`` (the provider's answer): "approve in part"
    must leave something out, fewer info items or a shorter period of use; otherwise it is a
    full grant and reads so (部分授权 only where something was withheld)."""
    if ctx.data.get("review_decision") == "approve_in_part" and not narrower_than_requested(
        ctx.data
    ):
        raise ValidationFailed(
            Message(
                "An approval in part must leave out info items or shorten the period of use; "
                "to grant everything requested, choose approve."
            ),
            [
                {
                    "field": "granted_items",
                    "message": Message(N_("must leave out an info item, or shorten the period")),
                }
            ],
        )


def issue_grant_effect(
    ctx: StepContext,
    basis: str,
    decision: str | None = None,
    reasons: str | None = None,
    conditions: str | None = None,
) -> None:
    """Sandbox helper ``issue_grant(basis, decision=…, reasons=…, conditions=…)``: grant what the
    task data describes to the requester (the scope granted where a decision narrowed it, else
    the scope requested). A grant a person decided (``decision``: ``granted`` or
    ``granted_in_part``) keeps that decision, its reasons, its conditions of use and the official
    who decided, so that both parties read them; an unconditional grant follows from the catalog
    and names no decider.

    The grant's decision is ``granted_in_part`` where the decider said so or where the scope is
    narrower than requested (:func:`narrower_than_requested`), and it is recorded in the request's
    summary (``decision``) as well, which the request page and the lists read: the process need
    not (and, for the summary to follow the scope, must not) ``record(decision=…)`` itself."""
    if decision not in (None, "granted", "granted_in_part"):
        raise ValueError(f"issue_grant: unknown decision {decision!r}")
    data = ctx.data
    if decision == "granted" and narrower_than_requested(data):
        decision = "granted_in_part"
    requester_id = ctx.department_of("requester")
    info_items = data.get("granted_items") or data["info_items"]
    period_end = _as_date(data.get("granted_period_end") or data.get("period_end"))
    grant = Grant(
        instance_id=ctx.instance.id,
        resource_id=data["resource_id"],
        requester_id=requester_id,
        info_items=info_items,
        period_start=_as_date(data.get("granted_period_start") or data.get("period_start")),
        period_end=period_end,
        purpose=data.get("granted_purpose") or data.get("purpose", ""),
        scenario=data.get("granted_scenario") or data.get("scenario") or None,
        basis=basis,
        granted_at=ctx.clock.now(),
        decision=decision or "granted",
        reasons=reasons or None,
        conditions=conditions or None,
        decided_by_id=ctx.actor_id if decision is not None else None,
    )
    # one Core INSERT for the grant (its id names its items), its items with the command's
    # other new rows (engine.db.deferring): the unit of work has nothing to do for either
    insert_object(ctx.session, grant)
    for item in item_rows(requester_id, data["resource_id"], info_items, period_end):
        add_row(ctx.session, GrantItem, grant_id=grant.id, **item)
    ctx.instance.summary = {**(ctx.instance.summary or {}), "decision": grant.decision}
    ctx.audit("grant_issued", basis=basis, decision=grant.decision, info_items=grant.info_items)


def item_rows(
    requester_id: int, resource_id: int, info_items: list[str], period_end: date | None
) -> list[dict[str, Any]]:
    """A grant's info items as the rows the art. 14 check reads (:class:`GrantItem`), without
    the grant's id."""
    until = period_end or FOREVER
    return [
        {"requester_id": requester_id, "resource_id": resource_id, "item": item, "until": until}
        for item in dict.fromkeys(info_items)
    ]


def holds_grant(session: Session, department_id: int, resource_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Grant.requester_id == department_id, Grant.resource_id == resource_id
                )
            )
        )
    )


def granted_resources(session: Session, user: User) -> list:
    """The catalog entries the user's department holds a grant on, by code."""
    ids = session.scalars(
        select(Grant.resource_id).where(Grant.requester_id == user.department_id).distinct()
    )
    return resources_by_id(session, ids)


def grants_of(session: Session, instance_id: int) -> list[Grant]:
    """The grants an instance issued."""
    return list(
        session.scalars(select(Grant).where(Grant.instance_id == instance_id).order_by(Grant.id))
    )


def grant_usage(session: Session, grant_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each grant's use so far (art. 14): ``checks``, info ``items`` checked and ``refusals``,
    read from the use tally (three rows per grant, whatever the checks)."""
    counted = summary.grant_use_counts(session, grant_ids)
    return {
        g: {"checks": c["use_checks"], "items": c["use_items"], "refusals": c["use_refusals"]}
        for g, c in counted.items()
    }


def may_revoke(session: Session, user: User, grant: Grant) -> bool:
    """Officials of the providing department, and coordinators of the data-sharing authority of
    the provider's level or above (art. 4), may revoke a grant."""
    (provider,) = resources_by_id(session, [grant.resource_id])
    if user.department_id == provider.provider_id:
        return True
    if not is_coordinator(user):
        return False
    levels = divisions_under(user.department.division_code)
    return (
        session.scalar(levels.where(Division.code == provider.provider.division_code)) is not None
    )


def revoke_grant(session: Session, clock: Clock, grant_id: int, actor: User, reason: str) -> None:
    """Revoke a grant, for the reason stated (required): from today no use is allowed under it
    (the use check answers ``revoked``). Its item rows end the day before, so the art. 14 check
    (:func:`covering_grant`) no longer finds it; audited (``grant_revoked``). Revoking a grant
    already revoked is a conflict."""
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(Message("No grant %(grant)s.", grant=grant_id))
    if not may_revoke(session, actor, grant):
        raise Forbidden(
            Message(
                "Only officials of the providing department and coordinators of the data-sharing "
                "authority of its level or above revoke a grant."
            )
        )
    if grant.revoked_at is not None:
        raise Conflict(Message("Grant %(grant)s has already been revoked.", grant=grant_id))
    checks = Checks()
    checks.text(
        "reason", reason, Message(N_("Reason for revocation")), multiline=True, required=True
    )
    checks.done(Message(N_("The grant cannot be revoked")))
    now = clock.now()
    last_day = now.astimezone(SHANGHAI).date() - timedelta(days=1)
    grant.revoked_at, grant.revoked_by_id, grant.revoke_reason = now, actor.id, reason.strip()
    session.execute(
        update(GrantItem)
        .where(GrantItem.grant_id == grant.id, GrantItem.until > last_day)
        .values(until=last_day)
    )
    audit.record(
        session,
        now,
        "grant_revoked",
        actor_id=actor.id,
        instance_id=grant.instance_id,
        object_type="grant",
        object_ref=str(grant.id),
        reason=grant.revoke_reason,
    )
    session.flush()


EVIDENCE_GRANTS = 10  # grant ids a refused use's breach names as evidence, at most

# why a use is refused (the API's ``reason_code``)
REASONS: dict[str, str] = {
    "revoked": N_("Grant %(grant)s has been revoked."),
    "scenario_required": N_(
        "Grant %(grant)s is bound to an application scenario: name the scenario of the use."
    ),
    "wrong_scenario": N_(
        "The use is not for the application scenario of the grant (%(scenario)s stated)."
    ),
    "items_outside_grant": N_("No grant of your department covers %(items)s of %(code)s."),
    "expired": N_("The period of use of grant %(grant)s has ended."),
    "not_yet_valid": N_("The period of use of grant %(grant)s has not begun."),
    "no_grant": N_("Your department holds no grant on %(code)s."),
    "unknown_grant": N_("Your department holds no grant %(grant)s on %(code)s."),
}


def covering_grant(
    session: Session,
    department_id: int,
    resource_id: int,
    info_items: list[str],
    today: date,
    scenario: str | None = None,
) -> Grant | None:
    """The first grant (lowest id) of the department on the resource that is in its period
    today, includes every info item asked about and (``scenario`` given) is bound to that
    application scenario, or None: one query, whatever the number of grants held. It reads the
    grants holding the first item asked about that have not ended (``ix_data_grant_item_check``:
    department, resource, item, last day) and takes the first in its period that holds the other
    items too (a primary-key lookup each); grants for other items and ended grants are never
    visited."""
    first, *others = dict.fromkeys(info_items)
    walked = aliased(GrantItem)

    def holds(item: str) -> ColumnElement[bool]:
        other = aliased(GrantItem)
        return exists().where(other.grant_id == walked.grant_id, other.item == item)

    bound = () if scenario is None else (Grant.scenario == scenario,)
    return session.scalars(
        select(Grant)
        .join(walked, walked.grant_id == Grant.id)
        .where(
            walked.requester_id == department_id,
            walked.resource_id == resource_id,
            walked.item == first,
            walked.until >= today,  # a revoked grant's rows end the day before its revocation
            or_(Grant.period_start.is_(None), Grant.period_start <= today),
            *bound,
            *(holds(item) for item in others),
        )
        .order_by(walked.grant_id)
        .limit(1)
    ).first()


def _why_not(
    session: Session,
    department_id: int,
    resource_id: int,
    info_items: list[str],
    today: date,
    scenario: str,
) -> tuple[str, int | None]:
    """Why no grant of the department covers a use for ``scenario`` today (one grouped query
    over its grants on the resource), and the grant the refusal is counted against: the first
    bound to the scenario that covers the items (the first not begun yet, when one has not; the
    first revoked, when every such grant is revoked), else the first bound to it, else none."""
    bound = Grant.scenario == scenario
    covers = and_(
        bound,
        *(
            exists().where(GrantItem.grant_id == Grant.id, GrantItem.item == item)
            for item in dict.fromkeys(info_items)
        ),
    )
    live = and_(covers, Grant.revoked_at.is_(None))
    held, first_bound, first_covering, first_live, later = session.execute(
        select(
            func.count(Grant.id),
            func.min(case((bound, Grant.id))),
            func.min(case((covers, Grant.id))),
            func.min(case((live, Grant.id))),
            func.min(case((and_(live, Grant.period_start > today), Grant.id))),
        ).where(Grant.requester_id == department_id, Grant.resource_id == resource_id)
    ).one()
    if not held:
        return "no_grant", None
    if first_bound is None:
        return "wrong_scenario", None
    if first_covering is None:
        return "items_outside_grant", first_bound
    if first_live is None:  # every grant that would cover the use is revoked
        return "revoked", first_covering
    if later is not None:  # a grant for the use begins later (another may have ended)
        return "not_yet_valid", later
    return "expired", first_live


def _judge(grant: Grant, info_items: list[str], today: date, scenario: str | None) -> str | None:
    """Why the grant named does not cover the use today, or None when it does. A grant bound to
    a scenario is used for that scenario only, so a use naming it must state the scenario; a grant
    issued before scenarios existed (none) is used by naming it alone."""
    if grant.revoked_at is not None:
        return "revoked"
    if scenario is None and grant.scenario is not None:
        return "scenario_required"
    if scenario is not None and grant.scenario != scenario:
        return "wrong_scenario"
    if not set(info_items) <= set(grant.info_items or ()):
        return "items_outside_grant"
    if grant.period_start is not None and grant.period_start > today:
        return "not_yet_valid"
    if grant.period_end is not None and grant.period_end < today:
        return "expired"
    return None


def _nonempty(items: list) -> Message | None:
    return None if items else Message(N_("name at least one info item"))


@dataclass(frozen=True)
class UseAsked:
    """A department system's use of shared data, as it states it (art. 14): the resource, the
    info items, the purpose in words, and the grant it relies on (``grant_id``) or the
    application scenario (``scenario``), or both."""

    resource_code: str
    info_items: list[str]
    purpose: str
    scenario: str | None = None
    grant_id: int | None = None


def _checked(use: UseAsked) -> None:
    checks = Checks()
    checks.text("resource_code", use.resource_code, Message(N_("Resource code")), required=True)
    if checks.texts("info_items", use.info_items, Message(N_("Info items")), max_length=200):
        checks.add("info_items", Message(N_("Info items")), _nonempty(use.info_items))
    checks.text(
        "purpose", use.purpose, Message(N_("Purpose of use")), multiline=True, required=True
    )
    scenario_label = Message(N_("Application scenario"))
    if use.scenario is not None:
        checks.text("scenario", use.scenario, scenario_label, max_length=40, required=True)
    if use.grant_id is not None:
        checks.integer("grant_id", use.grant_id, Message(N_("Grant")))
    elif use.scenario is None:
        checks.add(
            "scenario", scenario_label, Message(N_("name the application scenario or the grant"))
        )
    checks.done(Message(N_("The use cannot be checked")))


def check_use(
    session: Session,
    clock: Clock,
    user: User,
    use: UseAsked,
    client_id: int | None = None,
) -> dict:
    """Art. 12, 14: is this use within a grant of the department — the grant named (and bound to
    the scenario, if one is stated) or, naming a scenario, a grant bound to it — covering every
    info item named, in its period today? A grant bound to a scenario is never used without
    stating it (``scenario_required``); a grant without a scenario (issued before revision 0049)
    is used only by naming it. A revoked grant covers no use (``revoked``).

    Every check is logged (:class:`GrantUse`, append-only) and counted in the figures (per
    department and year, per grant) in the caller's transaction; a refused use is recorded in
    the breach ledger (art. 23 (4)) once per department, grant (or resource, when no grant is
    concerned) and day, with the number of refusals (:func:`breaches.record_once`). Allowed by
    scenario, the check costs the resource, one indexed query (:func:`covering_grant`), the log
    row and the tally."""
    _checked(use)
    resource = resource_by_code(session, use.resource_code)
    now = clock.now()
    today = now.astimezone(SHANGHAI).date()
    items = list(dict.fromkeys(use.info_items))
    scenario = use.scenario.strip() if use.scenario is not None else None
    reason: str | None
    if use.grant_id is not None:
        grant = session.scalar(
            select(Grant).where(
                Grant.id == int(use.grant_id),
                Grant.requester_id == user.department_id,
                Grant.resource_id == resource.id,
            )
        )
        reason = "unknown_grant" if grant is None else _judge(grant, items, today, scenario)
        grant_id = grant.id if grant is not None else None
    else:
        assert scenario is not None  # checked: a use names the grant or the scenario
        grant = covering_grant(session, user.department_id, resource.id, items, today, scenario)
        if grant is not None:
            reason, grant_id = None, grant.id
        else:
            reason, grant_id = _why_not(
                session, user.department_id, resource.id, items, today, scenario
            )
    session.connection().execute(
        insert(GrantUse),
        {
            "at": now,
            "department_id": user.department_id,
            "user_id": user.id,
            "client_id": client_id,
            "grant_id": grant_id,
            "resource_id": resource.id,
            "info_items": items,
            "item_count": len(items),
            "scenario": scenario,
            "purpose": use.purpose.strip(),
            "allowed": reason is None,
            "reason": reason,
        },
    )
    summary.tally_use(session, now, user.department_id, grant_id, len(items), reason is not None)
    if reason is None:
        assert grant is not None
        return {
            "allowed": True,
            "grant_id": grant.id,
            "scenario": grant.scenario,
            "purpose": grant.purpose,
            "period_end": grant.period_end.isoformat() if grant.period_end else None,
        }
    held = select(Grant.id).where(
        Grant.requester_id == user.department_id, Grant.resource_id == resource.id
    )
    evidence = {
        "resource": resource.code,
        "info_items": items,
        "scenario": scenario,
        "purpose": use.purpose.strip(),
        "reason": reason,
        "grant_id": grant_id,
        "user": user.username,
        "client_id": client_id,
        # the first grants held on the resource (none of them covers the use), not all of them
        "grants": list(session.scalars(held.order_by(Grant.id).limit(EVIDENCE_GRANTS))),
    }
    concerned = f"grant:{grant_id}" if grant_id is not None else f"resource:{resource.id}"
    entry = breaches.record_once(
        session,
        clock,
        f"use:{user.department_id}:{concerned}:{today.isoformat()}",
        user.department_id,
        "第二十三条（四）",
        "use_outside_grant",
        evidence,
    )
    return {
        "allowed": False,
        "grant_concerned": grant_id,
        "reason_code": reason,
        "reason": str(
            Message(
                REASONS[reason],
                scenario=scenario or "—",
                items="、".join(items),
                code=resource.code,
                grant=grant_id if grant_id is not None else use.grant_id,
            )
        ),
        "breach_id": entry.id,
        "breach_count": entry.count,
    }
