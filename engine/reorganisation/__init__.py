"""Reorganising departments (issue 14): move one to another division, merge several into one,
split one into several: beside the composition root because it carries what every area holds.

A merger (A and B into C, or A into B) or a split (A into A1 and A2, with an explicit assignment)
carries, each item named in a preview before anything is applied:

* the active officials (``app_user.department_id``);
* the running cases: the instance's role bindings and bound-department columns, so the process
  routes to the successor, with their open tasks (``human_task``) and unsent notifications;
* the grants in force the department holds as requester (``data_grant.requester_id``);
* its catalog entries (``resource.provider_id``; the entry's level follows the successor);
* its breach-ledger entries and IT projects (``breach``, ``project``);
* the open data-error verifications it is a party to (``verification``);
* its duties (the authority of its division, review seats, base and thematic leads).

Stays with the predecessor, which is kept inactive with its successor named ("merged into …"):
finished cases and tasks, process facts, service on proof, the audit trail, notification
defaults. The apply recomputes the plan and refuses when it differs from the preview (someone
changed something in between); it runs in the caller's one transaction and audits each step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine import audit
from engine.catalog import reorganisation as catalog
from engine.clock import Clock
from engine.directory.admin import require_admin
from engine.directory.administration import (
    AUTHORITY,
    DEPARTMENT_LABEL,
    DIVISION_LABEL,
    DepartmentRow,
    Holding,
    check_reason,
    department_or_404,
    department_row,
    division_or_404,
    duty_label,
    record_name,
    snapshot,
    transfer_users,
    user_holdings,
)
from engine.directory.clients import client_holdings, transfer_clients
from engine.directory.models import Department, User
from engine.errors import Conflict, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import Checks
from engine.oversight import reorganisation as oversight
from engine.quality import reorganisation as quality
from engine.sharing import reorganisation as sharing
from engine.workflow import reorganisation as workflow

KINDS: dict[str, Message] = {
    "users": Message(N_("Officials")),
    "cases": Message(N_("Running cases")),
    "tasks": Message(N_("Open tasks")),
    "grants": Message(N_("Grants in force")),
    "resources": Message(N_("Catalog entries")),
    "breaches": Message(N_("Breach-ledger entries")),
    "projects": Message(N_("IT projects")),
    "verifications": Message(N_("Open data-error verifications")),
    "systems": Message(N_("Department systems")),
    "duties": Message(N_("Duties")),
}
SHOWN = 200  # items listed per group in a preview (all are counted and carried)
SOURCES_LABEL = Message(N_("Departments merged"))
TARGET_LABEL = Message(N_("Successor"))
SUCCESSORS_LABEL = Message(N_("Successors"))
ASSIGNMENT_LABEL = Message(N_("Assignment"))


@dataclass(frozen=True)
class PlannedItem:
    key: str
    label: str | Message
    source: Label
    target: Label


@dataclass(frozen=True)
class PlannedGroup:
    kind: str
    label: Message
    count: int
    items: list[PlannedItem]  # the first SHOWN


@dataclass(frozen=True)
class Plan:
    """What a merger or split moves where; ``token`` fingerprints it (the apply checks it)."""

    kind: str  # merge | split
    sources: list[DepartmentRow]
    targets: list[DepartmentRow]
    groups: list[PlannedGroup]
    token: str
    applied: bool


def _holdings(session: Session, clock: Clock, dept: Department) -> list[Holding]:
    today = clock.now().date()
    return [
        *user_holdings(session, dept.id),
        *workflow.holdings(session, dept.id),
        *sharing.holdings(session, dept.id, today),
        *catalog.holdings(session, dept.id),
        *oversight.holdings(session, dept.id),
        *quality.holdings(session, dept.id),
        *client_holdings(session, dept.id),
        *[Holding("duties", d, duty_label(d)) for d in (dept.duties or [])],
    ]


Destination = Callable[[Holding], Department]


def _plan(
    session: Session,
    clock: Clock,
    kind: str,
    sources: list[Department],
    targets: list[Department],
    destination: Callable[[Department], Destination],
) -> tuple[Plan, dict[int, list[tuple[Holding, Department]]]]:
    moves: dict[int, list[tuple[Holding, Department]]] = {}
    groups: dict[str, list[PlannedItem]] = {k: [] for k in KINDS}
    for source in sources:
        where = destination(source)
        pairs = [(h, where(h)) for h in _holdings(session, clock, source)]
        moves[source.id] = pairs
        for h, target in pairs:
            groups[h.kind].append(PlannedItem(h.key, h.label, source.label, target.label))
    fingerprint = [(s, h.kind, h.key, t.id) for s, pairs in sorted(moves.items()) for h, t in pairs]
    token = hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:16]
    plan = Plan(
        kind=kind,
        sources=[department_row(session, s) for s in sources],
        targets=[department_row(session, t) for t in targets],
        groups=[
            PlannedGroup(k, KINDS[k], len(items), items[:SHOWN]) for k, items in groups.items()
        ],
        token=token,
        applied=False,
    )
    return plan, moves


def _apply(
    session: Session,
    clock: Clock,
    actor: User | None,
    kind: str,
    moves: dict[int, list[tuple[Holding, Department]]],
    successor_of: dict[int, Department],
    reason: str,
) -> None:
    now = clock.now()
    for source_id, pairs in moves.items():
        source = session.get_one(Department, source_id)
        before = snapshot(source)
        successor = successor_of[source_id]
        # exactly one of two concurrent reorganisations of a department wins
        done = session.execute(
            update(Department)
            .where(Department.id == source_id, Department.active.is_(True))
            .values(active=False, successor_id=successor.id)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(done, "rowcount", 0) or 0) != 1:
            raise Conflict(
                Message(
                    N_("%(dept)s was reorganised meanwhile; nothing was changed."),
                    dept=source.label,
                )
            )
        session.refresh(source)
        by_kind: dict[str, dict[str, int]] = {}
        for h, target in pairs:
            by_kind.setdefault(h.kind, {})[h.key] = target.id
        divisions = {t.id: t.division_code for _, t in pairs}
        counts = {
            "users": transfer_users(session, source_id, by_kind.get("users", {})),
            "cases": workflow.transfer(session, source_id, by_kind.get("cases", {})),
            "grants": sharing.transfer(session, source_id, by_kind.get("grants", {}), now.date()),
            "resources": catalog.transfer(
                session, source_id, by_kind.get("resources", {}), divisions
            ),
            "oversight": oversight.transfer(
                session,
                source_id,
                {(h.kind, h.key): t.id for h, t in pairs if h.kind in ("breaches", "projects")},
            ),
            "verifications": quality.transfer(session, source_id, by_kind.get("verifications", {})),
            "systems": transfer_clients(session, source_id, by_kind.get("systems", {})),
        }
        for h, target in pairs:
            if h.kind != "duties":
                continue
            if h.key == AUTHORITY:
                target.is_authority = True
            if h.key not in (target.duties or []):
                target.duties = [*(target.duties or []), h.key]
        counts["tasks_back_to_queue"] = workflow.release_strays(session, {t.id for _, t in pairs})
        source.duties = []
        source.is_authority = False
        record_name(session, clock, actor, source, successor.label, reason, kind)
        audit.record(
            session,
            now,
            f"department_{'merged' if kind == 'merge' else 'split'}",
            actor_id=actor.id if actor else None,
            object_type="department",
            object_ref=source.slug,
            before=before,
            after=snapshot(source),
            successors=sorted({t.slug for _, t in pairs} | {successor.slug}),
            carried={k: len(v) for k, v in by_kind.items()},
            counts=counts,
            reason=reason,
        )


def _check_authority(source: Department, where: Destination) -> None:
    """The authority of a division passes only to a department of the same division."""
    if not source.is_authority:
        return
    target = where(Holding("duties", AUTHORITY, ""))
    if target.division_code != source.division_code:
        raise ValidationFailed(
            Message(
                N_(
                    "%(dept)s is the data-sharing authority of its division: its successor "
                    "must be a department of the same division (or designate another "
                    "authority first)."
                ),
                dept=source.label,
            ),
            [
                {
                    "field": "target",
                    "label": TARGET_LABEL,
                    "message": Message(N_("is in another division")),
                }
            ],
        )


def _active(session: Session, actor: User | None, slug: str, label: Message) -> Department:
    dept = department_or_404(session, slug)
    require_admin(session, actor, dept.division_code)
    if not dept.active:
        raise ValidationFailed(
            Message(N_("%(dept)s is no longer active."), dept=dept.label),
            [{"field": "department", "label": label, "message": Message(N_("is not active"))}],
        )
    return dept


def _finish(plan: Plan, expected: str | None, dry_run: bool) -> bool:
    """True when the plan is to be applied now."""
    if dry_run:
        return False
    if expected is not None and expected != plan.token:
        raise Conflict(
            Message(N_("What the departments hold changed since the preview; preview it again."))
        )
    return True


def merge(
    session: Session,
    clock: Clock,
    actor: User | None,
    sources: list[str],
    target: str,
    reason: str,
    *,
    dry_run: bool = True,
    expected: str | None = None,
) -> Plan:
    """Merge ``sources`` into ``target`` (an existing active department; create a new one
    first for "A and B into C"). ``dry_run``: only the preview. ``expected``: the preview's
    token; the apply refuses when the plan changed since."""
    checks = Checks()
    if not sources:
        checks.add("sources", SOURCES_LABEL, Message(N_("choose at least one department")))
    checks.text("target", target, TARGET_LABEL, max_length=60, required=True)
    if not dry_run:
        check_reason(checks, reason)
    checks.done()
    successor = _active(session, actor, target, TARGET_LABEL)
    merged = []
    for slug in dict.fromkeys(sources):
        dept = _active(session, actor, slug, SOURCES_LABEL)
        if dept.id == successor.id:
            raise ValidationFailed(
                Message(N_("A department cannot be merged into itself.")),
                [
                    {
                        "field": "sources",
                        "label": SOURCES_LABEL,
                        "message": Message(N_("includes the successor")),
                    }
                ],
            )
        _check_authority(dept, lambda h: successor)
        merged.append(dept)
    plan, moves = _plan(session, clock, "merge", merged, [successor], lambda s: lambda h: successor)
    if not _finish(plan, expected, dry_run):
        return plan
    _apply(session, clock, actor, "merge", moves, {s.id: successor for s in merged}, reason.strip())
    return Plan(plan.kind, plan.sources, plan.targets, plan.groups, plan.token, True)


def split(
    session: Session,
    clock: Clock,
    actor: User | None,
    source: str,
    successors: list[str],
    assignment: dict[str, str],
    reason: str,
    *,
    dry_run: bool = True,
    expected: str | None = None,
) -> Plan:
    """Split ``source`` into ``successors`` (existing active departments; the first is the
    default). ``assignment`` names explicitly where items go: ``"kind:key" -> successor slug``
    (e.g. ``"users:wang"``, ``"cases:GX-2026-000001"``, ``"resources:330/001"``); an open task
    goes with its case, and everything not named goes to the first successor, as the
    preview lists item by item."""
    checks = Checks()
    checks.text("source", source, DEPARTMENT_LABEL, max_length=60, required=True)
    if len(successors) < 2:
        checks.add("successors", SUCCESSORS_LABEL, Message(N_("name at least two departments")))
    if not dry_run:
        check_reason(checks, reason)
    checks.done()
    dept = _active(session, actor, source, DEPARTMENT_LABEL)
    heirs = [_active(session, actor, s, SUCCESSORS_LABEL) for s in dict.fromkeys(successors)]
    by_slug = {h.slug: h for h in heirs}
    if dept.slug in by_slug:
        raise ValidationFailed(
            Message(N_("A department cannot be split into itself.")),
            [
                {
                    "field": "successors",
                    "label": SUCCESSORS_LABEL,
                    "message": Message(N_("includes the department split")),
                }
            ],
        )
    known = {f"{h.kind}:{h.key}" for h in _holdings(session, clock, dept)}
    for item, slug in assignment.items():
        if slug not in by_slug:
            checks.add(
                "assignment",
                ASSIGNMENT_LABEL,
                Message(N_("names a department that is not a successor: %(item)s"), item=item),
            )
        elif item not in known:
            checks.add(
                "assignment",
                ASSIGNMENT_LABEL,
                Message(N_("names something the department does not hold: %(item)s"), item=item),
            )
    checks.done()
    default = heirs[0]

    def where(h: Holding) -> Department:
        key = f"cases:{h.follows}" if h.follows else f"{h.kind}:{h.key}"
        return by_slug.get(assignment.get(key, ""), default)

    _check_authority(dept, where)
    plan, moves = _plan(session, clock, "split", [dept], heirs, lambda s: where)
    if not _finish(plan, expected, dry_run):
        return plan
    _apply(session, clock, actor, "split", moves, {dept.id: default}, reason.strip())
    return Plan(plan.kind, plan.sources, plan.targets, plan.groups, plan.token, True)


def move(
    session: Session, clock: Clock, actor: User | None, slug: str, division: str, reason: str
) -> DepartmentRow:
    """Move a department to another division (the administrator must administer both); its
    catalog entries follow to that level's catalog. A data-sharing authority stays with its
    division: designate another authority first."""
    checks = Checks()
    checks.text("division", division, DIVISION_LABEL, max_length=6, required=True)
    check_reason(checks, reason)
    checks.done()
    dept = _active(session, actor, slug, DEPARTMENT_LABEL)
    place = division_or_404(session, division)
    require_admin(session, actor, place.code)
    if place.code == dept.division_code:
        raise ValidationFailed(
            Message(N_("The department is in this division already.")),
            [
                {
                    "field": "division",
                    "label": DIVISION_LABEL,
                    "message": Message(N_("is unchanged")),
                }
            ],
        )
    if dept.is_authority:
        raise ValidationFailed(
            Message(
                N_(
                    "A data-sharing authority stays with its division: designate another authority first."
                )
            ),
            [
                {
                    "field": "division",
                    "label": DIVISION_LABEL,
                    "message": Message(N_("cannot change for an authority")),
                }
            ],
        )
    before = snapshot(dept)
    dept.division_code = place.code
    session.flush()
    session.refresh(dept)
    entries = catalog.follow_division(session, dept.id, place.code)
    audit.record(
        session,
        clock.now(),
        "department_moved",
        actor_id=actor.id if actor else None,
        object_type="department",
        object_ref=dept.slug,
        before=before,
        after=snapshot(dept),
        catalog_entries=entries,
        reason=reason.strip(),
    )
    return department_row(session, dept)


def held_work(session: Session, clock: Clock, dept: Department) -> bool:
    """Does the department hold officials or work (anything but duties) a merger would carry?"""
    return any(h.kind != "duties" for h in _holdings(session, clock, dept))
