"""Data errors (art. 13, 15): report one, check a record's flag and register service on proof,
and the provider data-quality figures."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine import rules
from engine.errors import GovshareError, ValidationFailed
from engine.quality import verification as service
from engine.sharing.grants import granted_resources
from engine.workflow import attachments as attachment_service

from . import clock, db
from .templating import render_message

bp = Blueprint("verifications", __name__, url_prefix="/verifications")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    values = dict(request.values)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        uploads = [f for f in request.files.getlist("evidence") if f and f.filename]
        try:
            for upload in uploads:
                attachment_service.check(
                    upload.filename, upload.mimetype, upload.content_length or 0
                )
            form = {
                k: request.form.get(k, "")
                for k in (
                    "resource_code",
                    "record_id",
                    "field",
                    "value_seen",
                    "value_expected",
                    "note",
                )
            }
            instance = service.report_error(
                db.session,
                clock(),
                current_user,
                form,
            )
            for upload in uploads:
                attachment_service.store(
                    db.session,
                    clock(),
                    current_app.config["ATTACHMENT_DIR"],
                    instance.id,
                    None,
                    current_user.id,
                    upload.filename,
                    upload.mimetype,
                    upload.stream,
                )
            db.session.commit()
            flash(
                gettext(
                    "Reported. The record is flagged as under verification until the case is closed."
                ),
                "success",
            )
            return redirect(url_for("requests.show", key=instance.business_key))
        except ValidationFailed as err:
            db.session.rollback()
            for e in err.details:
                errors.setdefault(e["field"], []).append(render_message(e["message"]))
            flash(err.message.render(gettext), "danger")
    return render_template(
        "verifications/new.html",
        values=values,
        errors=errors,
        granted=granted_resources(db.session, current_user),
        limits=attachment_service.LIMITS,
        days=rules.days(db.session, clock(), "verification"),
    ), (422 if errors else 200)


@bp.route("/check", methods=["GET", "POST"])
@login_required
def check():
    resource, record = (
        (request.values.get("resource") or "").strip(),
        (request.values.get("record") or "").strip(),
    )
    result = None
    if request.method == "POST":
        try:
            service.register_served(
                db.session,
                clock(),
                current_user,
                request.form.get("verification_id", ""),
                request.form.get("proof", ""),
                request.form.get("service", ""),
            )
            db.session.commit()
            flash(
                gettext("Registered: the citizen was served on valid proof (art. 15)."), "success"
            )
        except GovshareError as err:
            db.session.rollback()
            flash(err.message.render(gettext), "danger")
        return redirect(url_for(".check", resource=resource, record=record))
    if resource and record:
        try:
            result = service.flag(db.session, current_user, resource, record)
        except GovshareError as err:
            flash(err.message.render(gettext), "danger")
    return render_template(
        "verifications/check.html", resource=resource, record=record, result=result
    )


@bp.get("/quality")
@login_required
def quality():
    report = service.quality_for(db.session, current_user)
    return render_template("verifications/quality.html", rows=report.rows, scope=report.scope)
