"""SQLite: a transaction expected only to read (a GET request) never waits for the write lock and
may still write; commands hold the lock from their first read; writers of one process take
turns first come first served (engine/db.py, docs/performance.md)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from engine.db import WriteGate, make_engine, reads_first


@pytest.fixture
def sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'locks.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
    yield engine
    reads_first(False)
    engine.dispose()


def test_a_read_first_transaction_reads_while_a_command_holds_the_write_lock(sqlite):
    writer = sqlite.connect()
    writer.begin()
    writer.execute(text("INSERT INTO note (body) VALUES ('uncommitted')"))
    reads_first(True)
    started = time.monotonic()
    with sqlite.connect() as reader, reader.begin():
        count = reader.execute(text("SELECT count(*) FROM note")).scalar_one()
    assert (count, time.monotonic() - started < 1) == (0, True)
    writer.rollback()
    writer.close()


def test_a_read_first_transaction_that_writes_after_another_commit_succeeds(sqlite):
    reads_first(True)
    with sqlite.connect() as reader, reader.begin():
        assert reader.execute(text("SELECT count(*) FROM note")).scalar_one() == 0
        reads_first(False)
        with sqlite.begin() as other:  # commits after the reader's snapshot was taken
            other.execute(text("INSERT INTO note (body) VALUES ('other')"))
        reader.execute(text("INSERT INTO note (body) VALUES ('mine')"))  # no SQLITE_BUSY
        assert reader.execute(text("SELECT count(*) FROM note")).scalar_one() == 2
    with sqlite.connect() as conn:
        assert conn.execute(text("SELECT body FROM note ORDER BY id")).scalars().all() == [
            "other",
            "mine",
        ]


def test_commands_reading_then_writing_never_lose_an_update(sqlite):
    with sqlite.begin() as conn:
        conn.execute(text("INSERT INTO note (id, body) VALUES (1, '0')"))

    def bump():
        for _ in range(20):
            with sqlite.begin() as conn:  # a command: the lock from its first read
                value = int(conn.execute(text("SELECT body FROM note WHERE id = 1")).scalar_one())
                conn.execute(text("UPDATE note SET body = :v WHERE id = 1"), {"v": str(value + 1)})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with sqlite.connect() as conn:
        assert conn.execute(text("SELECT body FROM note WHERE id = 1")).scalar_one() == "80"


def test_writers_take_turns_in_the_order_they_came():
    gate = WriteGate()
    assert gate.acquire(1)
    order: list[int] = []

    def writer(n: int) -> None:
        assert gate.acquire(10)
        order.append(n)
        gate.release()

    threads = []
    for n in range(5):
        threads.append(threading.Thread(target=writer, args=(n,)))
        threads[-1].start()
        time.sleep(0.05)  # each one queued before the next comes
    gate.release()
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3, 4]


def test_a_thread_holding_the_gate_does_not_wait_for_it_again():
    gate = WriteGate()
    assert gate.acquire(1)
    started = time.monotonic()
    assert gate.acquire(5) is False  # a second connection of its own: SQLite's lock decides
    assert time.monotonic() - started < 1
    gate.release()
