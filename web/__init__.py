"""Flask app factory. Views parse input, call an engine service with the request's Session, and
render the result; all logic lives in ``engine``."""

from __future__ import annotations

import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from engine.clock import Clock, SystemClock
from engine.db import Base, configure_sqlite, default_url, normalize_url

db = SQLAlchemy(model_class=Base)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.path.abspath(os.environ.get("GOVSHARE_INSTANCE", "instance")))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=default_url(),
        SECRET_KEY=os.environ.get("GOVSHARE_SECRET_KEY", "dev-only-change-me"),
        GOVSHARE_CLOCK=SystemClock(),
        JSON_AS_ASCII=False,
    )
    app.config.update(config or {})
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30, "check_same_thread": False}})
    app.json.ensure_ascii = False
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)

    from . import api, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    return app


def clock() -> Clock:
    from flask import current_app

    return current_app.config["GOVSHARE_CLOCK"]
