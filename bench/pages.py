"""Inbox page cost against the number of tasks stored: the "department queue" rendered with
10,000 open tasks in the database, as a ratio to the same page with 10. Both databases are
built in one run and the page is rendered alternately from each (median of R rounds).

    python bench/pages.py [--big 10000] [--small 10] [--rounds 30]

Each database is the run's own (bench/scratch.py), dropped at the end.
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
from sqlalchemy import event, insert, select  # noqa: E402

from engine.app import build_engine
from engine.clock import FakeClock
from engine.db import make_engine
from engine.directory import department_by_slug
from engine.schema import upgrade
from engine.seed import seed_all
from engine.workflow.deployment import active_definition
from engine.workflow.models import HumanTask, ProcessInstance
from web import create_app  # noqa: E402

CLOCK = FakeClock("2026-09-18T10:00:00+08:00")


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
        for start in range(0, n, 2000):
            chunk = range(start, min(n, start + 2000))
            s.execute(
                insert(ProcessInstance),
                [
                    {
                        "business_key": f"GX-2026-{i + 1:06d}",
                        "definition_id": definition.id,
                        "process_id": "share_request",
                        "status": "running",
                        "bindings": bindings,
                        "summary": summary,
                        "state": b"",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                        "next_due_at": now + timedelta(days=12),
                        "requester_department_id": civil.id,
                        "provider_department_id": pubsec.id,
                        "authority_department_id": data.id,
                    }
                    for i in chunk
                ],
            )
        ids = s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)).all()
        for start in range(0, n, 2000):
            s.execute(
                insert(HumanTask),
                [
                    {
                        "instance_id": iid,
                        "spiff_task_id": f"00000000-0000-0000-0000-{iid:012d}",
                        "task_name": "provider_review",
                        "title": "审核共享申请",
                        "title_en": "Review the sharing request",
                        "role": "provider",
                        "department_id": pubsec.id,
                        "form": "provider_review",
                        "statute": "第十一条、第十二条",
                        "state": "open",
                        "due_at": now + timedelta(days=21 + (iid % 30)),
                        "created_at": now,
                    }
                    for iid in ids[start : start + 2000]
                ],
            )
    return url


def client_for(url: str):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "GOVSHARE_CLOCK": CLOCK, "SECRET_KEY": "bench"}
    )
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    assert (
        client.post(
            "/login", data={"username": "pubsec.clerk", "password": "demo", "csrf_token": token}
        ).status_code
        == 302
    )
    queries = [0]
    with app.app_context():
        from web import db

        event.listen(
            db.engine, "before_cursor_execute", lambda *a: queries.__setitem__(0, queries[0] + 1)
        )
    return client, queries


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    sizes = {"small": args.small, "page": 20, "big": args.big}
    with ExitStack() as stack:
        clients = {
            name: client_for(build(stack.enter_context(scratch_database(f"pages{n}")), n))
            for name, n in sizes.items()
        }
        measure(args, sizes, clients)


def measure(args: argparse.Namespace, sizes: dict, clients: dict) -> None:
    times = {name: [] for name in sizes}
    for _ in range(3):  # warm up
        for client, _ in clients.values():
            client.get("/inbox/queue")
    for _ in range(args.rounds):
        for name, (client, _) in clients.items():
            t = time.perf_counter()
            r = client.get("/inbox/queue")
            times[name].append(time.perf_counter() - t)
            assert r.status_code == 200
    for name, (client, queries) in clients.items():
        queries[0] = 0
        client.get("/inbox/queue")
        print(
            f"{sizes[name]:>6} open tasks: {statistics.median(times[name]) * 1000:6.1f} ms per page, {queries[0]} queries"
        )
    med = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"department queue with {args.big} open tasks / with {args.small}: ratio {med['big'] / med['small']:.2f} (median of {args.rounds} rounds)"
    )
    print(
        f"  (a page shows 20 rows: with {args.small} tasks it renders {args.small}; against a full page of 20 stored tasks the ratio is {med['big'] / med['page']:.2f})"
    )


if __name__ == "__main__":
    main()
