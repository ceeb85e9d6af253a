"""Database set-up: the declarative Base, engines and sessions.

SQLite (the embedded default, ``instance/govshare.db``) runs in WAL mode and starts a command's
transaction with ``BEGIN IMMEDIATE`` so that two writers queue behind each other instead of one
failing half-way; a read-only request's transaction reads without a lock (:func:`reads_first`,
:func:`configure_sqlite`). PostgreSQL (psycopg 3) is chosen with ``DATABASE_URL``. Flask-SQLAlchemy uses
:class:`Base` as its ``model_class``; sessions that run commands come from
:meth:`engine.app.Engine.sessions`.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, Table, bindparam, create_engine, event, insert
from sqlalchemy import inspect as inspect_
from sqlalchemy import update as update_
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import (
    MANYTOONE,
    DeclarativeBase,
    Mapper,
    Session,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def default_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return normalize_url(url)
    path = Path(os.environ.get("GOVSHARE_INSTANCE", "instance")).resolve() / "govshare.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def engine_options(url: str) -> dict[str, Any]:
    """The options every engine of the application is created with (``make_engine`` and the web
    app's Flask-SQLAlchemy engine alike).

    PostgreSQL connections are checked before each use (``pool_pre_ping``): a connection the
    server dropped (restart, fail-over, ``pg_terminate_backend``, an idle timeout of a proxy) is
    replaced before a request runs on it, so the request never fails with a 500 for it.

    Statements stay prepared: psycopg prepares a statement on the server after its
    ``prepare_threshold`` (5) executions on a connection and forgets every one of them on a
    ``ROLLBACK`` (it then sends ``DEALLOCATE ALL``). A connection returned to the pool is reset
    with a rollback only when its transaction is still open; psycopg sends nothing for a
    connection already committed (``reset_on_return="rollback"`` stays, so a connection handed
    back mid-transaction never commits by accident). Commands commit, and read-only web requests
    commit too (:func:`end_read_only`), so a pooled connection keeps its prepared statements."""
    if normalize_url(url).startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_reset_on_return": "rollback"}


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = normalize_url(url or default_url())
    engine = create_engine(url, **{**engine_options(url), **kwargs})
    if url.startswith("sqlite"):
        configure_sqlite(engine)
    watch_writes(engine)
    return engine


BUSY_SECONDS = 30  # how long a writer waits for the write lock before it fails


class WriteGate:
    """The writers of one SQLite file in this process, first come first served.

    SQLite's own wait for its write lock (``busy_timeout``) polls with sleeps of up to 100 ms, so a
    writer that just arrived often overtakes one that has waited for seconds; under load that
    gave the demo server multi-second tails. Writers of this process queue here instead and are
    woken in turn; SQLite's lock still serializes them with other processes (the CLI, a worker).
    A thread that already holds the gate (a second connection of its own) does not wait for it,
    and a writer that waited ``timeout`` goes on to SQLite's lock as before."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._holder: int | None = None  # the thread holding the gate

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._cond:
            if self._holder == me:
                return False
            ticket = object()
            self._queue.append(ticket)
            turn = self._cond.wait_for(
                lambda: self._holder is None and self._queue[0] is ticket, timeout
            )
            self._queue.remove(ticket)
            if turn:
                self._holder = me
            else:
                self._cond.notify_all()  # the next in the queue may be first now
            return turn

    def release(self) -> None:
        with self._cond:
            self._holder = None
            self._cond.notify_all()


_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()
_MODE = "govshare.sqlite_transaction"  # "read": deferred, no write yet; "write": holds the lock
_HELD = "govshare.sqlite_gate"  # the gate this connection holds
_SQLITE = "govshare.sqlite_transactions"  # how this connection's transactions begin


def write_gate(database: str | None) -> WriteGate | None:
    """The gate of one SQLite file (None for an in-memory database: one connection only)."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    key = os.path.realpath(database)
    with _GATES_LOCK:
        return _GATES.setdefault(key, WriteGate())


def _locks(context: Any) -> bool:
    """Is this read a SELECT … FOR UPDATE (SQLite drops the clause; the lock is ours)?"""
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


_READS_FIRST: ContextVar[bool] = ContextVar("govshare_sqlite_reads_first", default=False)


def reads_first(on: bool) -> None:
    """Declare whether the transactions this thread (context) begins from now on are expected
    only to read: the web app says so for GET and HEAD requests. On SQLite such a transaction
    reads without any lock and takes the write lock only if it writes after all (see
    :func:`configure_sqlite`); every other transaction takes it when it begins. No effect on
    PostgreSQL."""
    _READS_FIRST.set(on)


_WROTE = "govshare.wrote"
_READS = ("SELECT", "SHOW")


def watch_writes(engine: Engine) -> None:
    """Note on each connection whether its transaction ran anything but a plain read, so that
    :func:`end_read_only` can tell a read-only transaction (safe to commit) from one whose
    writes the caller chose not to commit. Anything not starting with SELECT counts as a write
    (savepoints and ``WITH`` included): a doubtful transaction is rolled back, as before.

    The same one look at each statement serves SQLite's transactions expected only to read
    (:func:`configure_sqlite`): their first write, or ``SELECT … FOR UPDATE``, takes the lock."""
    if event.contains(engine, "before_cursor_execute", _note_write):
        return
    event.listen(engine, "before_cursor_execute", _note_write)
    event.listen(engine, "begin", _forget_writes)


def _note_write(
    conn: Connection, cursor: Any, statement: str, _params: Any, context: Any, _many: bool
) -> None:
    reads = statement.lstrip()[:6].upper().startswith(_READS)
    if not reads:
        conn.info[_WROTE] = True
    if conn.info.get(_MODE) == "read" and (not reads or _locks(context)):
        conn.info[_SQLITE].write_after_reading(conn, cursor)


def _forget_writes(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


def end_read_only(session: Session) -> None:
    """End the session's transaction: COMMIT when it only read (PostgreSQL then keeps the
    connection's prepared statements), ROLLBACK when it wrote anything it did not commit
    (what closing the session did before). Never raises; the session is left closed-ready."""
    transaction = session.get_transaction()
    if transaction is None:
        return
    # the connections the transaction holds (none: it never reached the database)
    held = [c for c, *_ in getattr(transaction, "_connections", {}).values()]
    try:
        pending = session.new or session.dirty or session.deleted
        if (
            held
            and transaction.is_active
            and not pending
            and not any(c.info.get(_WROTE) for c in held)
        ):
            session.commit()
            return
    except Exception:  # a failed transaction: what remains is rolled back below
        pass
    session.rollback()


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and writers that take turns while readers never wait.

    A transaction of a command (the default) starts with ``BEGIN IMMEDIATE``: it holds SQLite's
    write lock from its first read to its end, so two writers queue behind each other instead of
    one failing half-way, and what a command read stays true until it commits (SQLite has no
    ``SELECT … FOR UPDATE``). The writers of one process queue at its :class:`WriteGate`, first
    come first served.

    A transaction expected only to read (:func:`reads_first`: a GET request) starts deferred
    (``BEGIN``: a snapshot, no lock), so it never waits for a writer nor makes one wait. If it
    writes after all (a session's or a token's last use, kept once a minute), then before its
    first write (or ``SELECT … FOR UPDATE``) it queues at the gate, ends its snapshot (nothing
    was written in it) and begins again with ``BEGIN IMMEDIATE``; its earlier reads then have
    PostgreSQL's read-committed meaning. (Upgrading the snapshot in place instead would fail
    with SQLITE_BUSY whenever another writer committed in between.)"""
    transactions = _SqliteTransactions(write_gate(engine.url.database))
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", transactions.begin)
    watch_writes(engine)  # its look at each statement upgrades a reading transaction
    event.listen(engine, "commit", _sqlite_commit)
    event.listen(engine, "rollback", _sqlite_rollback)
    event.listen(engine, "reset", _sqlite_reset)
    event.listen(engine, "invalidate", _sqlite_invalidate)


class _SqliteTransactions:
    """How the transactions of one SQLite engine begin (see :func:`configure_sqlite`)."""

    def __init__(self, gate: WriteGate | None) -> None:
        self.gate = gate

    def _queue(self, conn: Connection) -> None:
        conn.info[_MODE] = "write"
        if self.gate is not None and self.gate.acquire(BUSY_SECONDS):
            conn.info[_HELD] = self.gate

    def begin(self, conn: Connection) -> None:
        conn.info.pop(_MODE, None)
        conn.info[_SQLITE] = self
        if _READS_FIRST.get():
            conn.exec_driver_sql("BEGIN")
            conn.info[_MODE] = "read"
        else:
            self._queue(conn)
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def write_after_reading(self, conn: Connection, cursor: Any) -> None:
        """A transaction begun to read is about to write: queue, then take the write lock."""
        self._queue(conn)
        cursor.execute("COMMIT")  # the read snapshot: nothing was written in it
        cursor.execute("BEGIN IMMEDIATE")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
    cur.close()


def _sqlite_end(info: dict, finish: Any) -> None:
    """The transaction ends: a writer ends it (``finish``) before the next one's turn."""
    info.pop(_MODE, None)
    held = info.pop(_HELD, None)
    if held is None:
        return
    try:
        finish()
    finally:
        held.release()


def _sqlite_commit(conn: Connection) -> None:
    _sqlite_end(conn.info, conn.connection.dbapi_connection.commit)  # type: ignore[union-attr]


def _sqlite_rollback(conn: Connection) -> None:
    _sqlite_end(conn.info, conn.connection.dbapi_connection.rollback)  # type: ignore[union-attr]


def _sqlite_reset(dbapi_connection: Any, record: Any, _reset_state: Any) -> None:
    _sqlite_end(record.info, dbapi_connection.rollback)


def _sqlite_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
    _sqlite_end(record.info, lambda: None)


# -- rows a command appends and nothing reads back before it ends -------------------------------
_DEFERRED = "govshare.deferred_rows"


class DeferredRows:
    """Rows appended during a block (:func:`deferring`), written when it ends with one
    multi-row ``INSERT`` per table, in the order the tables were first used (and the rows within a
    table in the order they came): audit events, outbox messages, facts and the like, which no
    one reads back before the block ends. The unit of work has nothing to track for them."""

    def __init__(self) -> None:
        self.tables: dict[Table, list[dict[str, Any]]] = {}
        self.written = False  # rows added after the write go to the session (add_row)

    def add(self, table: Table, values: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(values)

    def of(self, table: Table) -> list[dict[str, Any]]:
        """The rows of ``table`` appended and not yet written."""
        return self.tables.get(table, [])

    def write(self, session: Session) -> None:
        tables, self.tables, self.written = self.tables, {}, True
        conn = session.connection()  # plain Core: nothing for the ORM to do
        for table, rows in tables.items():
            take = _DIVERTED.get(table)
            if take is not None:
                take(session, rows)
                continue
            stmt = _INSERTS.get(table)
            if stmt is None:
                stmt = _INSERTS[table] = insert(table)
            conn.execute(stmt, _same_keys(table, rows))


_INSERTS: dict[Table, Any] = {}  # one statement object per table: its cache key is kept
# tables whose appended rows are handed to a writer of their own (the audit chain, written at
# commit: engine/audit.py) instead of being inserted
_DIVERTED: dict[Table, Callable[[Session, list[dict[str, Any]]], None]] = {}


def divert(table: Table, take: Callable[[Session, list[dict[str, Any]]], None]) -> None:
    """Hand the rows :func:`add_row` appends to ``table`` to ``take`` (with the session)."""
    _DIVERTED[table] = take


def _same_keys(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the same columns (one statement takes them all); a column a row leaves out gets
    its default, as the ORM would give it."""
    keys = {k for row in rows for k in row}
    if all(len(row) == len(keys) for row in rows):
        return rows
    return [{**{k: _column_default(table.c[k]) for k in keys - row.keys()}, **row} for row in rows]


def _column_default(column: Column[Any]) -> Any:
    """The value the ORM would give a column the row leaves out: its default, or None."""
    column_default: Any = column.default
    if column_default is None:
        return None
    if column_default.is_callable:
        return column_default.arg(None)
    return column_default.arg


@contextmanager
def deferring(session: Session) -> Iterator[DeferredRows]:
    """Within the block, :func:`add_row` appends to the rows returned; the caller writes them
    (:meth:`DeferredRows.write`) before the block ends. Nested blocks each have their own."""
    outer = session.info.get(_DEFERRED)
    rows = session.info[_DEFERRED] = DeferredRows()
    try:
        yield rows
    finally:
        if outer is None:
            session.info.pop(_DEFERRED, None)
        else:
            session.info[_DEFERRED] = outer


def deferred_rows(session: Session) -> DeferredRows | None:
    """The rows being deferred in the session (inside :func:`deferring`), or None."""
    rows = session.info.get(_DEFERRED)
    return None if rows is None or rows.written else rows


def add_row(session: Session, model: type[Base], **values: Any) -> None:
    """Insert a row of ``model`` that no one reads back in the current command: deferred to the
    command's one multi-row ``INSERT`` inside :func:`deferring`, else added to the session."""
    rows = session.info.get(_DEFERRED)
    take = _DIVERTED.get(model.__table__)  # type: ignore[call-overload]
    if take is not None and (rows is None or rows.written):
        take(session, [values])
    elif rows is None or rows.written:
        session.add(model(**values))
    else:
        rows.add(model.__table__, values)


# -- rows a command writes itself, with one Core statement each ---------------------------------
class _Written:
    """How one mapped class is written with Core: its table, columns by attribute, the primary
    key and version columns, and the two statements (built once, so compiled once)."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        table = mapper.local_table
        assert isinstance(table, Table)
        self.table = table
        self.columns: dict[str, Column[Any]] = {
            prop.key: prop.columns[0]  # type: ignore[misc]
            for prop in mapper.column_attrs
            if prop.columns[0].table is table
        }
        [self.pk] = mapper.primary_key
        self.pk_key = mapper.get_property_by_column(self.pk).key
        version = mapper.version_id_col
        self.version_key = (
            mapper.get_property_by_column(version).key if version is not None else None
        )
        where = self.pk == bindparam("_pk")
        if version is not None:
            where = where & (version == bindparam("_version"))
        # many-to-one relationships: the foreign key columns a related object set on the row
        self.parents = [
            (
                rel.key,
                [
                    (
                        mapper.get_property_by_column(local).key,
                        rel.mapper.get_property_by_column(remote).key,
                    )
                    for local, remote in rel.local_remote_pairs
                ],
            )
            for rel in mapper.relationships
            if rel.direction is MANYTOONE
        ]
        self.insert = insert(table)
        self.update = update_(table).where(where)


_WRITTEN: dict[Mapper[Any], _Written] = {}


def _written(mapper: Mapper[Any]) -> _Written:
    found = _WRITTEN.get(mapper)
    if found is None:
        found = _WRITTEN[mapper] = _Written(mapper)
    return found


def insert_object(session: Session, obj: Base) -> None:
    """Insert the new ``obj`` with one Core ``INSERT`` and place it in the session as the unit of
    work would have: its primary key set, every column loaded and committed (a column the object
    leaves out gets its default, or NULL), a versioned row at version 1, nothing pending."""
    state = inspect_(obj)
    how = _written(state.mapper)
    for rel, pairs in how.parents:  # as the flush would: the parent's key into the row
        parent = state.dict.get(rel)
        if parent is not None:
            for local, remote in pairs:
                setattr(obj, local, getattr(parent, remote))
    values: dict[str, Any] = {}
    for key, column in how.columns.items():
        if key == how.pk_key or (
            key not in state.dict and column.default is None and column.server_default is not None
        ):
            continue  # the database's to give (loaded on first use)
        value = state.dict[key] if key in state.dict else _column_default(column)
        if key == how.version_key and value is None:
            value = 1
        values[column.key] = value
        if key not in state.dict:
            setattr(obj, key, value)
    inserted = session.connection().execute(how.insert, values).inserted_primary_key
    assert inserted is not None
    setattr(obj, how.pk_key, inserted[0])
    make_transient_to_detached(obj)  # everything set counts as loaded, nothing as pending
    session.add(obj)


def update_object(session: Session, obj: Base, **values: Any) -> list[str]:
    """Write ``values`` and whatever else of the persistent ``obj`` was changed and not flushed
    with one Core ``UPDATE``, and mark them committed on the object, so that the unit of work
    has nothing left to write for it. A versioned row (``version_id_col``) is updated only at
    the version the session read and its version grows by one; when no row matches,
    :class:`~sqlalchemy.orm.exc.StaleDataError` is raised, as a flush raises it. Returns the
    attributes written (what :func:`forget_written` takes back when a savepoint rolls back)."""
    state = inspect_(obj)
    if not values and not state.modified:
        return []
    how = _written(state.mapper)
    unmodified = state.unmodified
    changed = {
        key: state.dict[key]
        for key in how.columns
        if key not in unmodified
        and key not in values
        and key in state.dict
        and state.attrs[key].history.has_changes()  # set again to the same value: unchanged
    }
    changed.update(values)
    if not changed:
        return []
    params: dict[str, Any] = {"_pk": getattr(obj, how.pk_key)}
    if how.version_key is not None:
        # the version the session read (loaded again if a rolled-back savepoint expired it)
        params["_version"] = version = getattr(obj, how.version_key)
        changed[how.version_key] = version + 1
    params.update((how.columns[key].key, value) for key, value in changed.items())
    result = session.connection().execute(how.update, params)
    if result.rowcount != 1:
        raise StaleDataError(
            f"UPDATE statement on table '{how.table.name}' expected to update 1 row(s); "
            f"{result.rowcount} were matched."
        )
    for key, value in changed.items():
        set_committed_value(obj, key, value)
    return list(changed)


def forget_written(session: Session, obj: Base, keys: list[str]) -> None:
    """After a savepoint that :func:`update_object` wrote in rolled back: the object no longer
    holds those values as the database's (they load again on first use)."""
    if keys and inspect_(obj).persistent:
        session.expire(obj, keys)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on every backend (SQLite stores naive values; we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime stored; use the injected Clock")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
