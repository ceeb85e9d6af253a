"""The bell: the signed-in user's notifications (list, open, mark all read), the unread count for
the bell's refresh, and 账户 → 通知设置 (the user's preferences, the department's defaults)."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from engine.errors import ValidationFailed
from notifications import inapp, preferences

from . import clock, db
from .errors import lookup
from .params import number
from .templating import is_english, render_message

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def _lang() -> str:
    return "en" if is_english() else "zh"


@bp.get("/")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    page = inapp.page(
        db.session,
        clock(),
        current_user,
        _lang(),
        before=number(request.args.get("before")),
        unread_only=unread_only,
    )
    return render_template(
        "notifications/index.html",
        page=page,
        unread_only=unread_only,
        first=not request.args.get("before"),
        active_nav="notifications",
    )


@bp.get("/<int:notification_id>")
@login_required
def open_one(notification_id: int):
    """Opening a notification marks it read and goes to the page that acts on it."""
    link = lookup(inapp.open_notification, db.session, clock(), current_user, notification_id)
    db.session.commit()
    return redirect(link if link.startswith("/") and not link.startswith("//") else "/")


@bp.post("/read-all")
@login_required
def read_all():
    count = inapp.mark_all_read(db.session, clock(), current_user)
    db.session.commit()
    flash(
        ngettext("%(num)d notification marked read.", "%(num)d notifications marked read.", count)
    )
    return redirect(url_for("notifications.index"))


@bp.get("/unread.json")
@login_required
def unread():
    """The bell's count, for the page's script to refresh it (same-origin, signed-in)."""
    return jsonify({"unread": inapp.unread_count(db.session, current_user.id)})


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    errors: dict[str, list[str]] = {}
    status = 200
    department = request.form.get("scope") == "department"
    if request.method == "POST":
        form = request.form
        try:
            if department:
                preferences.save_department_defaults(db.session, clock(), current_user, form)
                message = gettext("Your department's defaults were saved.")
            else:
                preferences.save_preferences(db.session, clock(), current_user, form)
                message = gettext("Your notification settings were saved.")
        except ValidationFailed as err:
            db.session.rollback()
            for problem in err.details:
                errors.setdefault(problem["field"], []).append(render_message(problem["message"]))
            flash(render_message(err.message), "danger")
            status = 422
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("notifications.settings"))
    page = lookup(preferences.preferences_page, db.session, current_user)
    return render_template(
        "notifications/settings.html",
        page=page,
        form=request.form if status != 200 and not department else None,
        errors={} if department else errors,
        dept_errors=errors if department else {},
        active_nav="settings",
    ), status
