"""Who sees disputes (art. 4, 11): the coordinators' dashboard is for officials of a data-sharing
authority, and a dispute's dossier for the authority that coordinates it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.directory.models import User
from engine.errors import Forbidden
from engine.i18n import Message
from engine.sharing.disputes import dashboard, dossier
from engine.workflow.facts import facts_of
from engine.workflow.history import instance_by_key
from engine.workflow.models import ProcessInstance


def check_authority(user: User) -> None:
    if not user.department.is_authority:
        raise Forbidden(Message("Only data-sharing authorities coordinate disputes."))


def board_for(session: Session, clock: Clock, user: User) -> dict:
    """The dashboard of the user's authority (as :func:`engine.sharing.disputes.dashboard`)."""
    check_authority(user)
    return dashboard(session, user.department, clock)


def dossier_for(session: Session, clock: Clock, user: User, business_key: str) -> dict:
    """A dispute's dossier, for the authority coordinating it (as
    :func:`engine.sharing.disputes.dossier`)."""
    check_authority(user)
    instance = instance_by_key(session, business_key)
    if instance.authority_department_id != user.department_id:
        raise Forbidden(
            Message("Dispute %(key)s is coordinated by another authority.", key=business_key)
        )
    return dossier(session, instance, clock)


def has_dossier(session: Session, user: User, instance: ProcessInstance) -> bool:
    """Does the user's authority coordinate this instance as a dispute (so a dossier exists)?"""
    if instance.authority_department_id != user.department_id:
        return False
    return bool(facts_of(session, [instance.id], "coordination_opened"))
