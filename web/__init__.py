"""Flask app factory. Views parse input, call an engine service with the request's Session, and
render the result; all logic lives in ``engine``. Server-rendered, no CDN (intranet)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask import Flask, request, send_from_directory
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from engine.app import build_engine
from engine.clock import Clock, SystemClock
from engine.db import Base, configure_sqlite, default_url, engine_options, normalize_url
from engine.workflow import attachments

from .params import IdConverter

ENGINE = build_engine()
db = SQLAlchemy(model_class=Base, session_options=ENGINE.session_options())
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    lang = request.args.get("lang") or request.cookies.get("lang")
    return lang if lang in LANGUAGES else "zh_CN"


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__, instance_path=os.path.abspath(os.environ.get("GOVSHARE_INSTANCE", "instance"))
    )
    app.config.update(
        SQLALCHEMY_DATABASE_URI=default_url(),
        SECRET_KEY=os.environ.get("GOVSHARE_SECRET_KEY", "dev-only-change-me"),
        GOVSHARE_CLOCK=SystemClock(),
        GOVSHARE_IDLE_MINUTES=int(os.environ.get("GOVSHARE_IDLE_MINUTES", "30")),
        GOVSHARE_VERIFY_DAYS=int(
            os.environ.get("GOVSHARE_VERIFY_DAYS", "10")
        ),  # art. 15 sets no number
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
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_url(app.config["SQLALCHEMY_DATABASE_URI"])
    # the options engine.db gives every engine (PostgreSQL: connections checked before use)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    app.json.ensure_ascii = False
    app.extensions["govshare.engine"] = ENGINE
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    from . import (
        api,
        auth,
        breach_views,
        catalog_views,
        dispute_views,
        errors,
        inbox,
        incident_views,
        pages,
        project_views,
        public_views,
        report_views,
        request_views,
        task_views,
        templating,
        verification_views,
    )

    templating.init_app(app)
    errors.init_app(app)
    for module in (
        pages,
        auth,
        inbox,
        task_views,
        request_views,
        catalog_views,
        dispute_views,
        verification_views,
        public_views,
        breach_views,
        report_views,
        project_views,
        incident_views,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # token-authenticated, no cookies

    @app.get("/vendor/bpmn-js/<path:filename>")
    def bpmn_js(filename: str):
        return send_from_directory(
            ROOT / "node_modules" / "bpmn-js" / "dist", filename, max_age=86400
        )

    @app.after_request
    def remember_language(response):
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
        return response

    return app


def clock() -> Clock:
    from flask import current_app

    return current_app.config["GOVSHARE_CLOCK"]
