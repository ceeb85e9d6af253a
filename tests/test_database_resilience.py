"""A PostgreSQL connection the server dropped costs no user a 500: every engine of the web app,
the CLI and the worker checks a pooled connection before it hands it out."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.app import build_engine
from engine.db import make_engine
from tests.test_web import Browser, app  # noqa: F401
from web import create_app

PG = "postgresql://postgres@127.0.0.1:5432/any"


def test_every_postgresql_engine_checks_connections_before_use(tmp_path):
    web = create_app(
        {"SQLALCHEMY_DATABASE_URI": PG, "ATTACHMENT_DIR": str(tmp_path), "SECRET_KEY": "t"}
    )
    with web.app_context():
        from web import db

        assert db.engine.pool._pre_ping
    assert make_engine(PG).pool._pre_ping  # the CLI, the worker, migrations
    assert build_engine().sessions(PG).kw["bind"].pool._pre_ping


def test_a_request_after_the_server_dropped_the_apps_connection_answers_200(
    app,  # noqa: F811
    engine,
    actors,
):
    if engine.dialect.name != "postgresql":
        pytest.skip("an SQLite file has no server that could drop the connection")
    clerk = Browser(app, "civil.clerk")
    assert clerk.get("/inbox/mine").status_code == 200
    with engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    assert killed >= 1  # the app's pooled connection among them
    assert clerk.get("/inbox/mine").status_code == 200
    assert clerk.get("/catalog/").status_code == 200
