"""The public page (art. 24) and the annual report (art. 17) against the requests stored: both
pages with 1,000 and with 100,000 share requests of the year reported on (each with its facts:
submitted, answered on time or late, some refused, negotiated or with an error reported), printed
as the ratio big / small. Both databases are built in one run (bulk INSERTs, not through the
engine) and the pages are rendered alternately from each (median of R rounds).

    python bench/figures.py [--big 100000] [--small 1000] [--rounds 7]
    DATABASE_URL=postgresql://… python bench/figures.py      # on PostgreSQL

Each database is the run's own (bench/scratch.py), dropped at the end. Where the summary of the
yearly figures exists (engine.oversight.summary), it is recounted after the bulk load, as
``govshare reports rebuild`` does.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_database  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402

from engine.app import build_engine  # noqa: E402
from engine.clock import SHANGHAI, FakeClock  # noqa: E402
from engine.db import make_engine  # noqa: E402
from engine.directory.models import Department  # noqa: E402
from engine.schema import upgrade  # noqa: E402
from engine.seed import seed_all  # noqa: E402
from engine.workflow.deployment import active_definition  # noqa: E402
from engine.workflow.models import ProcessFact, ProcessInstance  # noqa: E402
from web import create_app  # noqa: E402

CLOCK = FakeClock("2026-09-18T10:00:00+08:00")
YEAR = 2025  # the year the public page shows and the annual report is about
PAGES = {"public": "/public/", "annual": f"/reports/annual/{YEAR}"}
CHUNK = 5000


def build(url: str, n: int) -> str:
    upgrade(url)
    engine = make_engine(url)
    factory = build_engine().sessions(engine)
    with factory() as s, s.begin():
        seed_all(s, CLOCK, demo=True)
        definition_id = active_definition(s, "share_request").id
        depts = s.scalars(
            select(Department.id).where(Department.is_authority.is_(False)).order_by(Department.id)
        ).all()
        authority = s.scalar(select(Department.id).where(Department.is_authority.is_(True)))
    first = datetime(YEAR, 1, 2, 9, 0, tzinfo=SHANGHAI)
    with engine.begin() as c:
        next_id = (
            c.scalar(select(ProcessInstance.id).order_by(ProcessInstance.id.desc())) or 0
        ) + 1
        for start in range(0, n, CHUNK):
            instances, facts = [], []
            for i in range(start, min(n, start + CHUNK)):
                iid = next_id + i
                requester, provider = depts[i % len(depts)], depts[(i * 7 + 3) % len(depts)]
                submitted = first + timedelta(minutes=(i * 5237) % (355 * 24 * 60))
                answered = submitted + timedelta(days=1 + i % 16, hours=2)
                due = submitted + timedelta(days=14)
                instances.append(
                    {
                        "id": iid,
                        "business_key": f"GX-{YEAR}-{i + 1:06d}",
                        "definition_id": definition_id,
                        "process_id": "share_request",
                        "status": "completed",
                        "bindings": {
                            "requester": requester,
                            "provider": provider,
                            "authority": authority,
                        },
                        "summary": {"resource_code": "JC-RK/0002", "resource_name": "户籍变动信息"},
                        "state": b"",
                        "version": 1,
                        "created_at": submitted,
                        "updated_at": answered,
                        "requester_department_id": requester,
                        "provider_department_id": provider,
                        "authority_department_id": authority,
                    }
                )
                fact = {
                    "instance_id": iid,
                    "process_id": "share_request",
                    "actor_id": None,
                    "reasons": None,
                    "opened_at": None,
                    "due_at": None,
                    "met": None,
                    "decision": None,
                    "details": {},
                }
                facts.append(
                    {
                        **fact,
                        "kind": "request_submitted",
                        "at": submitted,
                        "role": "requester",
                        "department_id": requester,
                        "opened_at": submitted,
                    }
                )
                refused = i % 9 == 0
                facts.append(
                    {
                        **fact,
                        "kind": "request_answered",
                        "at": answered,
                        "role": "provider",
                        "department_id": provider,
                        "decision": "refused" if refused else "approved",
                        "reasons": f"超出范围 {i % 40}" if refused else None,
                        "opened_at": submitted,
                        "due_at": due,
                        "met": answered <= due,
                    }
                )
                if refused and i % 2 == 0:
                    facts.append(
                        {
                            **fact,
                            "kind": "negotiation_opened",
                            "at": answered + timedelta(days=1),
                            "role": "requester",
                            "department_id": requester,
                            "due_at": answered + timedelta(days=8),
                            "met": True,
                        }
                    )
                if i % 50 == 0:
                    facts.append(
                        {
                            **fact,
                            "kind": "error_reported",
                            "at": answered + timedelta(days=2),
                            "role": "provider",
                            "department_id": provider,
                            "opened_at": answered + timedelta(days=2),
                        }
                    )
            c.execute(insert(ProcessInstance), instances)
            c.execute(insert(ProcessFact), facts)
    try:
        from engine.oversight.summary import rebuild  # the summary, where it exists
    except ImportError:
        rebuild = None
    if rebuild is not None:
        t = time.perf_counter()
        with factory() as s, s.begin():
            rebuild(s)
        print(f"  {n} requests: summary rebuilt in {time.perf_counter() - t:.1f} s", flush=True)
    engine.dispose()
    return url


def clients_for(url: str):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "GOVSHARE_CLOCK": CLOCK, "SECRET_KEY": "bench"}
    )
    anonymous, coord = app.test_client(), app.test_client()
    html = coord.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    r = coord.post(
        "/login", data={"username": "data.coord", "password": "demo", "csrf_token": token}
    )
    assert r.status_code == 302
    queries = [0]
    with app.app_context():
        from web import db

        event.listen(
            db.engine, "before_cursor_execute", lambda *a: queries.__setitem__(0, queries[0] + 1)
        )
    return {"public": anonymous, "annual": coord}, queries


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    db = "postgresql" if (os.environ.get("DATABASE_URL") or "").startswith("postgres") else "sqlite"
    sizes = {"small": args.small, "big": args.big}
    with ExitStack() as stack:
        built = {}
        for name, n in sizes.items():
            t = time.perf_counter()
            built[name] = clients_for(build(stack.enter_context(scratch_database(f"fig{n}")), n))
            print(f"  {n} requests stored in {time.perf_counter() - t:.1f} s", flush=True)
        measure(args, db, sizes, built)


def measure(args: argparse.Namespace, db: str, sizes: dict, built: dict) -> None:
    times = {(name, page): [] for name in sizes for page in PAGES}
    for name, (clients, _) in built.items():  # warm up (printed: a slow run may be cut short)
        for page, path in PAGES.items():
            t = time.perf_counter()
            assert clients[page].get(path).status_code == 200
            ms = (time.perf_counter() - t) * 1000
            print(f"  warm-up {path:<22} {sizes[name]:>7} requests: {ms:8.1f} ms", flush=True)
    for r in range(args.rounds):
        for name, (clients, _) in built.items():
            for page, path in PAGES.items():
                t = time.perf_counter()
                response = clients[page].get(path)
                times[(name, page)].append(time.perf_counter() - t)
                assert response.status_code == 200
                ms = times[(name, page)][-1] * 1000
                print(
                    f"  round {r + 1} {path:<22} {sizes[name]:>7} requests: {ms:8.1f} ms",
                    flush=True,
                )
    print(f"{db}: median of {args.rounds} rounds")
    for page, path in PAGES.items():
        med = {}
        for name, (clients, queries) in built.items():
            queries[0] = 0
            clients[page].get(path)
            med[name] = statistics.median(times[(name, page)])
            print(
                f"  {path:<22} {sizes[name]:>7} requests: {med[name] * 1000:8.1f} ms, "
                f"{queries[0]} statements"
            )
        print(
            f"  {path:<22} {args.big} / {args.small}: ratio {med['big'] / med['small']:.2f} "
            "(goal: at most 1.5)",
            flush=True,
        )


if __name__ == "__main__":
    main()
