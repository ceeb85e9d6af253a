"""Every read page against what is stored: each page's median time with 100,000 share requests
stored, as a ratio to the same page with 1,000, measured alternately in one run.

    python bench/pages.py [--small 1000] [--large 100000] [--rounds 15] [--budget 30]

Both databases are the run's own (bench/scratch.py: SQLite, or a new database on the PostgreSQL
server DATABASE_URL names), filled by bench/dataset.py (real share requests through the engine,
cloned with bulk INSERTs: open work with due dates, some overdue, answers, grants, disputes,
breaches, catalog entries), and dropped at the end. Each page is requested through the Flask test
client as the official (or API token) who reads it. A page whose single request takes longer than
``--budget`` seconds is stopped there and shown as ">Ns"; slow pages run fewer rounds (at least 3)
so that each page's rounds stay within about the budget.

Prints per page: ms with the small and the large dataset, the ratio large/small, SQL statements and
ORM objects loaded per request at each size, and PASS (ratio <= 1.5) or FAIL. :data:`PAGES` is the table
tests/test_page_budget.py counts statements on.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # the project first: bench/engine.py is not it

from sqlalchemy import event  # noqa: E402

from engine.clock import FakeClock  # noqa: E402

CLOCK = FakeClock("2026-09-18T10:00:00+08:00")
LAST_YEAR = 2025  # the year the annual report and the public figures are about
LIMIT = 1.5  # large / small


@dataclass(frozen=True)
class Page:
    """One read, as the person who reads it: signed in to the web app as ``user``, or calling the
    API with the demo token of ``user`` (``api``); anonymous without a user."""

    name: str
    path: str
    user: str | None = None
    api: bool = False
    body: dict | None = None  # an API POST's JSON body
    export: bool = False  # a download of every row selected (up to its cap), not one page
    first: bool = False  # time the first piece of a streamed download only (then hang up)


PAGES = (
    Page("public page", "/public/"),
    Page("annual report", f"/reports/annual/{LAST_YEAR}", "data.coord"),
    Page("dispute dashboard", "/disputes/", "data.coord"),
    Page("breach ledger", "/breaches/", "data.coord"),
    Page("breach ledger CSV", "/breaches/?format=csv", "data.coord", export=True),
    Page("CSV first batch", "/breaches/?format=csv", "data.coord", export=True, first=True),
    Page("inbox mine", "/inbox/mine", "pubsec.clerk"),
    Page("inbox queue", "/inbox/queue", "pubsec.clerk"),
    Page("inbox overdue", "/inbox/overdue", "pubsec.clerk"),
    Page("inbox done", "/inbox/done", "pubsec.clerk"),
    Page("api tasks", "/api/v1/tasks", "pubsec.clerk", api=True),
    Page(
        "grant check",
        "/api/v1/grants/check",
        "civil.clerk",
        api=True,
        body={
            "resource_code": "JC-RK/0002",
            "info_items": ["公民身份号码"],
            "purpose": "核定低保",
            "scenario": "YYCJ006",
        },
    ),
    Page("catalog search", "/catalog/?q=户籍", "civil.clerk"),
)


class TooSlow(Exception):
    """A request ran past its time budget (raised before its next SQL statement)."""


@dataclass(frozen=True)
class Read:
    seconds: float
    statements: int  # SQL statements sent
    loaded: int  # rows loaded as ORM objects
    steps: int  # SQLite only: the database's work, in hundreds of virtual machine steps


class Reader:
    """The app on one database, with a signed-in test client per official, counting the SQL
    statements and the ORM objects loaded of each request and stopping a request at its
    deadline."""

    def __init__(self, app: Any) -> None:
        from engine.db import Base
        from web import db

        self.app = app
        self.clients: dict[str | None, Any] = {None: app.test_client()}
        self.statements = self.loaded = self.steps = 0
        self.reading = False
        self.deadline: float | None = None
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._statement)
        event.listen(Base, "load", self._load, propagate=True)

    def close(self) -> None:
        from engine.db import Base

        event.remove(Base, "load", self._load)

    def _statement(self, conn: Any, *args: Any) -> None:
        self.statements += 1
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise TooSlow
        driver = conn.connection.driver_connection
        if hasattr(driver, "set_progress_handler"):  # SQLite: count the rows it works through
            driver.set_progress_handler(self._step, 100)

    def _step(self) -> int:
        self.steps += 1
        return 0  # go on

    def _load(self, *args: Any) -> None:
        if self.reading:
            self.loaded += 1

    def client(self, page: Page) -> Any:
        key = None if page.user is None or page.api else page.user
        if key not in self.clients:
            self.clients[key] = signed_in(self.app, key)
        return self.clients[key]

    def read(self, page: Page, budget: float | None = None) -> Read:
        """One request of the page; raises :class:`TooSlow` past ``budget`` seconds."""
        client = self.client(page)
        headers = {"Authorization": f"Bearer demo-{page.user}"} if page.api else {}
        self.statements = self.loaded = self.steps = 0
        self.reading = True
        t = time.perf_counter()
        self.deadline = None if budget is None else t + budget
        try:
            if page.body is not None:
                r = client.post(page.path, json=page.body, headers=headers)
            elif page.first:  # what the reader waits for before the download starts
                r = client.get(page.path, headers=headers, buffered=False)
                next(iter(r.response), b"")
                r.close()
            else:
                r = client.get(page.path, headers=headers)
                r.get_data()  # a streamed response runs here
        finally:
            self.deadline = None
            self.reading = False
        took = time.perf_counter() - t
        if r.status_code == 500 and budget is not None and took > budget:
            raise TooSlow
        assert r.status_code == 200, (page.name, r.status_code, r.get_data(as_text=True)[:500])
        return Read(took, self.statements, self.loaded, self.steps)


def signed_in(app: Any, username: str) -> Any:
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return client


def make_app(url: str, clock: Any = CLOCK) -> Any:
    from web import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "GOVSHARE_CLOCK": clock, "SECRET_KEY": "bench"}
    )


def build(url: str, n: int, say: Callable[[str], None]) -> str:
    import dataset  # type: ignore[import-not-found]

    from engine.app import build_engine
    from engine.db import make_engine
    from engine.schema import upgrade
    from engine.seed import seed_all

    upgrade(url)
    engine = make_engine(url)
    factory = build_engine().sessions(engine)
    with factory() as s, s.begin():
        seed_all(s, CLOCK, demo=True)
    dataset.grow(factory, CLOCK.now(), n, progress=lambda m: say(f"  {m}"))
    engine.dispose()
    return url


@dataclass
class Result:
    page: Page
    times: dict[str, list[float]]
    statements: dict[str, int]
    loaded: dict[str, int]
    slow: str = ""  # the side that ran past the budget

    def median(self, side: str) -> float:
        return statistics.median(self.times[side])


def measure(page: Page, readers: dict[str, Reader], rounds: int, budget: float) -> Result:
    res = Result(page, {"small": [], "large": []}, {}, {})
    for side in ("small", "large"):  # warm-up: one request each, within the budget
        try:
            read = readers[side].read(page, budget)
        except TooSlow:
            res.slow = side
            return res  # the small side's one request is kept, to show
        res.statements[side], res.loaded[side] = read.statements, read.loaded
        res.times[side].append(read.seconds)
    n = max(3, min(rounds, int(budget / max(read.seconds, 1e-6))))
    res.times = {"small": [], "large": []}
    for _ in range(n):
        for side in ("small", "large"):
            res.times[side].append(readers[side].read(page).seconds)
    return res


def table(results: list[Result], sizes: dict[str, int], budget: float) -> list[str]:
    small, large = sizes["small"], sizes["large"]
    lines = [
        f"{'page':<20} {f'{small:,} req':>12} {f'{large:,} req':>12} {'ratio':>7} "
        f"{'SQL':>11} {'objects':>13} {'rounds':>6}  verdict"
    ]
    for r in results:
        if r.slow:
            over = f">{budget:g} s"
            small = f"{r.median('small') * 1000:9.1f} ms" if r.times["small"] else over
            lines.append(
                f"{r.page.name:<20} {small:>12} {over if r.slow == 'large' else '-':>12} {'-':>7} "
                f"{'-':>11} {'-':>13} {0:>6}  FAIL (one request ran past the budget)"
            )
            continue
        ratio = r.median("large") / r.median("small")
        sql = f"{r.statements['small']}/{r.statements['large']}"
        objects = f"{r.loaded['small']}/{r.loaded['large']}"
        verdict = "PASS" if ratio <= LIMIT else "FAIL"
        if r.page.export and not r.page.first and min(r.loaded.values()) > 0:
            # a whole download grows with the rows in it: judged by its time per row exported
            per_row = ratio * r.loaded["small"] / r.loaded["large"]
            verdict = f"{'PASS' if per_row <= LIMIT else 'FAIL'} per row ({per_row:.2f})"
        lines.append(
            f"{r.page.name:<20} {r.median('small') * 1000:9.1f} ms {r.median('large') * 1000:9.1f} ms "
            f"{ratio:7.2f} {sql:>11} {objects:>13} {len(r.times['small']):>6}  {verdict}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=1_000, help="share requests stored, small side")
    ap.add_argument("--large", type=int, default=100_000, help="share requests stored, large side")
    ap.add_argument("--rounds", type=int, default=15, help="requests per page and side, at most")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds per page and side")
    ap.add_argument("--only", default="", help="comma-separated page names (default: all)")
    args = ap.parse_args()
    logging.disable(logging.ERROR)  # a request stopped at its budget is reported in the table
    from scratch import scratch_database  # type: ignore[import-not-found]

    from engine.db import make_engine, normalize_url

    say = lambda m: print(m, flush=True)  # noqa: E731
    sizes = {"small": args.small, "large": args.large}
    pages = [p for p in PAGES if not args.only or p.name in args.only.split(",")]
    with ExitStack() as stack:
        readers = {}
        for side, n in sizes.items():
            t = time.perf_counter()
            url = build(stack.enter_context(scratch_database(f"pages{n}")), n, say)
            say(f"{side}: {n:,} share requests built in {time.perf_counter() - t:.0f} s")
            readers[side] = Reader(make_app(url))
        dialect = make_engine(normalize_url(url)).dialect.name
        results = []
        for page in pages:
            results.append(measure(page, readers, args.rounds, args.budget))
            say(table(results[-1:], sizes, args.budget)[-1])
        say("")
        say(
            f"database: {dialect}; median of the rounds, small and large requested alternately; "
            f"PASS when large/small <= {LIMIT}; SQL: statements per request, small/large; "
            "objects: rows loaded as ORM objects per request, small/large"
        )
        for line in table(results, sizes, args.budget):
            say(line)


if __name__ == "__main__":
    main()
