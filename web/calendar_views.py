"""日历管理 for the system administrator: the years' holiday schedules and where they come from,
entering a national or regional notice, its preview (the days changed and every open deadline
that moves) and applying it, with the report of what moved (engine.workflow.calendar_notices)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from engine.directory.admin import require_system_admin
from engine.errors import Conflict, ValidationFailed
from engine.workflow.calendar_notices import (
    FIELD_LABELS,
    SCOPE_LABELS,
    apply_notice,
    calendar_years,
    notice_from_form,
    notice_report,
    preview_notice,
    recent_notices,
)

from . import clock, db
from .errors import lookup
from .params import number
from .templating import field_errors

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")
FORM_FIELDS = ("scope", "reference", "holidays", "workdays")
WEEKDAYS = [
    lazy_gettext("Mon"),
    lazy_gettext("Tue"),
    lazy_gettext("Wed"),
    lazy_gettext("Thu"),
    lazy_gettext("Fri"),
    lazy_gettext("Sat"),
    lazy_gettext("Sun"),
]


def _form() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in FORM_FIELDS}


def _render_form(form: dict[str, str], errors: dict[str, list[str]] | None = None, status=200):
    return render_template(
        "calendar/notice.html",
        form=form,
        errors=errors or {},
        error_labels=[gettext(FIELD_LABELS[f]) for f in errors or {} if f in FIELD_LABELS],
        scopes=list(SCOPE_LABELS.items()),
        labels=FIELD_LABELS,
    ), status


@bp.get("/")
@login_required
def index():
    years = lookup(calendar_years, db.session, clock(), current_user)
    return render_template(
        "calendar/index.html",
        years=years,
        weekdays=WEEKDAYS,
        notices=recent_notices(db.session, current_user),
    )


@bp.get("/notice")
@login_required
def notice_form():
    lookup(require_system_admin, current_user)
    return _render_form({"scope": request.args.get("scope", "regional")})


@bp.post("/notice/preview")
@login_required
def preview():
    lookup(require_system_admin, current_user)
    form = _form()
    try:
        notice = notice_from_form(form)
        report = preview_notice(db.session, clock(), notice, current_user)
    except ValidationFailed as err:
        return _render_form(form, field_errors(err), 422)
    except Conflict as err:
        return _render_form(form, {"reference": [err.message.render(gettext)]}, 409)
    finally:
        db.session.rollback()  # a preview writes nothing
    return render_template("calendar/preview.html", report=report, form=form)


@bp.post("/notice/apply")
@login_required
def apply():
    lookup(require_system_admin, current_user)
    form = _form()
    try:
        notice = notice_from_form(form)
        report = apply_notice(db.session, clock(), notice, current_user)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        return _render_form(form, field_errors(err), 422)
    except Conflict as err:
        db.session.rollback()
        return _render_form(form, {"reference": [err.message.render(gettext)]}, 409)
    return redirect(url_for("calendar_admin.report", notice_id=report.notice_id, applied=1))


@bp.get("/notices/<int:notice_id>")
@login_required
def report(notice_id: int):
    found = lookup(
        notice_report, db.session, notice_id, current_user, after=number(request.args.get("after"))
    )
    return render_template(
        "calendar/report.html", report=found, applied=bool(request.args.get("applied"))
    )
