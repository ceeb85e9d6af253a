"""Statements stay prepared on a pooled PostgreSQL connection: a web request that only reads
ends in COMMIT (a ROLLBACK makes psycopg forget every prepared statement and send
``DEALLOCATE ALL``), and a request whose writes were not committed is still rolled back."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.pool import QueuePool

from engine.db import end_read_only
from engine.directory.models import Department
from tests.test_web import Browser
from web import create_app


@pytest.fixture
def one_connection_app(db_url, session_factory, clock, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's (psycopg 3)")
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "ATTACHMENT_DIR": str(tmp_path / "files"),
            "SECRET_KEY": "t",
            # one pooled connection; psycopg prepares a statement on its second execution
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "poolclass": QueuePool,
                "pool_size": 1,
                "max_overflow": 0,
                "connect_args": {"prepare_threshold": 1},
            },
        }
    )


def prepared_on_the_pooled_connection(app) -> int:
    from web import db

    with app.app_context():
        session = db.session()
        count = session.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
        session.rollback()  # the check itself leaves nothing behind but a forgotten cache
    return count


def test_two_identical_reads_leave_their_statements_prepared(one_connection_app):
    clerk = Browser(one_connection_app, "civil.clerk")
    assert clerk.get("/inbox/mine").status_code == 200
    assert clerk.get("/inbox/mine").status_code == 200
    assert prepared_on_the_pooled_connection(one_connection_app) > 0


def test_a_read_only_session_commits_and_a_writing_one_rolls_back(session_factory):
    session = session_factory()
    session.scalar(select(Department.id).limit(1))
    end_read_only(session)
    assert not session.in_transaction()

    session = session_factory()
    department = session.scalars(select(Department).limit(1)).one()
    department_id, name = department.id, department.name
    department.name = name + " (not committed)"
    session.flush()
    end_read_only(session)
    session.close()
    with session_factory() as check:
        assert check.get(Department, department_id).name == name
