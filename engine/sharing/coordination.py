"""Who sees disputes (art. 4, 11): the coordinators' dashboard is for officials of a data-sharing
authority; a dispute's dossier for the authority that coordinates it and the authorities of the
levels above it (who oversee the levels below, never above: ``directory.authorities_under``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.directory import authorities_under
from engine.directory.models import User
from engine.errors import Forbidden
from engine.i18n import Label, Message
from engine.sharing.disputes import Case, CatalogTerms, Decision, Entry, Step, dashboard, dossier
from engine.workflow.facts import facts_of
from engine.workflow.history import instance_by_key
from engine.workflow.models import ProcessInstance


def check_authority(user: User) -> None:
    if not user.department.coordinates:
        raise Forbidden(Message("Only data-sharing authorities coordinate disputes."))


@dataclass(frozen=True)
class OpenDispute:
    instance: Case
    escalated: datetime
    age: int  # working days since escalation


@dataclass(frozen=True)
class Board:
    """The coordinators' dashboard (as :func:`engine.sharing.disputes.dashboard`)."""

    authority: Label  # the name of the user's authority
    level: str
    open: list[OpenDispute]  # oldest first
    by_age: dict[str, int]  # open disputes per age bucket
    decided_this_year: int
    median_days_to_decide: Any  # a number of working days, or None


@dataclass(frozen=True)
class Dossier:
    """A dispute's dossier (as :func:`engine.sharing.disputes.dossier`)."""

    instance: Case
    summary: dict[str, Any]
    resource: CatalogTerms | None
    requester_basis: str
    provider_reasons: str
    requester_position: str
    provider_position: str
    decision: Decision | None
    steps: list[Step]
    entries: list[Entry]
    earlier: list[Case]


def board_for(session: Session, clock: Clock, user: User) -> Board:
    """The dashboard of the user's authority (as :func:`engine.sharing.disputes.dashboard`)."""
    check_authority(user)
    board = dashboard(session, user.department, clock)
    return Board(
        authority=user.department.label,
        level=board["level"],
        open=[OpenDispute(r["instance"], r["escalated"], r["age"]) for r in board["open"]],
        by_age=board["by_age"],
        decided_this_year=board["decided_this_year"],
        median_days_to_decide=board["median_days_to_decide"],
    )


def dossier_for(session: Session, clock: Clock, user: User, business_key: str) -> Dossier:
    """A dispute's dossier, for the authority coordinating it (as
    :func:`engine.sharing.disputes.dossier`)."""
    check_authority(user)
    instance = instance_by_key(session, business_key)
    if not _oversees(session, user, instance):
        raise Forbidden(
            Message("Dispute %(key)s is coordinated by another authority.", key=business_key)
        )
    return Dossier(**dossier(session, instance, clock))


def _oversees(session: Session, user: User, instance: ProcessInstance) -> bool:
    """The instance is coordinated by the user's authority or one of the levels below it."""
    if instance.authority_department_id == user.department_id:
        return True
    return instance.authority_department_id in authorities_under(session, user.department)


def has_dossier(session: Session, user: User, instance: ProcessInstance) -> bool:
    """Does the user's authority coordinate or oversee this instance as a dispute (so a dossier
    exists that the user may read)?"""
    if not user.department.coordinates or not _oversees(session, user, instance):
        return False
    return bool(facts_of(session, [instance.id], "coordination_opened"))
