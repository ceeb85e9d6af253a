"""Reference data cached per process, checked against one version number per kind.

Departments, divisions and users' display data (``directory``), the working calendar
(``calendar``), the rule sets (``rules``) and the process definitions in force
(``definitions``) change rarely and are read by nearly every command. Each kind has a row in
``reference_version``; every change to a watched table bumps its kind's number in the same
transaction (an ORM flush or an ORM ``update()``/``delete()`` on a watched class, see
:func:`watch`), so a change committed by any process is seen by the next command of every
other process. A command reads all the numbers with one query, once per transaction
(:func:`versions`), and a cached value is used while its kind's number is unchanged
(:func:`cached`).

What the caller may rely on: a value returned by :func:`cached` was loaded at the current version
of its kind or later; a transaction that changed a kind never stores into the cache (its change
may still roll back) and reads that kind from the database itself. Raw SQL writes on a watched
table bypass the bump: call :func:`bump` next to them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar, cast

from sqlalchemy import Integer, String, Table, event, inspect, select, update
from sqlalchemy.orm import (
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    make_transient_to_detached,
    mapped_column,
    scoped_session,
)

from engine.db import Base

T = TypeVar("T")
KINDS = ("directory", "calendar", "rules", "definitions", "scenarios")


class ReferenceVersion(Base):
    """One row per kind of reference data; its number grows with every committed change."""

    __tablename__ = "reference_version"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


# watched class -> (kind, the attributes whose change matters; None: all of them)
_WATCHED: dict[type, tuple[str, frozenset[str] | None]] = {}
# (database URL, kind, key) -> (version, value)
_CACHE: dict[tuple[str, str, Hashable], tuple[int, Any]] = {}
_CACHE_LIMIT = 4096
_INFO = "govshare.reference_versions"


class _Seen:
    """What one transaction of a session read of and did to the versions."""

    __slots__ = ("transaction", "versions", "bumped")

    def __init__(self, transaction: object, versions: dict[str, int] | None) -> None:
        self.transaction = transaction
        self.versions = versions
        self.bumped: set[str] = set()


def watch(kind: str, cls: type, attributes: Iterable[str] | None = None) -> None:
    """Bump ``kind`` whenever a row of ``cls`` is added, deleted or changed (only a change of
    one of ``attributes`` counts, when given: a user's sign-in time is no display data)."""
    assert kind in KINDS, kind
    _WATCHED[cls] = (kind, frozenset(attributes) if attributes is not None else None)


def _seen(session: Session) -> _Seen:
    if isinstance(session, scoped_session):  # the web's request session
        session = session()
    transaction = session.get_transaction()
    seen = session.info.get(_INFO)
    if seen is None or transaction is None or seen.transaction is not transaction:
        seen = _Seen(transaction, None)
        if transaction is not None:
            session.info[_INFO] = seen
    return seen


def versions(session: Session) -> Mapping[str, int]:
    """The version of every kind, read once per transaction (one query)."""
    seen = _seen(session)
    if seen.versions is None:
        rows = session.execute(select(ReferenceVersion.kind, ReferenceVersion.version)).all()
        seen = _seen(session)  # the query may have begun the transaction
        seen.versions = {kind: 0 for kind in KINDS} | {k: v for k, v in rows}
    return seen.versions


def cached(session: Session, kind: str, key: Hashable, load: Callable[[], T]) -> T:
    """The value ``load()`` gives for ``key``, from this process's cache while ``kind`` is
    unchanged; loaded (and kept) again after any change to ``kind``."""
    if session.autoflush:  # as a query would: a pending change bumps its kind first
        session.flush()
    version = versions(session)[kind]
    if kind in _seen(session).bumped:  # changed in this transaction: read it as it now is
        return load()
    slot = (_database(session), kind, key)
    hit = _CACHE.get(slot)
    if hit is not None and hit[0] == version:
        return hit[1]
    value = load()
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[slot] = (version, value)
    return value


def fresh_rows(session: Session, cls: type, *where: Any) -> list[dict[str, Any]]:
    """The rows of ``cls`` matching ``where`` as the database holds them now (never the copies
    the session already holds, which may be older than the version just read): column attribute
    -> value, deferred columns left out (they load on first use of a row made by :func:`attach`).
    """
    mapper: Mapper[Any] = inspect(cls)
    attributes = [a for a in mapper.column_attrs if not a.deferred]
    rows = session.execute(select(*[getattr(cls, a.key) for a in attributes]).where(*where))
    keys = [a.key for a in attributes]
    return [dict(zip(keys, row, strict=True)) for row in rows]


def attach(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """A row of ``cls`` made from cached ``values`` (see :func:`fresh_rows`) and placed in the
    session without a query (the session's own copy when it already holds that row). Mutable
    values are shared with the cache: treat them as read-only."""
    mapper = inspect(cls)
    identity = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    present = session.identity_map.get(identity)
    if present is not None:  # the session's own copy, with whatever it changed
        return present
    row = cls(**values)
    make_transient_to_detached(row)  # loaded as of the cached values, nothing pending
    session.add(row)  # persistent in the session as it is (no copy made, as merge would)
    return row


def bump(session: Session, *kinds: str) -> None:
    """Mark ``kinds`` changed in the session's transaction: their numbers grow on commit."""
    seen = _seen(session)
    new = [k for k in kinds if k not in seen.bumped]
    if not new:
        return
    connection = session.connection()
    seen = _seen(session)
    table = cast(Table, ReferenceVersion.__table__)
    for kind in new:
        done = connection.execute(
            update(table).where(table.c.kind == kind).values(version=table.c.version + 1)
        )
        if done.rowcount == 0:  # a kind the migration did not know: its first change
            connection.execute(table.insert().values(kind=kind, version=1))
    seen.bumped.update(new)
    seen.versions = None  # read again: this transaction sees its own numbers


def forget() -> None:
    """Empty this process's cache (tests that write watched tables with raw SQL)."""
    _CACHE.clear()


_URLS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _database(session: Session) -> str:
    """The database's URL (the cache's key), rendered once per engine."""
    engine = session.get_bind().engine
    url = _URLS.get(engine)
    if url is None:
        url = _URLS[engine] = str(engine.url)
    return url


def _changed_kinds(session: Session) -> set[str]:
    kinds: set[str] = set()
    for obj in (*session.new, *session.deleted):
        watched = _WATCHED.get(type(obj))
        if watched is not None:
            kinds.add(watched[0])
    for obj in session.dirty:
        watched = _WATCHED.get(type(obj))
        if watched is None or watched[0] in kinds:
            continue
        kind, attributes = watched
        state = inspect(obj)
        names = attributes if attributes is not None else state.mapper.column_attrs.keys()
        if any(state.attrs[name].history.has_changes() for name in names):
            kinds.add(kind)
    return kinds


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    if _WATCHED:
        kinds = _changed_kinds(session)
        if kinds:
            bump(session, *sorted(kinds))


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert) or not _WATCHED:
        return
    mapper = state.bind_mapper
    watched = _WATCHED.get(mapper.class_) if mapper is not None else None
    if watched is not None:
        bump(state.session, watched[0])
