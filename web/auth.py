"""Sign-in and sign-out (Flask-Login), session expiry, and the language switch."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from engine import directory

from . import clock, db, login_manager

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(
        lazy_gettext("User name"),
        validators=[DataRequired(message=lazy_gettext("Enter your user name."))],
    )
    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(message=lazy_gettext("Enter your password."))],
    )


@login_manager.user_loader
def load_user(user_id: str):
    return directory.active_user(db.session, int(user_id))


def _safe_next(target: str | None) -> str:
    return (
        target
        if target and target.startswith("/") and not target.startswith("//")
        else url_for("inbox.view", view="mine")
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = directory.sign_in(db.session, form.username.data, form.password.data)
        if user is not None:
            session.clear()
            login_user(user)
            session.permanent = True
            session["last_seen"] = clock().now().timestamp()
            return redirect(_safe_next(request.args.get("next")))
        error = gettext("User name or password is wrong.")
    return render_template("login.html", form=form, error=error)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash(gettext("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.before_app_request
def expire_idle_sessions():
    """Sign out a session idle for longer than GOVSHARE_IDLE_MINUTES (by the injected clock)."""
    if not current_user.is_authenticated or request.path.startswith(
        ("/static", "/vendor", "/api/")
    ):
        return None
    now = clock().now().timestamp()
    last = session.get("last_seen", now)
    if now - last > current_app.config["GOVSHARE_IDLE_MINUTES"] * 60:
        logout_user()
        session.clear()
        flash(
            gettext(
                "Your session expired after %(n)s minutes without activity. Please sign in again.",
                n=current_app.config["GOVSHARE_IDLE_MINUTES"],
            ),
            "warning",
        )
        return redirect(
            url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        )
    session["last_seen"] = now
    return None


@bp.get("/lang/<code>")
def switch_language(code: str):
    target = _safe_next(request.args.get("next"))
    response = redirect(target)
    response.set_cookie(
        "lang", code if code in ("zh_CN", "en") else "zh_CN", max_age=365 * 86400, samesite="Lax"
    )
    return response
