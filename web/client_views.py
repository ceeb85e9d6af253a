"""部门系统 (department systems, issue 14): administrators register a department's systems and
issue, rotate and revoke their scoped API tokens. A token is shown once, on the page that answers
the form that issued it, and never again."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.directory import clients as service
from engine.errors import GovshareError, ValidationFailed

from . import clock, db
from .errors import lookup
from .params import number
from .templating import render_message

bp = Blueprint("clients", __name__, url_prefix="/admin/clients")


def _field_errors(err: ValidationFailed) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for e in err.details:
        errors.setdefault(e["field"], []).append(render_message(e["message"]))
    return errors


def _index(values: dict, errors: dict[str, list[str]], status: int = 200):
    page = lookup(
        service.list_clients,
        db.session,
        clock(),
        current_user,
        after=number(request.args.get("after")),
    )
    return render_template(
        "clients/index.html",
        page=page,
        departments=service.departments_for(db.session, current_user),
        networks=service.NETWORK_LABELS,
        values=values,
        errors=errors,
    ), status


@bp.get("/")
@login_required
def index():
    return _index({}, {})


@bp.post("/")
@login_required
def create():
    values = {k: request.form.get(k, "") for k in ("department", "name", "network", "contact")}
    try:
        info = service.create_client(db.session, clock(), current_user, values)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.message.render(gettext), "danger")
        return _index(values, _field_errors(err), 422)
    except GovshareError as err:
        if err.http_status in (403, 404):
            raise
        db.session.rollback()  # a system of that name exists
        flash(err.message.render(gettext), "danger")
        return _index(values, {"name": [err.message.render(gettext)]}, err.http_status)
    flash(
        gettext("The system %(name)s is registered. Issue its token below.", name=info.name),
        "success",
    )
    return redirect(url_for("clients.show", client_id=info.id))


def _show(client_id: int, values: dict, errors: dict[str, list[str]], status: int = 200):
    detail = lookup(service.client_detail, db.session, clock(), current_user, client_id)
    default_day, latest_day = service.expiry_days(clock())
    return render_template(
        "clients/show.html",
        detail=detail,
        scopes=service.SCOPE_LABELS,
        networks=service.NETWORK_LABELS,
        default_day=default_day.isoformat(),
        latest_day=latest_day.isoformat(),
        overlap_hours=int(service.ROTATION_OVERLAP.total_seconds() // 3600),
        values=values,
        errors=errors,
    ), status


@bp.get("/<int:client_id>")
@login_required
def show(client_id: int):
    return _show(client_id, {}, {})


def _issued(issued: service.IssuedToken, rotated: bool):
    response = make_response(
        render_template(
            "clients/issued.html",
            issued=issued,
            scopes=service.SCOPE_LABELS,
            rotated=rotated,
            overlap_hours=int(service.ROTATION_OVERLAP.total_seconds() // 3600),
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the token must not stay in a cache
    return response


@bp.post("/<int:client_id>/tokens")
@login_required
def issue(client_id: int):
    values = {
        "scopes": request.form.getlist("scopes"),
        "expires_on": request.form.get("expires_on", ""),
    }
    try:
        issued = service.issue_token(
            db.session, clock(), current_user, client_id, values["scopes"], values["expires_on"]
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.message.render(gettext), "danger")
        return _show(client_id, values, _field_errors(err), 422)
    return _issued(issued, rotated=False)


@bp.post("/<int:client_id>/tokens/<int:token_id>/rotate")
@login_required
def rotate(client_id: int, token_id: int):
    try:
        issued = service.rotate_token(db.session, clock(), current_user, client_id, token_id)
        db.session.commit()
    except GovshareError as err:
        if err.http_status in (403, 404):
            raise
        db.session.rollback()
        flash(err.message.render(gettext), "danger")
        return redirect(url_for("clients.show", client_id=client_id))
    return _issued(issued, rotated=True)


@bp.post("/<int:client_id>/tokens/<int:token_id>/revoke")
@login_required
def revoke(client_id: int, token_id: int):
    try:
        service.revoke_token(db.session, clock(), current_user, client_id, token_id)
        db.session.commit()
    except GovshareError as err:
        if err.http_status in (403, 404):
            raise
        db.session.rollback()
        flash(err.message.render(gettext), "danger")
    else:
        flash(gettext("Token #%(id)s is revoked: it no longer works.", id=token_id), "success")
    return redirect(url_for("clients.show", client_id=client_id))


@bp.post("/<int:client_id>/active")
@login_required
def set_active(client_id: int):
    active = request.form.get("active") == "1"
    try:
        info = service.set_active(db.session, clock(), current_user, client_id, active)
        db.session.commit()
    except GovshareError as err:
        if err.http_status in (403, 404):
            raise
        db.session.rollback()
        flash(err.message.render(gettext), "danger")
    else:
        flash(
            gettext("The system %(name)s is active again.", name=info.name)
            if active
            else gettext(
                "The system %(name)s is deactivated: its tokens are refused.", name=info.name
            ),
            "success",
        )
    return redirect(url_for("clients.show", client_id=client_id))
