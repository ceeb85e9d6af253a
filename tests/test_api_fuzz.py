"""Fuzzing the JSON API from its own OpenAPI document (schemathesis): every operation, with
valid and invalid input, answers no server error, only statuses it documents, bodies that
conform to its schemas, and writes nothing when it refuses the input.

Bounded: ``GOVSHARE_FUZZ_EXAMPLES`` examples per operation and phase (default 25) and
``GOVSHARE_FUZZ_SECONDS`` for the whole run (default 60; each operation gets its share; cases
past it are generated but not sent). Run it alone with ``pytest tests/test_api_fuzz.py``.
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from sqlalchemy import text

from tests.conftest import HUKOU
from web import create_app
from web.openapi import document

FUZZ_EXAMPLES = int(os.environ.get("GOVSHARE_FUZZ_EXAMPLES", "25"))
FUZZ_SECONDS = float(os.environ.get("GOVSHARE_FUZZ_SECONDS", "60"))
# the tables a command of the API may add rows to
WRITTEN = (
    "process_instance",
    "human_task",
    "audit_event",
    "process_fact",
    "incident",
    "outbox",
    "breach",
    "data_grant",
    "verification",
    "served_on_proof",
    "attachment",
    "dossier_entry",
)


class Fuzzing:
    """The app under test, the token it is called with, and the bounds of the run."""

    def __init__(self, app, engine, operations: int):
        self.app = app
        self.engine = engine
        self.headers = {"Authorization": "Bearer demo-civil.clerk"}
        self.share = FUZZ_SECONDS / operations
        self.started: dict[str, float] = {}
        self.sent: dict[str, int] = {}

    def in_time(self, label: str) -> bool:
        start = self.started.setdefault(label, time.monotonic())
        return time.monotonic() - start < self.share

    def rows(self) -> dict[str, int]:
        # the token's hourly use record says who called, not what changed (docs/security.md)
        where = {"audit_event": " WHERE kind <> 'api_token_used'"}
        counts = " UNION ALL ".join(
            f"SELECT '{t}', count(*) FROM {t}{where.get(t, '')}" for t in WRITTEN
        )
        with self.engine.connect() as conn:
            return dict(conn.execute(text(counts)).all())


@pytest.fixture
def fuzzing(db_url, engine, actors):
    from tests.test_verification import granted

    granted(actors)  # civil.clerk holds a grant on JC-RK/0002: checks and reports go deep
    actors.request("civil.clerk", **HUKOU)  # an open task and a request to read
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_CLOCK": actors.clock, "SECRET_KEY": "t"}
    )
    operations = sum(1 for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")) + 1
    APP.app = app
    yield Fuzzing(app, engine, operations)
    APP.app = None
    with app.app_context():
        from web import db

        db.engine.dispose()


class AppUnderTest:
    """The WSGI app schemathesis calls: the app the running test made (on the test database)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


APP = AppUnderTest()
# the document as the app serves it (made from the code, it needs no database)
schema = schemathesis.openapi.from_dict(
    document(create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "t"}))
)
schema.app = APP


@schema.hook
def filter_query(context, query):
    """An empty list as a parameter's value is not sent at all (the HTTP client drops it), so a
    case that counts on it to break the schema would be sent as a valid one."""
    return query is None or all(value != [] for value in query.values())


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_survives_fuzzing(case, fuzzing):
    label = case.operation.label
    if not fuzzing.in_time(label):
        return
    before = fuzzing.rows()
    # every check but "schema-valid data is accepted": the services' own rules (a period that
    # ends before it starts, an info item the entry does not have) refuse such data with a 422
    response = case.call_and_validate(
        headers=fuzzing.headers, excluded_checks=[checks.positive_data_acceptance]
    )
    fuzzing.sent[label] = fuzzing.sent.get(label, 0) + 1
    if 400 <= response.status_code < 500:
        assert fuzzing.rows() == before, f"{label} answered {response.status_code} but wrote rows"
