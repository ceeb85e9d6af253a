"""Every read page costs the same whatever is stored (issue 15, goal 3): each page of
bench/pages.py (``PAGES``, the table the benchmark times) is requested as the official who reads
it with some share requests stored, then with three times as many (bench/dataset.py: real requests
through the engine, cloned with bulk INSERTs), and must send no more SQL statements the second
time, nor load many more rows as ORM objects (a page loads one page of rows, whatever is stored;
an export may load every row selected, up to its cap). On SQLite, the dashboards whose counts
come from a summary (:data:`SUMMARISED`) must also make the database work no harder (its virtual
machine steps, which grow with every row an SQL statement walks through, even a row it only
counts).

Pages that still grow on main are marked in :data:`GROWING` (statements) and
:data:`GROWING_ROWS` (rows loaded) with the branch of issue 15 that fixes them; remove a mark when
its fix is merged (the marks are strict: a page that stopped growing fails until its mark goes)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from engine.app import build_engine
from engine.clock import FakeClock
from engine.directory.clients import seed_demo_clients
from tests.conftest import SEEDED_AT, clear_rows

ROOT = Path(__file__).resolve().parent.parent
# share requests stored (the 7 run through the engine among them): enough that every list the
# pages show is a full page already with the first
FEW, MANY = 800, 2400
# page name -> the branch of issue 15 that fixes it
GROWING: dict[str, str] = {}  # more SQL statements with more stored
GROWING_ROWS: dict[str, str] = {}  # more rows loaded with more stored
# pages whose counts the database reads from a summary, not from the rows counted
SUMMARISED = ("public page", "annual report", "dispute dashboard")


def load(name: str):
    """A module of bench/ (not a package); bench/pages.py puts bench/ on the path for its own
    imports (bench/dataset.py, bench/scratch.py)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pages = load("pages")


@pytest.fixture(scope="module")
def reads(engine, db_url):
    """Every page read once with FEW requests stored and once with MANY: page name -> reads."""
    import dataset  # bench/dataset.py

    clear_rows(engine)
    factory = build_engine().sessions(engine)
    with factory() as s, s.begin():
        seed_demo_clients(s, FakeClock(SEEDED_AT))
        dataset.add_catalog(s, len(dataset.region_of(s).departments))  # every department's
    clock = FakeClock(pages.CLOCK.now())
    reader = pages.Reader(pages.make_app(db_url, clock))
    out: dict[str, list] = {p.name: [] for p in pages.PAGES}
    templates = None
    try:
        for n in (FEW, MANY):
            templates = dataset.grow(factory, clock.now(), n, templates)
            for page in pages.PAGES:
                reader.read(page)  # the first request of a client fills per-process caches
                out[page.name].append(reader.read(page))
    finally:
        reader.close()
    yield out
    clear_rows(engine)


def marked(page, growing):
    if page.name not in growing:
        return page
    reason = f"issue 15: fixed on branch {growing[page.name]}"
    return pytest.param(page, marks=pytest.mark.xfail(strict=True, reason=reason))


def test_every_mark_names_a_page():
    assert set(GROWING) | set(GROWING_ROWS) <= {p.name for p in pages.PAGES}


@pytest.mark.parametrize("page", [marked(p, GROWING) for p in pages.PAGES], ids=lambda p: p.name)
def test_a_page_sends_no_more_statements_with_more_stored(page, reads):
    few, many = (r.statements for r in reads[page.name])
    assert many <= few, f"{page.name}: {few} statements with {FEW} requests, {many} with {MANY}"


@pytest.mark.parametrize(
    "page", [marked(p, GROWING_ROWS) for p in pages.PAGES if not p.export], ids=lambda p: p.name
)
def test_a_page_loads_no_more_rows_with_more_stored(page, reads):
    few, many = (r.loaded for r in reads[page.name])
    # a little slack: the rows of a page name departments and users, fewer or more of them
    assert many <= few + max(20, few // 4), (
        f"{page.name}: {few} rows loaded with {FEW} requests, {many} with {MANY}"
    )


@pytest.mark.parametrize("name", SUMMARISED)
def test_a_summarised_page_makes_the_database_work_no_harder_with_more_stored(name, reads):
    few, many = (r.steps for r in reads[name])
    if not few:
        pytest.skip("the database's work is counted on SQLite only")
    # as the bench's limit on time (1.5x): a page's own rows walk an index range whose length
    # depends on what it shows, and the catalog's entries grow with the requests here
    assert many <= few * 1.5, (
        f"{name}: {few * 100} SQLite steps with {FEW} requests, {many * 100} with {MANY}"
    )
