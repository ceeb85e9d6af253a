"""Single sign-on with OpenID Connect: the Flask and Authlib glue (docs/administration.md,
"Single sign-on").

``/login/sso`` stores a pending sign-in (engine.directory.sso.begin), remembers its state in
this browser's session cookie and sends the browser to the identity provider's authorization
endpoint (Authlib reads the provider's discovery document). ``/login/sso/callback`` consumes the
pending sign-in, exchanges the code for tokens at the provider's token endpoint, fetches the
provider's JWKS, and hands the ID token to the engine, which checks it and finds the account; a
success opens the same server-side session as a password sign-in (web.auth.start_session).
Every refusal is a page that says why, with no session opened.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from engine.directory import sso

from . import clock, db
from .auth import start_session
from .security import client_address, local_path

bp = Blueprint("sso", __name__)
STATE_KEY = "sso_state"
CLIENT_NAME = "govshare_idp"
CLIENT_KEY = "govshare.sso_client"
PROVIDER_FAILURES = (OAuthError, requests.RequestException, ValueError, KeyError, RuntimeError)


def settings() -> sso.SsoSettings:
    return current_app.config["GOVSHARE_SSO"]


def init_app(app: Flask) -> None:
    """Register the identity provider with Authlib when single sign-on is configured (no request
    to the provider yet: Authlib reads its discovery document on first use and caches it)."""
    s: sso.SsoSettings = app.config["GOVSHARE_SSO"]
    if s.enabled:
        app.extensions[CLIENT_KEY] = OAuth(app).register(
            CLIENT_NAME,
            client_id=s.client_id,
            client_secret=s.client_secret,
            server_metadata_url=s.discovery_url,
            client_kwargs={"scope": s.scopes, "timeout": 10},
        )


def _client() -> Any:
    """The app's Authlib client of the identity provider."""
    return current_app.extensions[CLIENT_KEY]


def _enabled() -> sso.SsoSettings:
    s = settings()
    if not s.enabled:
        abort(404)
    return s


def _refused(refusal: sso.SsoRefused):
    if not refusal.recorded:
        sso.refuse(db.session, clock(), refusal, client_address())
    db.session.commit()
    status = {"created": 200, "unreachable": 502}.get(refusal.reason, 403)
    return render_template("sso_refused.html", refusal=refusal, at=clock().now()), status


@bp.get("/login/sso")
def start():
    """Send the browser to the identity provider (a new pending sign-in each time)."""
    _enabled()
    pending = sso.begin(
        db.session, clock(), client_address(), local_path(request.args.get("next")) or ""
    )
    try:
        authorization = _client().create_authorization_url(
            url_for("sso.callback", _external=True), state=pending.state, nonce=pending.nonce
        )
    except PROVIDER_FAILURES:
        db.session.rollback()
        return _refused(sso.SsoRefused("unreachable"))
    db.session.commit()
    session[STATE_KEY] = pending.state
    return redirect(authorization["url"])


def _claims(s: sso.SsoSettings, pending: sso.Pending) -> dict[str, Any]:
    """The verified claims of the provider's answer to this callback (raises SsoRefused)."""
    if request.args.get("error"):
        detail = (request.args.get("error_description") or request.args["error"])[:200]
        raise sso.SsoRefused("provider", detail=detail)
    client = _client()
    try:
        token = client.fetch_access_token(
            redirect_uri=url_for("sso.callback", _external=True), code=request.args.get("code")
        )
        jwks = client.fetch_jwk_set()
        algorithms = client.load_server_metadata().get("id_token_signing_alg_values_supported")
    except OAuthError:
        raise sso.SsoRefused("token") from None
    except PROVIDER_FAILURES:
        raise sso.SsoRefused("unreachable") from None

    def fresh_jwks() -> dict:
        try:
            return client.fetch_jwk_set(force=True)
        except PROVIDER_FAILURES:
            raise sso.SsoRefused("unreachable") from None

    return sso.verify_id_token(
        s,
        token.get("id_token"),
        jwks,
        nonce=pending.nonce,
        clock=clock(),
        access_token=token.get("access_token"),
        algorithms=algorithms,
        fresh_jwks=fresh_jwks,
    )


@bp.get("/login/sso/callback")
def callback():
    """The identity provider's answer: sign the account in, or say why not."""
    s = _enabled()
    try:
        pending = sso.take_pending(
            db.session, clock(), request.args.get("state"), session.pop(STATE_KEY, None)
        )
        db.session.commit()  # a state is good once, whatever follows
        claims = _claims(s, pending)
        result = sso.sign_in(db.session, clock(), s, claims, pending, client_address())
    except sso.SsoRefused as refusal:
        return _refused(refusal)
    start_session(result.user)
    return redirect(local_path(result.next_path) or url_for("inbox.view", view="mine"))
