"""应用场景 (application scenarios, art. 12, 14): the list a grant's purpose is bound to, kept by
system administrators and the region authority's coordinators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import GovshareError, ValidationFailed
from engine.sharing import scenarios as service

from . import clock, db
from .errors import lookup
from .templating import field_errors

bp = Blueprint("scenarios", __name__, url_prefix="/admin/scenarios")


def _index(values: dict | None = None, errors: dict | None = None, status: int = 200):
    rows = lookup(service.kept_list, db.session, current_user)
    return render_template(
        "scenarios/index.html", rows=rows, values=values or {}, errors=errors or {}
    ), status


@bp.get("/")
@login_required
def index():
    return _index()


@bp.post("/")
@login_required
def save():
    form = {k: request.form.get(k, "") for k in ("code", "name_zh", "name_en")}
    try:
        saved = service.save_scenario(
            db.session, clock(), current_user, form["code"], form["name_zh"], form["name_en"]
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.message.render(gettext), "error")
        return _index(form, field_errors(err), 422)
    except GovshareError as err:
        db.session.rollback()
        if err.http_status in (403, 404):
            raise
        flash(err.message.render(gettext), "error")
        return redirect(url_for(".index"))
    flash(gettext("The application scenario %(code)s was saved.", code=saved.code), "success")
    return redirect(url_for(".index"))


@bp.post("/<code>/active")
@login_required
def active(code: str):
    on = request.form.get("active") == "1"
    try:
        service.set_active(db.session, clock(), current_user, code, on)
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        if err.http_status in (403, 404):
            raise
        flash(err.message.render(gettext), "error")
    return redirect(url_for(".index"))
