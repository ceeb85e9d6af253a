"""通知投递 for administrators: failed e-mail and webhook deliveries, the queue, and retrying."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from engine.errors import GovshareError
from notifications import dead_letters as service
from notifications.delivery import CHANNEL_LABELS, STATUS_LABELS

from . import clock, db
from .params import number

bp = Blueprint("deliveries", __name__, url_prefix="/admin/deliveries")
VIEW_LABELS = {
    "dead": lazy_gettext("Failed"),
    "pending": lazy_gettext("Waiting"),
    "sending": lazy_gettext("Being sent"),
    "sent": lazy_gettext("Sent"),
    "all": lazy_gettext("All"),
}


@bp.get("/")
@login_required
def index():
    view = request.args.get("show", "dead")
    page = service.list_deliveries(
        db.session, current_user, view, after=number(request.args.get("after"))
    )
    return render_template(
        "deliveries/index.html",
        page=page,
        views=list(VIEW_LABELS.items()),
        channels={k: gettext(v) for k, v in CHANNEL_LABELS.items()},
        statuses={k: gettext(v) for k, v in STATUS_LABELS.items()},
    )


@bp.post("/<int:delivery_id>/retry")
@login_required
def retry(delivery_id: int):
    try:
        service.retry(db.session, clock(), delivery_id, current_user)
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        flash(str(err.message), "error")
    else:
        flash(gettext("Delivery %(id)s is queued again.", id=delivery_id), "success")
    return redirect(url_for("deliveries.index", show=request.form.get("show", "dead")))


@bp.post("/retry-dead")
@login_required
def retry_dead():
    try:
        n = service.retry_all_dead(db.session, clock(), current_user)
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        flash(str(err.message), "error")
    else:
        flash(gettext("%(n)s failed deliveries are queued again.", n=n), "success")
    return redirect(url_for("deliveries.index"))
