"""Coordinators' pages: the dashboard of disputes and one dispute's dossier."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from engine.sharing import coordination, dispute_board

from . import clock, db
from .errors import lookup
from .params import number

bp = Blueprint("disputes", __name__, url_prefix="/disputes")


@bp.get("/")
@login_required
def board():
    args = request.args
    filters = dispute_board.Filters(
        state=args.get("state") or "open",
        level=args.get("level", ""),
        authority=number(args.get("authority")),
        q=args.get("q", ""),
    )
    board = lookup(
        dispute_board.board_for,
        db.session,
        clock(),
        current_user,
        filters,
        number(args.get("page")) or 1,
    )
    return render_template("disputes/board.html", board=board, filters=filters, args=args)


@bp.get("/<key>")
@login_required
def show(key: str):
    dossier = lookup(coordination.dossier_for, db.session, clock(), current_user, key)
    return render_template("disputes/dossier.html", d=dossier)
