"""Fixtures: a migrated, seeded database (SQLite by default, PostgreSQL with DATABASE_URL),
a fake clock, and helpers that read as the officials who act."""

from __future__ import annotations

import os
import tempfile

import pytest
from sqlalchemy import text

from engine.app import build_engine
from engine.clock import FakeClock
from engine.db import make_engine, normalize_url
from engine.directory import user_by_name
from engine.directory.clients import seed_demo_clients
from engine.schema import upgrade
from engine.seed import seed_all
from engine.sharing import requests as share_requests
from engine.workflow import tasks as task_service

# Tests read messages in English (the msgids); tests of the Chinese catalog set the language.
os.environ["GOVSHARE_LANG"] = "en"
# Signing keys are sealed under this test key-encryption key (docs/trust.md); the CLI and worker
# processes tests start inherit it.
os.environ.setdefault("GOVSHARE_KEY_ENCRYPTION_KEY", "11" * 32)
# Tests (and the CLI and worker processes they start) never use a real instance folder: the
# worker's orphan sweep would otherwise judge a developer's attachments against the test database.
os.environ["GOVSHARE_INSTANCE"] = tempfile.mkdtemp(prefix="govshare-test-instance-")

SEEDED_AT = "2026-01-05T09:00:00+08:00"
# department systems (issue 14): deleted before each test, then the demo clients seeded again
CLIENT_TABLES = ["api_client_token", "api_client"]
# rows tests make, deleted before each test: these first, then the catalog rows, then the rest
DYNAMIC_TABLES = [
    "signature",
    "signing_key",
    "deadline_change",
    "deadline",
    "notification",
    "notification_preference",
    "notification_department_default",
    "notification_job_mark",
    "process_fact",
    "figure_tally",
    "incident",
    "attachment",
    "audit_event",
    "audit_checkpoint",
    "outbox",
    "delivery",
    "breach",
    "grant_use",
    "data_grant_item",
    "data_grant",
    "dossier_entry",
    "served_on_proof",
    "verification",
    "user_session",
    "sign_in_failure",
    "delegation",
]
LATER_TABLES = [
    "catalog_event",
    "evaluation_campaign",
    "project",
    "human_task",
    "process_instance",
    "counter",
    "calendar_day",
    "calendar_schedule",
    "calendar_notice",
]
# catalog rows made by a test (the seed's versions carry the note "seed")
CATALOG_CLEANUP = [
    "DELETE FROM resource_version WHERE note != 'seed'",
    "DELETE FROM catalog_term WHERE resource_id NOT IN (SELECT resource_id FROM resource_version)",
    "DELETE FROM resource WHERE id NOT IN (SELECT resource_id FROM resource_version)",
    # rule sets a test made (version 1, the 2018 measures, is the migration's)
    "DELETE FROM rule_limit WHERE rule_set_id IN (SELECT id FROM rule_set WHERE version > 1)",
    "DELETE FROM rule_set WHERE version > 1",
    # application scenarios a test added (migration 0049 seeds YYCJ001 … YYCJ011), or took out
    # of use
    "DELETE FROM use_scenario WHERE code < 'YYCJ001' OR code > 'YYCJ011'",
    "UPDATE use_scenario SET active = TRUE",
]


RESTART_KEY_SEQUENCES = (
    "SELECT setval(oid::regclass, 1, false) FROM pg_class"
    " WHERE relkind = 'S' AND relname LIKE 'business\\_key\\_%'"
)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if url:
        url = normalize_url(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'govshare.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = build_engine().sessions(engine)
    with factory() as session, session.begin():
        seed_all(session, FakeClock(SEEDED_AT), demo=True)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def clear_rows(engine) -> None:
    """Delete every row a test made (instances, tasks, facts, catalog changes …)."""
    with engine.begin() as conn:
        for table in DYNAMIC_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        for statement in CATALOG_CLEANUP:
            conn.execute(text(statement))
        for table in LATER_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE api_token SET last_used_at = NULL"))
        # the audit chain starts again (its events were deleted above)
        conn.execute(text(f"UPDATE audit_chain_head SET seq = 0, hash = '{'0' * 64}'"))
        for table in CLIENT_TABLES:  # department systems: the demo ones are seeded again
            conn.execute(text(f"DELETE FROM {table}"))
        # rule sets, calendar entries … written above with raw SQL: every process reloads them
        conn.execute(text("UPDATE reference_version SET version = version + 1"))
        if conn.dialect.name == "postgresql":  # each test's business keys start at 000001
            conn.execute(text(RESTART_KEY_SEQUENCES))


@pytest.fixture
def session_factory(engine):
    clear_rows(engine)
    factory = build_engine().sessions(engine)
    with factory() as session, session.begin():
        seed_demo_clients(session, FakeClock(SEEDED_AT))
    return factory


@pytest.fixture
def clock():
    return FakeClock("2026-09-18T10:00:00+08:00")


@pytest.fixture
def db(session_factory):
    with session_factory() as session:
        yield session


class Actors:
    """Officials acting through the services, each action its own transaction (as in the web app)."""

    def __init__(self, session_factory, clock):
        self.factory = session_factory
        self.clock = clock

    def run(self, fn, *args, **kwargs):
        with self.factory() as session, session.begin():
            return fn(session, *args, **kwargs)

    def user(self, session, username):
        return user_by_name(session, username)

    def request(self, username, **form):
        def go(session):
            inst = share_requests.start_share_request(
                session, self.clock, self.user(session, username), form
            )
            return inst.business_key

        return self.run(go)

    def open_task(self, business_key, task_name):
        def go(session):
            inst = share_requests.instance_by_key(session, business_key)
            rows = [
                t
                for t in share_requests.request_status(session, inst)["tasks"]
                if t["task"] == task_name and t["state"] == "open"
            ]
            assert rows, f"no open task {task_name} on {business_key}"
            return rows[0]["id"]

        return self.run(go)

    def complete(self, username, business_key, task_name, **data):
        task_id = self.open_task(business_key, task_name)
        return self.run(
            lambda s: task_service.complete(s, self.clock, task_id, self.user(s, username), data).id
        )

    def status(self, business_key):
        return self.run(
            lambda s: share_requests.request_status(
                s, share_requests.instance_by_key(s, business_key)
            )
        )

    def sweep(self):
        from engine.workflow.timers import sweep

        return sweep(self.factory, self.clock)


@pytest.fixture
def actors(session_factory, clock):
    return Actors(session_factory, clock)


HUKOU = dict(
    resource_code="JC-RK/0002",
    info_items=["公民身份号码", "变动类型"],
    purpose="核定城乡低保对象户籍状况",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》第十一条",
    period_start="2026-10-01",
    period_end="2027-09-30",
)
# art. 11: a resource the catalog marks not shared; requesting it opens a negotiation at once
NOT_SHARED = dict(
    resource_code="BM-GA/0003",
    info_items=["案由"],
    purpose="核查救助对象",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2026-12-31",
)
