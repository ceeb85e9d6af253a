"""The coordinators' lists against what is stored: the dispute board (/disputes/, open and all),
the breach ledger (/breaches/) and its CSV export, with N and 100·N requests stored (one dispute
per 10 requests: those escalated in the last 25 days open, older ones decided 12 days after;
one breach entry per 5 requests), as ratios of the
big database's median time to the small one's. Both sizes are built in one run (bulk INSERTs)
and the pages are requested alternately (median of R rounds).

    python bench/ledgers.py [--small 1000] [--big 100000] [--rounds 7]

With a PostgreSQL ``DATABASE_URL`` the databases are created on that server and dropped at the
end (bench/scratch.py); without it, SQLite files in a temporary folder.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_database  # noqa: E402
from sqlalchemy import event, insert, select, text  # noqa: E402

from engine.app import build_engine  # noqa: E402
from engine.clock import FakeClock  # noqa: E402
from engine.db import make_engine  # noqa: E402
from engine.directory import department_by_slug  # noqa: E402
from engine.oversight.models import Breach  # noqa: E402
from engine.schema import upgrade  # noqa: E402
from engine.seed import seed_all  # noqa: E402
from engine.workflow.deployment import active_definition  # noqa: E402
from engine.workflow.models import ProcessFact, ProcessInstance  # noqa: E402
from web import create_app  # noqa: E402

CLOCK = FakeClock("2026-09-18T10:00:00+08:00")
CHUNK = 2000
PAGES = {
    "dispute board (open)": "/disputes/",
    "dispute board (all)": "/disputes/?state=all",
    "breach ledger": "/breaches/",
    "breach ledger page 3": "/breaches/?page=3",
    "breach ledger CSV": "/breaches/?format=csv",
}


def _chunks(rows: list[dict], size: int = CHUNK):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def build(url: str, n: int) -> str:
    upgrade(url)
    factory = build_engine().sessions(make_engine(url))
    with factory() as s, s.begin():
        seed_all(s, CLOCK, demo=True)
        definition = active_definition(s, "share_request")
        civil, pubsec, data = (department_by_slug(s, x) for x in ("civil", "pubsec", "data"))
        now = CLOCK.now()
        bindings = {"requester": civil.id, "provider": pubsec.id, "authority": data.id}
        summary = {
            "resource_code": "JC-RK/0002",
            "resource_name": "户籍变动信息",
            "share_type": "conditional",
            "requester_name": civil.name,
            "provider_name": pubsec.name,
        }
        year = 260 * 24 * 3600  # the instants spread over the year up to the clock's
        instances = [
            {
                "business_key": f"GX-2026-{i + 1:06d}",
                "definition_id": definition.id,
                "process_id": "share_request",
                "status": "completed",
                "bindings": bindings,
                "summary": {**summary, "decision": "refusal_upheld"} if i % 10 == 0 else summary,
                "state": b"",
                "version": 1,
                "created_at": now - timedelta(seconds=year * (n - i) // n + 86400),
                "updated_at": now,
                "requester_department_id": civil.id,
                "provider_department_id": pubsec.id,
                "authority_department_id": data.id,
            }
            for i in range(n)
        ]
        for chunk in _chunks(instances):
            s.execute(insert(ProcessInstance), chunk)
        ids = s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)).all()
        facts, breaches = [], []
        for i, iid in enumerate(ids):
            at = instances[i]["created_at"] + timedelta(days=5)
            if i % 10 == 0:
                fact = {"instance_id": iid, "process_id": "share_request", "role": "authority"}
                facts.append(
                    {**fact, "kind": "coordination_opened", "at": at, "department_id": data.id}
                )
                if at < now - timedelta(days=25):  # decided within the statutory weeks
                    facts.append(
                        {
                            **fact,
                            "kind": "coordination_decided",
                            "at": at + timedelta(days=12),
                            "department_id": data.id,
                            "decision": "refusal_upheld",
                        }
                    )
            if i % 5 == 0:
                breaches.append(
                    {
                        "instance_id": iid,
                        "department_id": pubsec.id,
                        "article": "第二十三条（二）",
                        "kind": "reply_overdue",
                        "evidence": {
                            "business_key": instances[i]["business_key"],
                            "due": at.date().isoformat(),
                        },
                        "recorded_at": at,
                    }
                )
        for chunk in _chunks(facts):
            s.execute(insert(ProcessFact), chunk)
        for chunk in _chunks(breaches):
            s.execute(insert(Breach), chunk)
    with make_engine(url).connect() as conn:  # statistics, as autovacuum / a live database has
        conn.execute(text("ANALYZE"))
        conn.commit()
    return url


def client_for(url: str):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "GOVSHARE_CLOCK": CLOCK, "SECRET_KEY": "bench"}
    )
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    login = {"username": "data.coord", "password": "demo", "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    queries = [0]
    with app.app_context():
        from web import db

        event.listen(
            db.engine, "before_cursor_execute", lambda *a: queries.__setitem__(0, queries[0] + 1)
        )
    return client, queries


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default="", help="measure only the pages whose name contains this")
    args = ap.parse_args()
    sizes = {"small": args.small, "big": args.big}
    with ExitStack() as stack:
        clients = {}
        for name, n in sizes.items():
            t = time.perf_counter()
            clients[name] = client_for(build(stack.enter_context(scratch_database(f"led{n}")), n))
            print(f"built {n} requests in {time.perf_counter() - t:.0f} s", flush=True)
        for page, path in PAGES.items():
            if args.only in page:
                measure(args, sizes, clients, page, path)


def measure(args, sizes: dict, clients: dict, page: str, path: str) -> None:
    times: dict[str, list[float]] = {name: [] for name in sizes}
    size: dict[str, int] = {}
    lines: dict[str, int] = {}
    for client, _ in clients.values():  # warm up
        client.get(path)
    for _ in range(args.rounds):
        for name, (client, _) in clients.items():
            t = time.perf_counter()
            r = client.get(path)
            body = r.get_data()
            times[name].append(time.perf_counter() - t)
            assert r.status_code == 200, (path, r.status_code)
            size[name], lines[name] = len(body), body.count(b"\n")
    line = []
    for name, (client, queries) in clients.items():
        queries[0] = 0
        client.get(path).get_data()
        med = statistics.median(times[name]) * 1000
        line.append(
            f"{sizes[name]}: {med:7.1f} ms {queries[0]:3d} stmts {size[name] // 1024:5d} KB"
        )
    ratio = statistics.median(times["big"]) / statistics.median(times["small"])
    print(f"{page:<22} " + " | ".join(line) + f" | ratio {ratio:.2f}", flush=True)
    if "format=csv" in path:  # a streamed file: its first piece, and its cost per row
        first: dict[str, list[float]] = {name: [] for name in sizes}
        for _ in range(args.rounds):
            for name, (client, _) in clients.items():
                t = time.perf_counter()
                r = client.get(path, buffered=False)
                next(iter(r.response))
                first[name].append(time.perf_counter() - t)
                r.close()
        rows = {name: max(1, lines[name] - 1) for name in sizes}  # less the header
        per_row = {name: statistics.median(times[name]) / rows[name] * 1e6 for name in sizes}
        fb = {name: statistics.median(first[name]) * 1000 for name in sizes}
        print(
            f"{'  first piece':<22} {sizes['small']}: {fb['small']:7.1f} ms | "
            f"{sizes['big']}: {fb['big']:7.1f} ms | ratio {fb['big'] / fb['small']:.2f}; "
            f"µs per row: {per_row['small']:.0f} | {per_row['big']:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
