"""The public page (art. 24): without sign-in, the open resources and the public figures."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.catalog.search import open_to_public
from engine.clock import SHANGHAI
from engine.oversight.reports import public_figures

from . import clock, db

bp = Blueprint("public", __name__, url_prefix="/public")


@bp.get("/")
def index():
    q = (request.args.get("q") or "").strip()
    year = clock().now().astimezone(SHANGHAI).year - 1
    results = open_to_public(db.session, q, request.args.get("page", 1, type=int))
    return render_template(
        "public/index.html",
        resources=results.rows,
        results=results,
        args=request.args,
        q=q,
        figures=public_figures(db.session, year),
    )
