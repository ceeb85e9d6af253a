"""Leave cover (issue 14, item 5): the official's own page and their leader's view of the
department, the banner on every page, and the forced password change after a reset.

* ``/account/cover``: my covers (as the absent official or as the deputy); name a deputy.
* ``/account/cover/department``: a leader's view of the department's covers; arrange one for
  any official of the department.
* The banner (``cover_banner()`` in base.html): whom the signed-in user stands in for and until
  when, or who stands in for them.
* A user whose password an administrator reset (``must_change_password``) is sent to the
  password page from every other page until they have chosen a new one.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.directory import delegation
from engine.errors import ValidationFailed

from . import clock, db
from .params import number
from .templating import render_message

bp = Blueprint("cover", __name__, url_prefix="/account/cover")
# what a user who must change their password may still open
OPEN_WHILE_FORCED = {"account.password", "auth.logout", "auth.switch_language", "static"}


def _page(department: bool, errors=None, values=None, status=200):
    page = delegation.delegation_page(
        db.session, clock(), current_user, department, number(request.args.get("page")) or 1
    )
    return render_template(
        "account/cover.html",
        page=page,
        department=department,
        errors=errors or {},
        values=values or {},
        is_leader="leader" in (current_user.job_roles or []),
    ), status


@bp.get("/")
@login_required
def mine():
    return _page(False)


@bp.get("/department")
@login_required
def department():
    return _page(True)


@bp.post("/")
@login_required
def create():
    form = request.form
    values = {k: form.get(k, "") for k in ("absent", "deputy", "from", "until")}
    in_department = form.get("scope") == "department"
    absent = values["absent"] if in_department else current_user.username
    try:
        info = delegation.delegate(
            db.session,
            clock(),
            current_user,
            absent,
            values["deputy"],
            values["from"],
            values["until"],
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        errors: dict[str, list[str]] = {}
        for problem in err.details:
            errors.setdefault(problem["field"], []).append(render_message(problem["message"]))
        flash(render_message(err.message), "danger")
        return _page(in_department, errors, values, 422)
    flash(
        gettext(
            "%(deputy)s stands in for %(absent)s from %(start)s until %(end)s.",
            deputy=render_message(info.deputy),
            absent=render_message(info.absent),
            start=info.first_day.isoformat(),
            end=info.last_day.isoformat(),
        ),
        "success",
    )
    return redirect(url_for("cover.department" if in_department else "cover.mine"))


@bp.post("/<int:delegation_id>/end")
@login_required
def end(delegation_id: int):
    delegation.end_delegation(db.session, clock(), current_user, delegation_id)
    db.session.commit()
    flash(gettext("The leave cover has ended."), "success")
    back = "cover.department" if request.form.get("scope") == "department" else "cover.mine"
    return redirect(url_for(back))


def cover_banner():
    """The running covers of the signed-in user, once per request (two indexed queries)."""
    if "cover_banner" not in g:
        g.cover_banner = (
            delegation.cover_of(db.session, clock(), current_user)
            if current_user.is_authenticated
            else None
        )
    return g.cover_banner


@bp.app_context_processor
def _context():
    return {"cover_banner": cover_banner}


@bp.before_app_request
def forced_password_change():
    """After an administrator's reset the user can do nothing else until they have chosen a
    new password (docs/administration.md, "Accounts")."""
    if (
        current_user.is_authenticated
        and getattr(current_user, "must_change_password", False)
        and request.endpoint not in OPEN_WHILE_FORCED
        and not request.path.startswith(("/api/", "/static", "/vendor", "/healthz"))
    ):
        flash(gettext("Your password was reset: choose a new password to continue."), "warning")
        return redirect(url_for("account.password"))
    return None
