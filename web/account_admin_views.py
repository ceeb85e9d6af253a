"""账号管理 (issue 14, item 3): the administrators' account pages under /admin/accounts.

Each view parses the form and calls engine.directory.accounts (or engine.workflow.accounts for
the changes that hand tasks back); the services check who may do it (a level's administrator:
the departments of their level and below), so a typed address is refused all the same.
A temporary password (new account, reset) is shown once, on the page that answers the POST.
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.directory import accounts
from engine.errors import ValidationFailed
from engine.workflow import accounts as handover
from notifications import preferences

from . import clock, db
from .params import number
from .templating import render_message

bp = Blueprint("accounts", __name__, url_prefix="/admin/accounts")
STATES = {"active": True, "inactive": False}


def _once(body: str):
    """A page that shows a temporary password: never kept by a browser or proxy cache."""
    response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _errors(err: ValidationFailed) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in err.details:
        out.setdefault(problem["field"], []).append(render_message(problem["message"]))
    return out


@bp.get("/")
@login_required
def index():
    args = request.args
    filters = accounts.AccountFilters(
        department=args.get("department") or None,
        role=args.get("role") or None,
        active=STATES.get(args.get("state", "")),
        q=(args.get("q") or "").strip()[:80] or None,
    )
    page = accounts.list_accounts(
        db.session, current_user, filters, page=number(args.get("page")) or 1
    )
    return render_template("admin/accounts/index.html", page=page, filters=filters, args=args)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    options = accounts.list_accounts(db.session, current_user, page=1, page_size=1)
    errors: dict[str, list[str]] = {}
    values: dict = {"roles": ["official"]}
    status = 200
    if request.method == "POST":
        values = {
            "username": request.form.get("username", ""),
            "display_name": request.form.get("display_name", ""),
            "display_name_en": request.form.get("display_name_en", ""),
            "department": request.form.get("department", ""),
            "roles": request.form.getlist("roles"),
            "email": request.form.get("email", ""),
        }
        try:
            info, password = accounts.create_account(db.session, clock(), current_user, values)
            preferences.set_email_address(
                db.session, clock(), info.username, values["email"], current_user.id
            )
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            errors = _errors(err)
            flash(render_message(err.message), "danger")
            status = 422
        else:
            return _once(
                render_template(
                    "admin/accounts/password.html", account=info, password=password, created=True
                )
            )
    return render_template(
        "admin/accounts/new.html", options=options, errors=errors, values=values
    ), status


@bp.get("/<username>")
@login_required
def show(username: str):
    info = accounts.account(db.session, current_user, username)
    options = accounts.list_accounts(db.session, current_user, page=1, page_size=1)
    return render_template("admin/accounts/show.html", account=info, options=options, errors={})


def _back(username: str):
    return redirect(url_for("accounts.show", username=username))


@bp.post("/<username>/roles")
@login_required
def roles(username: str):
    try:
        accounts.set_roles(
            db.session, clock(), current_user, username, request.form.getlist("roles")
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        info = accounts.account(db.session, current_user, username)
        options = accounts.list_accounts(db.session, current_user, page=1, page_size=1)
        flash(render_message(err.message), "danger")
        return render_template(
            "admin/accounts/show.html", account=info, options=options, errors=_errors(err)
        ), 422
    flash(gettext("The job roles are saved."), "success")
    return _back(username)


@bp.post("/<username>/move")
@login_required
def move(username: str):
    try:
        info, returned = handover.move_account(
            db.session, clock(), current_user, username, request.form.get("department", "")
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        flash(render_message(err.message), "danger")
        return _back(username), 303
    flash(
        gettext(
            "%(name)s now works at %(dept)s; %(n)s claimed task(s) went back to the old department's queue.",
            name=render_message(info.name),
            dept=render_message(info.department),
            n=returned,
        ),
        "success",
    )
    return _back(username)


@bp.post("/<username>/deactivate")
@login_required
def deactivate(username: str):
    done = handover.deactivate_account(db.session, clock(), current_user, username)
    db.session.commit()
    flash(
        gettext(
            "The account is deactivated: %(s)s session(s) ended, %(n)s claimed task(s) back in the department queue; the department is told.",
            s=done.sessions,
            n=done.tasks_returned,
        ),
        "success",
    )
    return _back(username)


@bp.post("/<username>/reactivate")
@login_required
def reactivate(username: str):
    accounts.reactivate_account(db.session, clock(), current_user, username)
    db.session.commit()
    flash(gettext("The account is active again."), "success")
    return _back(username)


@bp.post("/<username>/reset-password")
@login_required
def reset_password(username: str):
    password = accounts.reset_password(db.session, clock(), current_user, username)
    info = accounts.account(db.session, current_user, username)
    db.session.commit()
    return _once(
        render_template(
            "admin/accounts/password.html", account=info, password=password, created=False
        )
    )


@bp.route("/import", methods=["GET", "POST"])
@login_required
def bulk_import():
    accounts.list_accounts(db.session, current_user, page=1, page_size=1)  # administrators only
    report = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read() if upload else b""
        apply = request.form.get("apply") == "1"
        try:
            report = accounts.import_accounts(db.session, clock(), current_user, data, apply)
            if report.applied:
                for username, email in report.emails:
                    preferences.set_email_address(
                        db.session, clock(), username, email, current_user.id
                    )
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            flash(render_message(err.message), "danger")
            status = 422
        else:
            if report.problems:
                status = 422
    return _once(render_template("admin/accounts/import.html", report=report)), status
