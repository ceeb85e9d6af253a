"""The benchmarks work on a database of their own and never touch the one DATABASE_URL names."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from engine.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def load_scratch():
    spec = importlib.util.spec_from_file_location("bench_scratch", ROOT / "bench" / "scratch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def marked(engine):
    """A marker table with one row in the database DATABASE_URL names (the test database)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_marker (note VARCHAR(20))"))
        conn.execute(text("INSERT INTO bench_marker VALUES ('keep me')"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_marker"))


def bench_databases(engine) -> list[str]:
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        return list(
            conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'govshare_bench_%'")
            )
        )


def test_the_engine_benchmark_leaves_the_named_database_untouched(marked, db_url):
    before = bench_databases(marked)
    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "bench/engine.py", "2", "--rounds", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "govshare/floor" in done.stdout
    with marked.connect() as conn:
        assert conn.scalar(text("SELECT note FROM bench_marker")) == "keep me"
    assert bench_databases(marked) == before  # its own database is gone again


def test_a_scratch_database_is_new_and_empty_and_removed_afterwards(marked, db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    with load_scratch().scratch_database("test") as url:
        assert url != db_url
        scratch = make_engine(url)
        assert inspect(scratch).get_table_names() == []
        with scratch.begin() as conn:
            conn.execute(text("CREATE TABLE bench_marker (note VARCHAR(20))"))
        scratch.dispose()
    assert "bench_marker" in inspect(marked).get_table_names()
    assert url.rsplit("/", 1)[-1] not in bench_databases(marked)
    if url.startswith("sqlite"):
        assert not Path(url.removeprefix("sqlite:///")).exists()


def run_bench(db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_pages_benchmark_times_every_read_page_on_databases_of_its_own(marked, db_url):
    before = bench_databases(marked)
    done = run_bench(
        db_url, "bench/pages.py", "--small", "10", "--large", "30", "--rounds", "1", "--budget", "5"
    )
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("PASS when large/small <= 1.5", 1)[1]
    for page in load_pages().PAGES:
        line = next(line for line in table.splitlines() if line.startswith(page.name))
        verdict = line.split("  ")[-1]  # PASS, FAIL, "PASS per row (…)" for a whole download
        assert verdict.startswith(("PASS", "FAIL")) or "past the budget" in line, line
    with marked.connect() as conn:
        assert conn.scalar(text("SELECT note FROM bench_marker")) == "keep me"
    assert bench_databases(marked) == before


def test_the_dataset_holds_the_requests_asked_for_with_overdue_work(marked, db_url):
    done = run_bench(db_url, "bench/dataset.py", "200")
    assert done.returncode == 0, done.stderr
    assert "process_instance: 200 rows" in done.stdout
    overdue = int(done.stdout.split("open tasks overdue: ", 1)[1].split()[0])
    assert overdue > 0


def load_pages():
    spec = importlib.util.spec_from_file_location("bench_pages", ROOT / "bench" / "pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
