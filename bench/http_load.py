"""The web app over HTTP: gunicorn (4 workers) on loopback with 20 concurrent API clients for a
bounded time per phase, against a database of the run's own (bench/scratch.py).

    python bench/http_load.py [--seconds 20] [--clients 20] [--workers 4] [--grants 2000]
                         [--phases flows,grants,demo]

Phases, each printed with p50/p95/p99/max per request and PASS/FAIL against issue 15's targets:

- ``flows``: a share request started (``POST /api/v1/requests``) and its provider completing the
  review task (``GET /api/v1/requests/{key}`` for the task, ``POST /api/v1/tasks/{id}/complete``):
  flows/s and task completions/s (target: at least 100 completions/s, p99 under 250 ms);
- ``grants``: the art. 14 grant check (``POST /api/v1/grants/check``) for a department holding one
  grant on the resource, then for one holding ``--grants`` grants on it (bulk-inserted: expired
  ones and current ones for other info items, the covering one last): at least 400 req/s each;
- ``demo``: the SQLite demo server (``python -m web``, what ``make demo`` runs, with its timer
  worker thread) under mixed load, a quarter of the clients running flows and the rest reading
  (grant checks, request status, catalog search): p99 under 1 s. Only when the run's database is
  SQLite (no PostgreSQL ``DATABASE_URL``).

gunicorn runs the production configuration (deploy/gunicorn.conf.py, ``GOVSHARE_SECRET_KEY`` set,
no demo mode); the data are seeded with the demo accounts so that the clients have API tokens
(``demo-<user>``). The timer worker is not started for the gunicorn phases: no timer falls due
within a run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Modules are imported from the project root (bench/ is not a package); a file of bench/ never
# hides a standard-library module (this one is not called http.py for that reason).
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402

from sqlalchemy import insert  # noqa: E402

from bench.scratch import scratch_database  # noqa: E402
from engine.app import build_engine  # noqa: E402
from engine.catalog import resource_by_code  # noqa: E402
from engine.clock import SHANGHAI, SystemClock  # noqa: E402
from engine.db import make_engine  # noqa: E402
from engine.directory import department_by_slug  # noqa: E402
from engine.schema import upgrade  # noqa: E402
from engine.seed import seed_all  # noqa: E402
from engine.sharing.models import Grant, GrantItem  # noqa: E402
from engine.workflow.deployment import active_definition  # noqa: E402
from engine.workflow.models import ProcessInstance  # noqa: E402

CLOCK = SystemClock()  # the servers run on the system clock: the data must be dated alike
RESOURCE = "JC-RK/0002"
REQUESTER, PROVIDER = "civil", "pubsec"
ONE_GRANT, MANY_GRANTS = "health", "edu"  # grant-check departments (no flows of their own)
TARGETS = {  # issue 15, goal 2
    "completions_per_s": 100,
    "grant_checks_per_s": 400,
    "p99_ms": 250,
    "demo_p99_ms": 1000,
}


def _form() -> dict:
    today = CLOCK.now().astimezone(SHANGHAI).date()
    return dict(
        resource_code=RESOURCE,
        info_items=["公民身份号码", "变动类型"],
        purpose="核定城乡低保对象户籍状况",
        legal_basis="《社会救助暂行办法》",
        period_start=(today + timedelta(days=1)).isoformat(),
        period_end=(today + timedelta(days=300)).isoformat(),
    )


def _approve() -> dict:
    form = _form()
    return dict(
        review_decision="approve",
        granted_items=form["info_items"],
        granted_period_start=form["period_start"],
        granted_period_end=form["period_end"],
        granted_purpose="核定低保",
    )


CHECK = {"resource_code": RESOURCE, "info_items": ["公民身份号码"], "purpose": "核定低保"}


# -- data ----------------------------------------------------------------------------------------
def seed(url: str, many: int) -> None:
    """Migrate, seed the directory, catalog, processes and demo accounts, and bulk-insert the
    grants of the grant-check departments (attached to one placeholder instance)."""
    upgrade(url)
    engine = make_engine(url)
    factory = build_engine().sessions(engine)
    with factory() as s, s.begin():
        seed_all(s, CLOCK, demo=True)
        definition = active_definition(s, "share_request")
        resource = resource_by_code(s, RESOURCE)
        one, lots = department_by_slug(s, ONE_GRANT), department_by_slug(s, MANY_GRANTS)
        now = CLOCK.now()
        today = now.astimezone(SHANGHAI).date()
        instance_id = s.execute(
            insert(ProcessInstance)
            .values(
                business_key="GX-BENCH-000001",
                definition_id=definition.id,
                process_id="share_request",
                status="completed",
                bindings={},
                summary={},
                state=b"",
                version=1,
                created_at=now,
                updated_at=now,
            )
            .returning(ProcessInstance.id)
        ).scalar_one()

        def grant(dept: int, items: list[str], start, end) -> dict:
            return {
                "instance_id": instance_id,
                "resource_id": resource.id,
                "requester_id": dept,
                "info_items": items,
                "period_start": start,
                "period_end": end,
                "purpose": "核定低保",
                "basis": "approved",
                "granted_at": now,
                "decision": "granted",
            }

        year = timedelta(days=365)
        current = (today - timedelta(days=30), today + year)
        rows = [grant(one.id, ["公民身份号码", "变动类型"], *current)]
        for i in range(many - 1):  # expired ones, and current ones for another info item
            if i % 2:
                rows.append(grant(lots.id, ["公民身份号码"], today - 2 * year, today - year))
            else:
                rows.append(grant(lots.id, ["迁入地"], *current))
        rows.append(grant(lots.id, ["公民身份号码", "变动类型"], *current))
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            ids = s.scalars(insert(Grant).returning(Grant.id, sort_by_parameter_order=True), batch)
            items = [
                {
                    "requester_id": r["requester_id"],
                    "resource_id": resource.id,
                    "item": i,
                    "grant_id": g,
                    "until": r["period_end"],
                }
                for g, r in zip(ids, batch, strict=True)
                for i in r["info_items"]
            ]
            s.execute(insert(GrantItem), items)
    engine.dispose()


# -- servers -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(kind: str, url: str, workers: int):
    """gunicorn with the production configuration, or the demo server (``python -m web``)."""
    port = free_port()
    instance = tempfile.mkdtemp(prefix="govshare-bench-http-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    env.update(DATABASE_URL=url, GOVSHARE_INSTANCE=instance, PYTHONPATH=str(ROOT))
    if kind == "gunicorn":
        env.update(
            GOVSHARE_SECRET_KEY=secrets.token_hex(32),
            GOVSHARE_WEB_WORKERS=str(workers),
            GOVSHARE_WEB_BIND=f"127.0.0.1:{port}",
        )
        cmd = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
        cmd += ["--log-level", "warning", "web:create_app()"]
    else:
        env.update(GOVSHARE_DEMO="1", GOVSHARE_HOST="127.0.0.1", GOVSHARE_PORT=str(port))
        cmd = [sys.executable, "-m", "web"]
    log = open(Path(instance) / "server.log", "w+b")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc, log)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_ready(port: int, proc: subprocess.Popen, log) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the server did not start:\n{log.read().decode()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer /healthz within 60 s")


# -- clients -------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What the clients of one phase did: per-request latencies (s), counts, errors."""

    latencies: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


class Client:
    """One keep-alive connection (reopened when the server closes it) and the phase's tally."""

    def __init__(self, port: int, tally: Tally) -> None:
        self.port, self.tally = port, tally
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.latencies: list[float] = []

    def call(self, method: str, path: str, user: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer demo-{user}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            t = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()  # a connection the server closed while idle: once more
                if attempt == 2:
                    raise
                continue
            self.latencies.append(time.perf_counter() - t)
            if response.status >= 400:
                self.tally.error(f"{method} {path.split('/')[3]} {response.status}")
                if os.environ.get("BENCH_DEBUG"):
                    print(payload.decode()[:500], file=sys.stderr)
                return response.status, None
            return response.status, json.loads(payload) if payload else None
        raise AssertionError("unreachable")


def flow(client: Client) -> None:
    """Start a share request and let the provider approve it."""
    status, started = client.call("POST", "/api/v1/requests", f"{REQUESTER}.clerk", _form())
    if status != 201:
        return
    client.tally.count("starts")
    key = started["business_key"]
    status, request = client.call("GET", f"/api/v1/requests/{key}", f"{PROVIDER}.clerk")
    if status != 200:
        return
    open_tasks = [t for t in request["tasks"] if t.get("state") == "open"]
    if not open_tasks:
        client.tally.error("no open task after start")
        return
    status, _ = client.call(
        "POST",
        f"/api/v1/tasks/{open_tasks[0]['id']}/complete",
        f"{PROVIDER}.clerk",
        {"data": _approve()},
    )
    if status == 200:
        client.tally.count("completions")
        client.tally.count("flows")


def grant_check(dept: str):
    def check(client: Client) -> None:
        status, answer = client.call("POST", "/api/v1/grants/check", f"{dept}.clerk", CHECK)
        if status == 200 and answer["allowed"]:
            client.tally.count("checks")
        elif status == 200:
            client.tally.error("grant check refused")

    return check


def mixed(index: int, keys: list[str]):
    """The demo phase: a quarter of the clients run flows, the others read."""
    if index % 4 == 0:
        return flow
    turn = [index]

    def read(client: Client) -> None:
        turn[0] += 1
        kind = turn[0] % 3
        if kind == 0:
            grant_check(ONE_GRANT)(client)
        elif kind == 1 and keys:
            key = keys[turn[0] % len(keys)]
            client.call("GET", f"/api/v1/requests/{key}", f"{REQUESTER}.clerk")
            client.tally.count("reads")
        else:
            client.call("GET", "/api/v1/catalog?q=%E6%88%B7%E7%B1%8D", f"{REQUESTER}.clerk")
            client.tally.count("reads")

    return read


def run_phase(port: int, clients: int, seconds: float, make_work) -> tuple[Tally, float]:
    """``clients`` threads, each repeating its work (``make_work(i)``) until ``seconds`` pass
    (a unit of work started before then finishes); a short warm-up is not counted."""
    warm = Tally()
    warm_client = Client(port, warm)
    for _ in range(3):
        make_work(0)(warm_client)
    tally = Tally()
    deadline = time.perf_counter() + seconds
    failures: list[BaseException] = []

    def loop(i: int) -> None:
        client = Client(port, tally)
        work = make_work(i)
        try:
            while time.perf_counter() < deadline:
                work(client)
        except BaseException as exc:  # noqa: BLE001 - reported below, the phase goes on
            failures.append(exc)
        with tally.lock:
            tally.latencies.extend(client.latencies)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for exc in failures:
        tally.error(f"client stopped: {type(exc).__name__}: {exc}")
    return tally, elapsed


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, tally: Tally, elapsed: float, rates: dict[str, tuple[str, float]], p99: int):
    lat = [x * 1000 for x in tally.latencies]
    verdicts = []
    print(f"== {name}: {len(lat)} requests in {elapsed:.1f} s ({len(lat) / elapsed:.0f} req/s)")
    for label, (counter, target) in rates.items():
        rate = tally.counts.get(counter, 0) / elapsed
        ok = rate >= target
        verdicts.append(ok)
        print(f"   {label}: {rate:.1f}/s (target >= {target}) {'PASS' if ok else 'FAIL'}")
    q = {p: percentile(lat, p) for p in (50, 95, 99)}
    ok = q[99] < p99 and not tally.errors
    verdicts.append(ok)
    print(
        f"   latency ms: p50 {q[50]:.1f}  p95 {q[95]:.1f}  p99 {q[99]:.1f}  max {max(lat, default=float('nan')):.1f}"
        f"  (target p99 < {p99}) {'PASS' if q[99] < p99 else 'FAIL'}"
    )
    if lat:
        print(f"   mean {statistics.mean(lat):.1f} ms")
    for what, n in sorted(tally.errors.items()):
        print(f"   errors: {what}: {n}")
    return all(verdicts)


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="per phase")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    ap.add_argument("--grants", type=int, default=2000, help="grants of the many-grants department")
    ap.add_argument("--phases", default="flows,grants,demo")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    results = {}
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database("http"))
        sqlite = url.startswith("sqlite")
        seed(url, args.grants)
        print(
            f"database: {'SQLite' if sqlite else 'PostgreSQL'}; gunicorn {args.workers} workers,"
            f" {args.clients} clients, {args.seconds:.0f} s per phase;"
            f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        keys: list[str] = []
        if phases & {"flows", "grants"}:
            port = stack.enter_context(server("gunicorn", url, args.workers))
            if "flows" in phases:
                tally, elapsed = run_phase(port, args.clients, args.seconds, lambda i: flow)
                rates = {
                    "flows (start + provider completes)": ("flows", 0),
                    "task completions": ("completions", TARGETS["completions_per_s"]),
                }
                results["flows"] = report("flows", tally, elapsed, rates, TARGETS["p99_ms"])
            if "grants" in phases:
                for dept, held in ((ONE_GRANT, 1), (MANY_GRANTS, args.grants)):
                    tally, elapsed = run_phase(
                        port, args.clients, args.seconds, lambda i, d=dept: grant_check(d)
                    )
                    rates = {"grant checks": ("checks", TARGETS["grant_checks_per_s"])}
                    name = f"grant check, department holding {held} grant(s) on {RESOURCE}"
                    results[f"grants{held}"] = report(
                        name, tally, elapsed, rates, TARGETS["p99_ms"]
                    )
            stack.close()  # stops gunicorn before the demo phase
        if "demo" in phases and sqlite:
            with scratch_database("httpdemo") as demo_url:
                seed(demo_url, 1)
                with server("demo", demo_url, 1) as port:
                    warm = Client(port, Tally())
                    for _ in range(10):
                        _, started = warm.call("POST", "/api/v1/requests", "civil.clerk", _form())
                        keys.append(started["business_key"])
                    tally, elapsed = run_phase(
                        port, args.clients, args.seconds, lambda i: mixed(i, keys)
                    )
                    rates = {"task completions": ("completions", 0), "reads": ("reads", 0)}
                    results["demo"] = report(
                        "SQLite demo server (python -m web), mixed load",
                        tally,
                        elapsed,
                        rates,
                        TARGETS["demo_p99_ms"],
                    )
        elif "demo" in phases:
            print(
                "(the demo phase runs only without a PostgreSQL DATABASE_URL: the demo is SQLite)"
            )
    print("overall:", "PASS" if all(results.values()) else "FAIL", results)


if __name__ == "__main__":
    main()
