"""Incidents for administrators: what failed where, and retrying it after a fix."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import GovshareError
from engine.workflow import incidents as service

from . import clock, db
from .params import number

bp = Blueprint("incidents", __name__, url_prefix="/admin/incidents")


@bp.get("/")
@login_required
def index():
    show_all = request.args.get("all") == "1"
    page = request.args.get("page", "1")
    rows, total = service.list_incidents(
        db.session, current_user, open_only=not show_all, page=number(page) or 1
    )
    return render_template("incidents/index.html", rows=rows, total=total, show_all=show_all)


@bp.post("/<key>/retry")
@login_required
def retry(key: str):
    try:
        instance = service.retry(db.session, clock(), key, current_user)
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        flash(str(err.message), "error")
        return redirect(url_for("incidents.index"))
    if instance.status == "incident":
        flash(gettext("%(key)s still fails; see the error below.", key=key), "error")
    else:
        flash(gettext("%(key)s runs again.", key=key), "success")
    return redirect(url_for("incidents.index"))
