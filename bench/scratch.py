"""The benchmarks' own databases: created for the run and dropped after it, never an existing one.

Without ``DATABASE_URL`` (or with an SQLite one) a benchmark works on a fresh SQLite file in a
temporary folder. With a PostgreSQL ``DATABASE_URL`` it creates ``govshare_bench_<label>_<random>``
on that server, works there and drops it at the end: the database the URL names is only used to
connect to the server and is never written to.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import make_url, pool, text

from engine.db import make_engine, normalize_url

# the benchmarks' databases are their own: the signing keys made in them are sealed under a
# key-encryption key made for the run, unless one is set (docs/trust.md)
os.environ.setdefault("GOVSHARE_KEY_ENCRYPTION_KEY", secrets.token_hex(32))


@contextmanager
def scratch_database(label: str) -> Iterator[str]:
    """The URL of an empty database of this run's own, removed when the block ends."""
    server = normalize_url(os.environ.get("DATABASE_URL") or "sqlite://")
    if not server.startswith("postgresql"):
        folder = tempfile.mkdtemp(prefix=f"govshare-bench-{label}-")
        try:
            yield f"sqlite:///{folder}/bench.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"govshare_bench_{label}_{secrets.token_hex(4)}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:  # FORCE: the benchmark's own pools may still hold it
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
