"""Coordinators' pages: the dashboard of disputes and one dispute's dossier."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from engine.sharing import coordination

from . import clock, db
from .errors import lookup

bp = Blueprint("disputes", __name__, url_prefix="/disputes")


@bp.get("/")
@login_required
def board():
    board = lookup(coordination.board_for, db.session, clock(), current_user)
    return render_template("disputes/board.html", board=board)


@bp.get("/<key>")
@login_required
def show(key: str):
    dossier = lookup(coordination.dossier_for, db.session, clock(), current_user, key)
    return render_template("disputes/dossier.html", d=dossier)
