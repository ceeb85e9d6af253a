"""Business keys are numbered per prefix and year without a lock held across a command:
PostgreSQL takes them from a sequence per year, SQLite from a counter row (its writers queue
anyway)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.directory import user_by_name
from engine.sharing import requests as share_requests
from engine.workflow import business_keys
from tests.conftest import HUKOU


def test_keys_are_consecutive_within_a_year(actors):
    keys = [actors.request("civil.clerk", **HUKOU) for _ in range(3)]
    assert keys == ["GX-2026-000001", "GX-2026-000002", "GX-2026-000003"]


def test_a_new_year_starts_its_own_numbering(actors, clock):
    actors.request("civil.clerk", **HUKOU)
    clock.set("2027-01-04T10:00:00+08:00")
    assert actors.request("civil.clerk", **HUKOU) == "GX-2027-000001"
    assert actors.request("civil.clerk", **HUKOU) == "GX-2027-000002"


def test_a_years_sequence_continues_after_the_keys_already_stored(actors, engine, clock):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite numbers keys with its counter row")
    clock.set("2031-03-02T10:00:00+08:00")  # a year no other test uses
    assert actors.request("civil.clerk", **HUKOU) == "GX-2031-000001"
    with engine.begin() as conn:  # as after a restore: the keys are there, the sequence is not
        conn.execute(text("DROP SEQUENCE business_key_gx_2031"))
    business_keys._SEQUENCES.clear()
    assert actors.request("civil.clerk", **HUKOU) == "GX-2031-000002"


def test_a_running_server_continues_the_keys_after_a_restore_dropped_the_sequence(
    actors, engine, clock
):
    """The server keeps running through ``govshare restore`` of a backup taken before the year's
    sequence was made: its next start makes the sequence again after the keys stored, rather
    than failing on the one it knew."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite numbers keys with its counter row, restored with the database")
    clock.set("2032-03-02T10:00:00+08:00")  # a year no other test uses
    assert actors.request("civil.clerk", **HUKOU) == "GX-2032-000001"
    assert actors.request("civil.clerk", **HUKOU) == "GX-2032-000002"
    with engine.begin() as conn:  # the restore, in another process: this one still knows it
        conn.execute(text("DROP SEQUENCE business_key_gx_2032"))
    assert actors.request("civil.clerk", **HUKOU) == "GX-2032-000003"
    assert actors.request("civil.clerk", **HUKOU) == "GX-2032-000004"


def test_a_start_left_open_does_not_hold_up_another_start(session_factory, engine, clock):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: a second start waits for the first by design")
    first = session_factory()
    try:
        first.begin()
        held = share_requests.start_share_request(
            first, clock, user_by_name(first, "civil.clerk"), HUKOU
        )
        # the first command keeps its transaction open; the second must not wait for it
        with session_factory() as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '3s'"))
            other = share_requests.start_share_request(
                second, clock, user_by_name(second, "civil.clerk"), HUKOU
            )
            assert other.business_key != held.business_key
        assert held.business_key == "GX-2026-000001"
        assert other.business_key == "GX-2026-000002"
    finally:
        first.rollback()
        first.close()
