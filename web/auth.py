"""Sign-in and sign-out (Flask-Login over server-side session records), the check of the session
record on every request, and the language switch.

The session cookie carries the id of a ``user_session`` record as Flask-Login's user id; the
user loader accepts it only after ``check_session_record`` found the record valid this request
(not revoked, within the absolute lifetime and the idle limit). docs/security.md explains it.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from engine import directory
from engine.directory import sessions, signin

from . import clock, db, login_manager, set_language_cookie
from .security import client_address, local_path
from .templating import render_message

bp = Blueprint("auth", __name__)
UNCHECKED_PATHS = ("/static", "/vendor", "/api/", "/healthz")


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
def load_user(session_id: str):
    """The user of the session record this request checked, or None."""
    if g.get("session_record") != session_id:
        return None
    return directory.active_user(db.session, g.session_user_id)


def start_session(user) -> None:
    """Sign ``user`` in on this browser with a new session record, ending the record this
    browser held before (so a copy of the old cookie never works again); this commits."""
    sessions.end_session(db.session, clock(), session.get("_user_id"), client_address())
    record = sessions.open_session(
        db.session, clock(), user, client_address(), request.user_agent.string or ""
    )
    db.session.commit()
    session.clear()
    login_user(user)
    session["_user_id"] = record  # the cookie names the record, never the user
    session.permanent = True
    g.session_record, g.session_user_id = record, user.id


def _home() -> str:
    return url_for("inbox.view", view="mine")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error, status = None, 200
    sso = current_app.config["GOVSHARE_SSO"]
    if request.method == "POST" and not sso.local_passwords:
        abort(403)  # GOVSHARE_LOCAL_PASSWORDS=0: single sign-on only (docs/administration.md)
    if form.validate_on_submit():
        result = signin.sign_in(
            db.session, clock(), form.username.data, form.password.data, client_address()
        )
        if result.user is not None:
            start_session(result.user)
            return redirect(local_path(request.args.get("next")) or _home())
        db.session.commit()  # the failure counts and is audited
        error = render_message(result.message)
        status = 429 if result.locked else 200
    demo = current_app.config["GOVSHARE_DEMO"]
    return render_template("login.html", form=form, error=error, demo=demo, sso=sso), status


@bp.post("/logout")
def logout():
    sessions.end_session(db.session, clock(), session.get("_user_id"), client_address())
    db.session.commit()
    logout_user()
    session.clear()
    flash(gettext("You have signed out."), "info")
    return redirect(url_for("auth.login"))


def _ended_message(reason: str | None) -> str:
    if reason == "idle":
        return gettext(
            "Your session expired after %(n)s minutes without activity. Please sign in again.",
            n=current_app.config["GOVSHARE_IDLE_MINUTES"],
        )
    if reason == "expired":
        return gettext("Your session reached its maximum length. Please sign in again.")
    return gettext("Your session has ended. Please sign in again.")


@bp.before_app_request
def check_session_record():
    """Every request of a signed-in browser checks its session record; an ended one signs the
    browser out (the record stays revoked, so the old cookie never works again)."""
    record = session.get("_user_id")
    if not record or request.path.startswith(UNCHECKED_PATHS):
        return None
    state = sessions.check_session(
        db.session, clock(), str(record), current_app.config["GOVSHARE_IDLE_MINUTES"]
    )
    db.session.commit()
    if state.user_id is not None:
        g.session_record, g.session_user_id = str(record), state.user_id
        return None
    logout_user()
    session.clear()
    flash(_ended_message(state.ended), "warning")
    return redirect(
        url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    )


@bp.get("/lang/<code>")
def switch_language(code: str):
    response = redirect(local_path(request.args.get("next")) or _home())
    set_language_cookie(response, code)
    return response
