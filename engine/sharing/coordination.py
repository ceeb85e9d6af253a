"""Who sees disputes (art. 4, 11): a dispute's dossier is for the authority that coordinates it and
the authorities of the levels above it (who oversee the levels below, never above:
``directory.authorities_under``); the board of disputes, by the same rule, is
:mod:`engine.sharing.dispute_board`'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.directory import authorities_under
from engine.directory.models import User
from engine.errors import Forbidden
from engine.i18n import Message
from engine.sharing.disputes import Case, CatalogTerms, Decision, Entry, Step, dossier
from engine.workflow.facts import facts_of
from engine.workflow.history import instance_by_key
from engine.workflow.models import ProcessInstance


def check_authority(user: User) -> None:
    if not user.department.coordinates:
        raise Forbidden(Message("Only data-sharing authorities coordinate disputes."))


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
