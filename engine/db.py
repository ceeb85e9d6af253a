"""Database set-up: the declarative Base, engines and sessions.

SQLite (the embedded default, ``instance/govshare.db``) runs in WAL mode and starts every
transaction with ``BEGIN IMMEDIATE`` so that two writers queue behind each other instead of one
failing half-way; PostgreSQL (psycopg 3) is chosen with ``DATABASE_URL``. Flask-SQLAlchemy uses
:class:`Base` as its ``model_class``; sessions that run commands come from
:meth:`engine.app.Engine.sessions`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session
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


_WROTE = "govshare.wrote"
_READS = ("SELECT", "SHOW")


def watch_writes(engine: Engine) -> None:
    """Note on each connection whether its transaction ran anything but a plain read, so that
    :func:`end_read_only` can tell a read-only transaction (safe to commit) from one whose
    writes the caller chose not to commit. Anything not starting with SELECT counts as a write
    (savepoints and ``WITH`` included): a doubtful transaction is rolled back, as before."""
    if event.contains(engine, "before_cursor_execute", _note_write):
        return
    event.listen(engine, "before_cursor_execute", _note_write)
    event.listen(engine, "begin", _forget_writes)


def _note_write(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if not statement.lstrip()[:6].upper().startswith(_READS):
        conn.info[_WROTE] = True


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
    """WAL, foreign keys, and BEGIN IMMEDIATE so writers serialize instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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
