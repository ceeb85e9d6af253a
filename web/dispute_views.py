"""Coordinators' pages: the dashboard of disputes and one dispute's dossier."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.sharing.disputes import dashboard, dossier
from engine.workflow.models import ProcessInstance

from . import clock, db

bp = Blueprint("disputes", __name__, url_prefix="/disputes")


def _authority_only():
    if not current_user.department.is_authority:
        abort(403)


@bp.get("/")
@login_required
def board():
    _authority_only()
    return render_template(
        "disputes/board.html", board=dashboard(db.session, current_user.department, clock())
    )


@bp.get("/<key>")
@login_required
def show(key: str):
    _authority_only()
    instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))
    if instance is None:
        abort(404)
    if instance.authority_department_id != current_user.department_id:
        abort(403)
    return render_template("disputes/dossier.html", d=dossier(db.session, instance, clock()))
