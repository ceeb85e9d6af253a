"""Business keys: ``GX-2026-000123``, numbered per prefix and year (Asia/Shanghai).

PostgreSQL takes each number from a SEQUENCE of its own per prefix and year
(``business_key_gx_2026``): ``nextval`` holds no lock, so concurrent starts never wait for each
other, and it costs one statement inside the command's own transaction. A sequence does not roll
back: a start that is rolled back leaves a gap in the year's numbering (official numbering
allows gaps; keys are never reused). The year's sequence is made on its first use, on a short
connection of its own, starting after the highest key of that year already stored (or the old
``counter`` row), so keys continue across an upgrade or a restore.

SQLite keeps the ``counter`` table: its writers queue on ``BEGIN IMMEDIATE`` for the whole
command anyway, so the counter row adds no wait of its own.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, create_engine, func, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI, Clock
from engine.db import is_postgres
from engine.workflow.handlers import handlers_of
from engine.workflow.models import Counter, ProcessInstance

# sequences known to exist, per database URL (an optimisation: a miss re-checks and creates; a
# known one found missing is forgotten and made again, see _nextval)
_SEQUENCES: set[tuple[str, str]] = set()
_KEY_POOLS: dict[str, Engine] = {}


def next_business_key(session: Session, clock: Clock, process_id: str) -> str:
    """The next business key of the year for ``process_id``, e.g. ``GX-2026-000123``."""
    year = clock.now().astimezone(SHANGHAI).year
    prefix = handlers_of(session).key_prefixes.get(process_id, "BP")
    name = f"{prefix}-{year}"
    if is_postgres(session):
        value = _nextval(session, name)
    else:
        value = _increment(session.connection(), name)
    return f"{name}-{int(value or 0):06d}"


def _nextval(session: Session, name: str) -> int:
    """``nextval`` of the year's sequence, made if need be. The sequence is named through
    ``to_regclass``, which is NULL where it does not exist (and ``nextval(NULL)`` is NULL, with
    no error to abort the command's transaction): a sequence known to this process but gone
    since (a restore of a backup taken before it was made, while the server kept running) is
    made again after the keys stored, and this key taken from it on the connection that made
    it (the command's own connection may still hold the name as missing until its transaction
    ends; a sequence does not roll back either way)."""
    sequence = _ensure_sequence(session, name)
    value = session.scalar(text("SELECT nextval(to_regclass(:s))"), {"s": sequence})
    if value is None:
        forget()
        sequence = _ensure_sequence(session, name)
        with _key_pool(session).connect() as conn:
            value = conn.scalar(text(f"SELECT nextval('{sequence}')"))
            conn.commit()
    return int(value or 0)


def forget() -> None:
    """Forget the sequences known to exist (``govshare restore`` replaced the database): each
    is looked up again, and made if missing, on its next use."""
    _SEQUENCES.clear()


def sequence_name(name: str) -> str:
    """The PostgreSQL sequence of the keys ``name`` (``GX-2026``): ``business_key_gx_2026``."""
    return "business_key_" + re.sub(r"[^a-z0-9]+", "_", name.lower())


def _ensure_sequence(session: Session, name: str) -> str:
    sequence = sequence_name(name)
    pool = _key_pool(session)
    known = (pool.url.render_as_string(hide_password=False), sequence)
    if known in _SEQUENCES:
        return sequence
    for attempt in range(3):
        try:
            with pool.connect() as conn, conn.begin():
                if conn.scalar(text("SELECT to_regclass(:s)"), {"s": sequence}) is None:
                    start = _highest_key(conn, name) + 1
                    conn.execute(
                        text(f"CREATE SEQUENCE IF NOT EXISTS {sequence} START WITH {start}")
                    )
            break
        except DBAPIError:  # two first starts of the year raced to create it: look again
            if attempt == 2:
                raise
    _SEQUENCES.add(known)
    return sequence


def _highest_key(conn: Connection, name: str) -> int:
    """The highest number already given for ``name``: in stored instances or the old counter."""
    last = conn.scalar(
        select(func.max(ProcessInstance.business_key)).where(
            ProcessInstance.business_key.like(f"{name}-%")
        )
    )
    counted = conn.scalar(select(Counter.value).where(Counter.name == name)) or 0
    stored = int(last.rsplit("-", 1)[1]) if last and last.rsplit("-", 1)[1].isdigit() else 0
    return max(stored, counted)


def _key_pool(session: Session) -> Engine:
    """A small connection pool of its own for creating a year's sequence: a command holding a
    connection of the main pool never waits for a second one from it. Kept per database URL."""
    url = session.get_bind().engine.url
    name = url.render_as_string(hide_password=False)
    pool = _KEY_POOLS.get(name)
    if pool is None:
        pool = _KEY_POOLS.setdefault(
            name, create_engine(url, pool_size=1, max_overflow=4, pool_pre_ping=True)
        )
    return pool


def _increment(conn: Connection, name: str) -> int:
    value = conn.scalar(
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    if value is None:  # the year's first key
        conn.execute(sqlite_insert(Counter).values(name=name, value=0).on_conflict_do_nothing())
        return _increment(conn, name)
    return int(value)
