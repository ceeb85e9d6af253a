"""法定时限规则 for the system administrator: rule set versions, a draft's limits, publishing."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.clock import SHANGHAI
from engine.errors import GovshareError, ValidationFailed
from engine.rules import admin as service

from . import clock, db
from .errors import lookup
from .params import number
from .templating import field_errors

bp = Blueprint("rules", __name__, url_prefix="/admin/rules")


@bp.get("/")
@login_required
def index():
    page = number(request.args.get("page")) or 1
    sets, pages = lookup(service.rule_sets, db.session, current_user, page)
    in_force = service.in_force_now(db.session, clock())
    return render_template(
        "rules/index.html",
        sets=sets,
        page=page,
        pages=pages,
        in_force=in_force,
        today_iso=_today(),
    )


def _today() -> str:
    return clock().now().astimezone(SHANGHAI).date().isoformat()


def _show(version: int, values: dict | None = None, errors: dict | None = None, status: int = 200):
    rule_set = lookup(service.rule_set, db.session, current_user, version)
    return render_template(
        "rules/show.html",
        rule_set=rule_set,
        values=values or {},
        errors=errors or {},
        today=_today(),
    ), status


@bp.get("/<int:version>")
@login_required
def show(version: int):
    return _show(version)


@bp.post("/new")
@login_required
def new():
    try:
        draft = service.create_draft(db.session, clock(), current_user)
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        if err.http_status in (403, 404):
            raise
        flash(err.message.render(gettext), "error")
        return redirect(url_for("rules.index"))
    flash(gettext("Version %(v)s was created as a draft.", v=draft.version), "success")
    return redirect(url_for("rules.show", version=draft.version))


@bp.post("/<int:version>")
@login_required
def save(version: int):
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        service.update_draft(db.session, clock(), current_user, version, form)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.message.render(gettext), "error")
        return _show(version, form, field_errors(err), 422)
    except GovshareError as err:
        db.session.rollback()
        if err.http_status in (403, 404):
            raise
        flash(err.message.render(gettext), "error")
        return redirect(url_for("rules.show", version=version))
    flash(gettext("The draft was saved."), "success")
    return redirect(url_for("rules.show", version=version))


@bp.post("/<int:version>/publish")
@login_required
def publish(version: int):
    effective = request.form.get("effective_from", "").strip()
    try:
        service.publish(db.session, clock(), current_user, version, effective)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.message.render(gettext), "error")
        return _show(version, {"effective_from": effective}, field_errors(err), 422)
    except GovshareError as err:
        db.session.rollback()
        if err.http_status in (403, 404):
            raise
        flash(err.message.render(gettext), "error")
        return redirect(url_for("rules.show", version=version))
    flash(gettext("Version %(v)s is published from %(day)s.", v=version, day=effective), "success")
    return redirect(url_for("rules.show", version=version))
