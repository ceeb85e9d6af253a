"""流程驾驶舱 (the process cockpit) for the system administrator: processes and their versions,
activation and rollback, the instance list, one instance with its history, suspend and resume.

Every page and action calls :mod:`engine.workflow.cockpit`, which refuses everyone but the
system administrator; a refusal is the plain 403 page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import GovshareError, ValidationFailed
from engine.i18n import N_, Message
from engine.workflow import cockpit as service
from engine.workflow import incidents

from . import clock, db
from .errors import lookup
from .templating import render_message

bp = Blueprint("cockpit", __name__, url_prefix="/admin/processes")


@bp.get("/")
@login_required
def index():
    processes = lookup(service.overview, db.session, current_user)
    return render_template(
        "cockpit/index.html",
        processes=processes,
        open_incidents=incidents.open_count(db.session),
        states=service.STATES,
    )


@bp.get("/<process_id>/activate/<int:version>")
@login_required
def confirm_activate(process_id: str, version: int):
    process = lookup(service.process_row, db.session, current_user, process_id)
    target = next((v for v in process.versions if v.version == version), None)
    if target is None:
        abort(404)
    return render_template("cockpit/confirm.html", process=process, target=target, rollback=False)


@bp.get("/<process_id>/rollback")
@login_required
def confirm_rollback(process_id: str):
    process = lookup(service.process_row, db.session, current_user, process_id)
    target = next((v for v in process.versions if v.version == process.rollback_to), None)
    if target is None:
        flash(gettext("There is no version below the active one to roll back to."), "danger")
        return redirect(url_for("cockpit.index"))
    return render_template("cockpit/confirm.html", process=process, target=target, rollback=True)


def _activation(process_id: str, do, back: str):
    try:
        result = do()
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        flash(render_message(err.message), "danger")
        return redirect(back)
    flash(render_message(result.describe()), "success")
    return redirect(url_for("cockpit.index") + f"#process-{process_id}")


@bp.post("/<process_id>/activate/<int:version>")
@login_required
def activate(process_id: str, version: int):
    reason = request.form.get("reason", "")
    return _activation(
        process_id,
        lambda: service.activate(db.session, clock(), current_user, process_id, version, reason),
        url_for("cockpit.confirm_activate", process_id=process_id, version=version),
    )


@bp.post("/<process_id>/rollback")
@login_required
def rollback(process_id: str):
    reason = request.form.get("reason", "")
    return _activation(
        process_id,
        lambda: service.rollback(db.session, clock(), current_user, process_id, reason),
        url_for("cockpit.confirm_rollback", process_id=process_id),
    )


FILTERS = ("process", "version", "state", "key", "started_from", "started_to")


@bp.get("/instances")
@login_required
def instances():
    entered = {k: request.args.get(k, "") for k in FILTERS}
    filters = service.InstanceFilters(**entered)
    errors, status = {}, 200
    try:
        page = service.instances(db.session, current_user, filters, request.args.get("after"))
    except ValidationFailed as err:
        errors = {
            d["field"]: render_message(
                Message(N_("%(label)s %(problem)s"), label=d.get("label", ""), problem=d["message"])
            )
            for d in err.details
        }
        page = service.instances(db.session, current_user)
        page = service.InstanceList([], 0, False, None, page.processes)
        status = 422
    return render_template(
        "cockpit/instances.html",
        page=page,
        filters=entered,
        errors=errors,
        states=service.STATES,
    ), status


@bp.get("/instances/<key>")
@login_required
def instance(key: str):
    page = lookup(service.instance_page, db.session, current_user, key)
    return render_template("cockpit/instance.html", page=page, i=page.instance)


def _act(key: str, do, done: str):
    try:
        do()
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        if err.http_status in (403, 404):
            raise
        flash(render_message(err.message), "danger")
    else:
        flash(done, "success")
    return redirect(url_for("cockpit.instance", key=key))


@bp.post("/instances/<key>/suspend")
@login_required
def suspend(key: str):
    reason = request.form.get("reason", "")
    return _act(
        key,
        lambda: service.suspend(db.session, clock(), current_user, key, reason),
        gettext("%(key)s is suspended.", key=key),
    )


@bp.post("/instances/<key>/resume")
@login_required
def resume(key: str):
    reason = request.form.get("reason", "")
    return _act(
        key,
        lambda: service.resume(db.session, clock(), current_user, key, reason),
        gettext("%(key)s is resumed.", key=key),
    )


@bp.post("/instances/<key>/retry")
@login_required
def retry(key: str):
    try:
        outcome = incidents.retry(db.session, clock(), key, current_user)
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        if err.http_status in (403, 404):
            raise
        flash(render_message(err.message), "danger")
        return redirect(url_for("cockpit.instance", key=key))
    if outcome.status == "incident":
        flash(gettext("%(key)s still fails; see the error below.", key=key), "danger")
    else:
        flash(gettext("%(key)s runs again.", key=key), "success")
    return redirect(url_for("cockpit.instance", key=key))
