"""Flask app factory. Views parse input, call an engine service with the request's Session, and
render the result; all logic lives in ``engine``. Server-rendered, no CDN (intranet)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask import Flask, request, send_from_directory
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, gettext
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.app import build_engine
from engine.clock import Clock, SystemClock
from engine.db import (
    Base,
    configure_sqlite,
    default_url,
    end_read_only,
    engine_options,
    normalize_url,
    reads_first,
    watch_writes,
)
from engine.directory import sso
from engine.i18n import Message
from engine.seed import demo_mode
from engine.trust.keys import KeyConfigurationError, require_key_encryption_key
from engine.workflow import attachments

from .params import IdConverter

ENGINE = build_engine()
db = SQLAlchemy(model_class=Base, session_options=ENGINE.session_options())
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
ROOT = Path(__file__).resolve().parent.parent
# Requests other than GET and HEAD that mostly only read: the art. 14 grant check writes only a
# refused use's breach (engine/db.py, reads_first).
READS_FIRST = {"api.grant_check"}
# Signs demo-mode sessions only; production refuses to start with it (docs/security.md).
DEMO_SECRET_KEY = "demo-mode-only-not-a-secret"


class ConfigurationError(RuntimeError):
    """The app cannot start as configured; the message says which setting to fix."""


def _settings(config: dict) -> dict:
    """Mode-dependent settings: demo mode (GOVSHARE_DEMO) or production, from the environment
    unless ``config`` sets them. Production needs GOVSHARE_SECRET_KEY and sends the session
    cookie only over HTTPS unless GOVSHARE_SECURE_COOKIES=0."""
    demo = config.get("GOVSHARE_DEMO", demo_mode())
    key = config.get("SECRET_KEY") or os.environ.get("GOVSHARE_SECRET_KEY", "").strip()
    if not key and demo:
        key = DEMO_SECRET_KEY
    if not key or (key == DEMO_SECRET_KEY and not demo):
        raise ConfigurationError(
            "GOVSHARE_SECRET_KEY is not set: outside demo mode govshare refuses to start without "
            "its own secret key (it signs sessions and CSRF tokens). Set GOVSHARE_SECRET_KEY to a "
            "long random value (e.g. python -c 'import secrets; print(secrets.token_hex(32))'), "
            "or run the demo with GOVSHARE_DEMO=1 (make demo)."
        )
    if not demo:  # signing keys are sealed under the KEK: no KEK, no start (docs/trust.md)
        try:
            require_key_encryption_key()
        except KeyConfigurationError as problem:
            raise ConfigurationError(str(problem)) from None
    secure = not demo and os.environ.get("GOVSHARE_SECURE_COOKIES", "1").strip() != "0"
    # single sign-on (OpenID Connect): half-configured refuses to start (docs/security.md)
    try:
        sso_settings = config.get("GOVSHARE_SSO") or sso.settings_from(
            {
                **os.environ,
                **{k: v for k, v in config.items() if k.startswith(sso.SETTING_PREFIXES)},
            }
        )
    except sso.ConfigurationProblem as problem:
        raise ConfigurationError(str(problem)) from None
    return {
        "GOVSHARE_SSO": sso_settings,
        "GOVSHARE_DEMO": bool(demo),
        "SECRET_KEY": key,
        "SESSION_COOKIE_SECURE": config.get("SESSION_COOKIE_SECURE", secure),
        "GOVSHARE_PROXY_FIX": int(
            config.get("GOVSHARE_PROXY_FIX", os.environ.get("GOVSHARE_PROXY_FIX", "0") or 0)
        ),
    }


class ReaderJSONProvider(DefaultJSONProvider):
    """JSON in the reader's language: an engine :class:`~engine.i18n.Message`, or a name in both
    languages (:class:`~engine.i18n.Label`: a department, division or official), is rendered as
    the page would render it (``?lang=en`` or the ``lang`` cookie; Chinese by default)."""

    ensure_ascii = False

    @staticmethod
    def default(o):
        if isinstance(o, Message):
            return o.render(gettext)
        return DefaultJSONProvider.default(o)


def select_locale() -> str:
    """The reader's language: ``?lang=`` or the ``lang`` cookie; else Simplified Chinese on
    pages, and the server's language (``GOVSHARE_LANG``, as the CLI) for the JSON API."""
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang in LANGUAGES:
        return lang
    if request.path.startswith("/api/"):
        return "en" if os.environ.get("GOVSHARE_LANG", "").startswith("en") else "zh_CN"
    return "zh_CN"


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__, instance_path=os.path.abspath(os.environ.get("GOVSHARE_INSTANCE", "instance"))
    )
    app.config.update(
        SQLALCHEMY_DATABASE_URI=default_url(),
        GOVSHARE_CLOCK=SystemClock(),
        GOVSHARE_IDLE_MINUTES=int(os.environ.get("GOVSHARE_IDLE_MINUTES", "30")),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "web" / "translations"),
        ATTACHMENT_DIR=attachments.default_directory(),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.url_map.converters["int"] = IdConverter  # ids within INTEGER: 404 beyond, never a 500
    app.config.update(config or {})
    app.config.update(_settings(config or {}))
    if app.config["GOVSHARE_PROXY_FIX"]:
        hops = app.config["GOVSHARE_PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_url(app.config["SQLALCHEMY_DATABASE_URI"])
    # the options engine.db gives every engine (PostgreSQL: connections checked before use)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    app.json = ReaderJSONProvider(app)
    app.extensions["govshare.engine"] = ENGINE
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        watch_writes(db.engine)

    @app.before_request
    def declare_reads_first():  # SQLite: these read without taking the write lock (engine/db.py)
        reads_first(request.method in ("GET", "HEAD") or request.endpoint in READS_FIRST)

    @app.teardown_request
    def end_reads_first(_error):
        reads_first(False)

    @app.teardown_appcontext
    def end_request_transaction(exc: BaseException | None) -> None:
        # runs before Flask-SQLAlchemy's removal of the session (registered later, called
        # first): a request that only read commits, so its pooled PostgreSQL connection keeps
        # its prepared statements; one that wrote without committing is rolled back as before
        if exc is None and db.session.registry.has():
            end_read_only(db.session())

    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    from . import (
        account_admin_views,
        account_views,
        admin_views,
        api,
        audit_views,
        auth,
        breach_views,
        calendar_views,
        catalog_views,
        client_views,
        cockpit_views,
        cover_views,
        delivery_views,
        directory_views,
        dispute_views,
        errors,
        inbox,
        incident_views,
        notification_views,
        pages,
        project_views,
        public_views,
        report_views,
        request_views,
        rule_views,
        scenario_views,
        search_views,
        security,
        signature_views,
        sso_views,
        task_views,
        templating,
        verification_views,
    )

    templating.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    for module in (
        pages,
        auth,
        account_views,
        inbox,
        task_views,
        request_views,
        catalog_views,
        dispute_views,
        verification_views,
        public_views,
        signature_views,
        breach_views,
        audit_views,
        report_views,
        project_views,
        incident_views,
        delivery_views,
        search_views,
        notification_views,
        admin_views,
        client_views,
        sso_views,
        account_admin_views,
        cover_views,
        directory_views,
        rule_views,
        scenario_views,
        calendar_views,
        cockpit_views,
    ):
        app.register_blueprint(module.bp)
    sso_views.init_app(app)  # single sign-on's identity provider, when configured
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # token-authenticated, no cookies

    @app.get("/favicon.ico")
    def favicon():  # browsers ask for it before reading the page's <link rel="icon">
        return send_from_directory(
            Path(app.static_folder or ""), "favicon.svg", mimetype="image/svg+xml", max_age=86400
        )

    @app.get("/vendor/bpmn-js/<path:filename>")
    def bpmn_js(filename: str):
        return send_from_directory(
            ROOT / "node_modules" / "bpmn-js" / "dist", filename, max_age=86400
        )

    @app.after_request
    def remember_language(response):
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            set_language_cookie(response, lang)
        return response

    return app


def set_language_cookie(response, lang: str) -> None:
    from flask import current_app

    response.set_cookie(
        "lang",
        lang if lang in LANGUAGES else "zh_CN",
        max_age=365 * 86400,
        samesite="Lax",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


def clock() -> Clock:
    from flask import current_app

    return current_app.config["GOVSHARE_CLOCK"]
