"""The signed-in user's own account: change my password."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField

from engine.directory import accounts
from engine.errors import ValidationFailed

from . import clock, db
from .auth import start_session
from .templating import render_message

bp = Blueprint("account", __name__, url_prefix="/account")


class PasswordForm(FlaskForm):
    current_password = PasswordField(lazy_gettext("Current password"))
    new_password = PasswordField(lazy_gettext("New password"))
    repeat_password = PasswordField(lazy_gettext("Repeat new password"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    if not current_app.config["GOVSHARE_SSO"].local_passwords:
        abort(404)  # single sign-on only: passwords are the identity provider's
    form = PasswordForm()
    errors: dict[str, list[str]] = {}
    status = 200
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            accounts.change_password(
                db.session,
                clock(),
                user,
                form.current_password.data or "",
                form.new_password.data or "",
                form.repeat_password.data or "",
            )
        except ValidationFailed as err:
            db.session.rollback()
            for problem in err.details:
                errors.setdefault(problem["field"], []).append(render_message(problem["message"]))
            flash(render_message(err.message), "danger")
            status = 422
        else:
            start_session(user)  # every other session was revoked; this browser stays signed in
            flash(
                gettext("Your password has been changed; your other sessions were signed out."),
                "success",
            )
            return redirect(url_for("inbox.view", view="mine"))
    return render_template(
        "account/password.html",
        form=form,
        errors=errors,
        min_length=accounts.MIN_PASSWORD_LENGTH,
    ), status
