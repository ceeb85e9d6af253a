"""The public page (art. 24): without sign-in, the open resources and the public figures."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.catalog.reading import open_entries
from engine.clock import SHANGHAI
from engine.oversight.reports import public_figures

from . import clock, db

bp = Blueprint("public", __name__, url_prefix="/public")


@bp.get("/")
def index():
    q = (request.args.get("q") or "").strip()
    year = clock().now().astimezone(SHANGHAI).year - 1
    return render_template(
        "public/index.html",
        resources=open_entries(db.session, q),
        q=q,
        figures=public_figures(db.session, year),
    )
