"""The search box of every page: requests, catalog entries, projects and ledger entries at once."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from engine.search import search_everything
from engine.sharing.request_list import STATUSES

from . import clock, db

bp = Blueprint("search", __name__, url_prefix="/search")


@bp.get("/")
@login_required
def everything():
    results = search_everything(db.session, clock(), current_user, request.args.get("q", ""))
    return render_template("search.html", results=results, statuses=STATUSES)
