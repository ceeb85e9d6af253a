"""Reference data (rule sets, the working calendar, the process definitions in force, the
directory) is cached per process and checked with one version query per transaction: a change
committed through any other process is seen by the next command, and a command that finds
nothing changed reads none of it again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine import refcache, rules
from engine.app import build_engine
from engine.calendar import load_calendar
from engine.calendar.models import CalendarEntry
from engine.db import make_engine
from engine.directory import active_user, department_by_slug, department_labels, user_by_name
from engine.directory.models import User
from engine.errors import NotFound
from engine.sharing import requests as share_requests
from engine.workflow.deployment import active_definition
from tests import sql_counting
from tests.conftest import HUKOU

A_WEDNESDAY = date(2026, 11, 4)
ENTERED = datetime(2026, 9, 1, tzinfo=UTC)


def statements(engine):
    # SQLite's BEGIN IMMEDIATE starts any command
    return sql_counting.statements(engine, keep=lambda s: not s.startswith("BEGIN"), flat=True)


@pytest.fixture
def other_process(db_url, session_factory):
    """Sessions on an engine of their own, as another web process or the worker has."""
    other = make_engine(db_url)
    yield build_engine().sessions(other)
    other.dispose()


def read_reference_data(session, clock):
    rules.current(session, clock)
    rules.by_version(session, 1)
    load_calendar(session)
    active_definition(session, "share_request")


def test_a_second_command_makes_one_version_query_and_no_reference_query(
    session_factory, engine, clock
):
    with session_factory() as session, session.begin():
        read_reference_data(session, clock)  # fills the cache
    with statements(engine) as seen, session_factory() as session, session.begin():
        read_reference_data(session, clock)
        read_reference_data(session, clock)  # the same transaction asks nothing again
    assert len(seen) == 1 and "reference_version" in seen[0], seen


def test_a_holiday_entered_by_another_process_is_seen_by_the_next_command(
    session_factory, other_process
):
    with session_factory() as session, session.begin():
        assert load_calendar(session).is_working_day(A_WEDNESDAY)
    with other_process() as session, session.begin():
        session.add(
            CalendarEntry(
                day=A_WEDNESDAY,
                kind="holiday",
                scope="regional",
                name="test holiday",
                reference="test",
                entered_at=ENTERED,
            )
        )
    with session_factory() as session, session.begin():
        assert not load_calendar(session).is_working_day(A_WEDNESDAY)


def test_a_change_rolled_back_leaves_the_cache_as_it_was(session_factory):
    with session_factory() as session:
        session.begin()
        session.add(
            CalendarEntry(
                day=A_WEDNESDAY,
                kind="holiday",
                scope="regional",
                name="never committed",
                reference="test",
                entered_at=ENTERED,
            )
        )
        session.flush()
        assert not load_calendar(session).is_working_day(A_WEDNESDAY)  # sees its own change
        session.rollback()
    with session_factory() as session, session.begin():
        assert load_calendar(session).is_working_day(A_WEDNESDAY)


def test_a_definition_activated_by_another_process_is_the_one_started_next(
    session_factory, other_process
):
    with session_factory() as session, session.begin():
        before = active_definition(session, "share_request")
        before_id = before.id
        assert before.forms  # a cached definition has its columns loaded
    with other_process() as session, session.begin():
        definition = active_definition(session, "share_request")
        definition.name = definition.name + " (renamed)"
    with session_factory() as session, session.begin():
        after = active_definition(session, "share_request")
        assert after.id == before_id and after.name.endswith("(renamed)")
        after.name = after.name.removesuffix(" (renamed)")
    refcache.forget()


def test_a_second_start_reads_no_reference_data(session_factory, engine, clock):
    def start():
        with session_factory() as session, session.begin():
            with statements(engine) as seen:  # the whole transaction, the user's lookup included
                user = user_by_name(session, "civil.clerk")
                share_requests.start_share_request(session, clock, user, HUKOU)
        return seen

    start()
    seen = start()
    reference = ("division", "department", "department_name", "rule_set", "rule_limit")
    reference += ("calendar_", "process_definition", "app_user")
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert "reference_version" in reads[0]
    assert len([s for s in seen if "reference_version" in s]) == 1
    assert not [s for s in seen if any(f"FROM {table} " in f"{s} " for table in reference)], seen


def test_a_department_renamed_by_another_process_is_named_anew_by_the_next_command(
    session_factory, other_process
):
    with session_factory() as session, session.begin():
        dept_id = department_by_slug(session, "edu").id
        before = department_labels(session, [dept_id])[dept_id].zh
    with other_process() as session, session.begin():
        department = department_by_slug(session, "edu")
        department.name = before + "（测试）"
    try:
        with session_factory() as session, session.begin():
            assert department_labels(session, [dept_id])[dept_id].zh == before + "（测试）"
    finally:
        with other_process() as session, session.begin():
            department_by_slug(session, "edu").name = before


def test_an_account_deactivated_by_another_process_signs_out_at_the_next_request(
    session_factory, other_process
):
    with session_factory() as session, session.begin():
        user_id = user_by_name(session, "civil.clerk").id
        assert active_user(session, user_id).username == "civil.clerk"
    with other_process() as session, session.begin():
        user_by_name(session, "civil.clerk").active = False
    try:
        with session_factory() as session, session.begin():
            assert active_user(session, user_id) is None
    finally:
        with other_process() as session, session.begin():
            session.get(User, user_id).active = True


def test_an_account_deactivated_by_another_process_is_unknown_by_name_at_the_next_command(
    session_factory, other_process
):
    """The CLI and the notifications find officials by user name from the directory cache; the
    next command of every process sees a change made by another."""
    with session_factory() as session, session.begin():
        user_id = user_by_name(session, "civil.clerk").id  # now cached in this process
    with other_process() as session, session.begin():
        session.get(User, user_id).active = False
    try:
        with session_factory() as session, session.begin(), pytest.raises(NotFound):
            user_by_name(session, "civil.clerk")
    finally:
        with other_process() as session, session.begin():
            session.get(User, user_id).active = True
