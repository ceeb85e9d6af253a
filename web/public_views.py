"""The public page (art. 24): without sign-in, the open resources and the public figures."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine.catalog.models import Resource
from engine.clock import SHANGHAI
from engine.oversight.reports import public_figures

from . import clock, db

bp = Blueprint("public", __name__, url_prefix="/public")


@bp.get("/")
def index():
    q = (request.args.get("q") or "").strip()
    stmt = (
        select(Resource)
        .where(Resource.status == "published", Resource.open_to_public.is_(True))
        .options(selectinload(Resource.provider))
        .order_by(Resource.code)
    )
    if q:
        stmt = stmt.where(Resource.search_text.like(f"%{q}%"))
    year = clock().now().astimezone(SHANGHAI).year - 1
    figures = public_figures(db.session, year)
    return render_template(
        "public/index.html",
        resources=db.session.scalars(stmt.limit(200)).all(),
        q=q,
        figures=figures,
    )
