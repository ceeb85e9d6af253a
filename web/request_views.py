"""本部门申请 (the department's requests, and an authority's levels), starting a request from the
catalog, and the request page with its diagram."""

from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import GovshareError, ValidationFailed
from engine.sharing import grants as grant_service
from engine.sharing import request_list
from engine.sharing import requests as request_service
from engine.trust import signatures as signed_decisions
from engine.workflow import history
from engine.workflow.calendar_notices import deadline_changes

from . import clock, db
from .errors import lookup
from .params import number
from .templating import ROLE_LABELS, render_message

bp = Blueprint("requests", __name__, url_prefix="/requests")


def _list_filters(args) -> request_list.Filters:
    return request_list.Filters(
        scope=args.get("scope") or "department",
        status=args.get("status", ""),
        direction=args.get("direction", ""),
        counterpart=number(args.get("counterpart")),
        submitted_from=args.get("from", ""),
        submitted_to=args.get("to", ""),
        q=args.get("q", ""),
    )


@bp.get("/")
@login_required
def index():
    filters = _list_filters(request.args)
    if request.args.get("format") == "csv":
        text = request_list.export_csv(db.session, clock(), current_user, filters, gettext)
        return Response(
            text,
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=requests.csv"},
        )
    page = request_list.requests_of(
        db.session, clock(), current_user, filters, number(request.args.get("page")) or 1
    )
    return render_template(
        "requests/list.html",
        page=page,
        filters=filters,
        args=request.args,
        statuses=request_list.STATUSES,
        counterparts=request_list.counterpart_options(db.session, current_user),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    q = (request.values.get("q") or "").strip()
    code = request.values.get("resource_code") or request.args.get("resource")
    values, errors = {}, []
    if request.method == "POST":
        values = {
            "resource_code": code or "",
            "info_items": request.form.getlist("info_items"),
            "purpose": request.form.get("purpose", "").strip(),
            "scenario": request.form.get("scenario", "").strip(),
            "legal_basis": request.form.get("legal_basis", "").strip(),
            "period_start": request.form.get("period_start", ""),
            "period_end": request.form.get("period_end", ""),
        }
        form = {k: v for k, v in values.items() if v}
        try:
            instance = request_service.start_share_request(db.session, clock(), current_user, form)
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            errors = err.details
            flash(err.message.render(gettext), "danger")
        else:
            return redirect(url_for(".show", key=instance.business_key, started=1))
    page = request_service.request_form(db.session, clock(), current_user, code, q)
    field_errors = {}
    for e in errors:
        field_errors.setdefault(e["field"], []).append(render_message(e["message"]))
    return render_template(
        "request_new.html",
        q=q,
        results=page.results,
        resource=page.resource,
        values=values,
        field_errors=field_errors,
        expected_due=page.expected_due,
        own=page.own,
        scenarios=page.scenarios,
    ), (422 if errors else 200)


@bp.get("/<key>")
@login_required
def show(key: str):
    page = lookup(request_service.request_page, db.session, clock(), current_user, key)
    return render_template(
        "request.html",
        instance=page.view.instance,
        status=page.status,
        deadlines=page.view.deadlines,
        files=page.view.files,
        my_task_ids=page.view.my_task_ids,
        started=request.args.get("started"),
        role=page.view.role,
        incident=page.incident,
        deadline_moves=deadline_changes(db.session, page.view.instance.id),
        signatures=signed_decisions.signatures_of(db.session, page.view.instance.business_key),
        revocable=page.revocable,
    )


@bp.post("/<key>/grants/<int:grant_id>/revoke")
@login_required
def revoke_grant(key: str, grant_id: int):
    """Revoke a grant of the request, for the reason given (the providing department's officials,
    coordinators of its level or above)."""
    page = lookup(request_service.request_page, db.session, clock(), current_user, key)
    if grant_id not in {g["id"] for g in page.status["grants"]}:
        return show(key), 404
    try:
        grant_service.revoke_grant(
            db.session, clock(), grant_id, current_user, request.form.get("reason", "")
        )
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        flash(err.message.render(gettext), "danger")
        return show(key), err.http_status  # shown again with the refusal; nothing written
    flash(gettext("Grant %(grant)s revoked.", grant=grant_id), "success")
    return redirect(url_for(".show", key=key) + "#grants")


@bp.get("/<key>/diagram.json")
@login_required
def diagram(key: str):
    diagrams = lookup(history.diagrams, db.session, clock(), current_user, key)
    lanes = {role: str(label) for role, label in ROLE_LABELS.items()}
    return jsonify({"diagrams": diagrams, "lanes": lanes})
