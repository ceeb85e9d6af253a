"""The web app over HTTP: gunicorn (deploy/gunicorn.conf.py) on loopback with 20 concurrent API
clients for a bounded time per phase, against a database of the run's own (bench/scratch.py).

    python bench/http_load.py [--seconds 20] [--clients 20] [--workers N] [--threads N]
                         [--grants 2000] [--phases flows,grants,demo] [--driver wrk|python]
                         [--app-root DIR]

The clients are Debian's ``wrk`` (``make wrk`` installs it) with ``bench/http_load.lua``, one
connection per wrk thread; ``--driver python`` runs the former 20 Python threads instead. Each
phase prints where the cores went: the load generator, the gunicorn processes, the PostgreSQL
backends serving the run's database and the rest of the machine (other users included), from
/proc; and the CPU the app and the database spent per request, which bounds the rate the
machine's cores allow them (docs/performance.md: either generator takes under a tenth of a
core at these rates; the app's CPU per request is what bounds them).
``--app-root`` serves the app of another checkout (its own ``.venv``), e.g. main's, with this
bench and this gunicorn configuration: before and after, side by side.

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
import resource  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
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
        scenario="YYCJ006",
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


CHECK = {
    "resource_code": RESOURCE,
    "info_items": ["公民身份号码"],
    "purpose": "核定低保",
    "scenario": "YYCJ006",
}


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
                "scenario": "YYCJ006",
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


@dataclass
class Server:
    port: int
    pid: int


@contextmanager
def server(kind: str, url: str, workers: int | None, threads: int | None, app_root: Path = ROOT):
    """gunicorn with the production configuration (this checkout's, serving ``app_root``'s app),
    or the demo server (``python -m web``)."""
    port = free_port()
    instance = tempfile.mkdtemp(prefix="govshare-bench-http-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    env.update(DATABASE_URL=url, GOVSHARE_INSTANCE=instance, PYTHONPATH=str(app_root))
    # the run's KEK (bench/scratch.py): the keys the bench made must open in the server
    env["GOVSHARE_KEY_ENCRYPTION_KEY"] = os.environ["GOVSHARE_KEY_ENCRYPTION_KEY"]
    python = sys.executable if app_root == ROOT else str(app_root / ".venv" / "bin" / "python")
    if kind == "gunicorn":
        env.update(
            GOVSHARE_SECRET_KEY=secrets.token_hex(32),
            GOVSHARE_WEB_BIND=f"127.0.0.1:{port}",
        )
        if workers:
            env["GOVSHARE_WEB_WORKERS"] = str(workers)
        if threads:
            env["GOVSHARE_WEB_THREADS"] = str(threads)
        cmd = [python, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
        cmd += ["--log-level", "warning", "web:create_app()"]
    else:
        env.update(GOVSHARE_DEMO="1", GOVSHARE_HOST="127.0.0.1", GOVSHARE_PORT=str(port))
        cmd = [python, "-m", "web"]
    log = open(Path(instance) / "server.log", "w+b")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=app_root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc, log)
        yield Server(port, proc.pid)
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


@dataclass
class Result:
    """One phase's outcome, whichever the driver: counts, errors, latency in ms."""

    requests: int
    elapsed: float
    counts: dict[str, int]
    errors: dict[str, int]
    latency: dict[str, float]  # p50, p95, p99, max, mean


def python_result(tally: Tally, elapsed: float) -> Result:
    lat = [x * 1000 for x in tally.latencies]
    q = {f"p{p}": percentile(lat, p) for p in (50, 95, 99)}
    q["max"] = max(lat, default=float("nan"))
    q["mean"] = statistics.mean(lat) if lat else float("nan")
    return Result(len(lat), elapsed, dict(tally.counts), dict(tally.errors), q)


# -- wrk -------------------------------------------------------------------------------------------
def run_wrk(port: int, clients: int, seconds: float, mode: str, keys: list[str] = ()) -> Result:
    """wrk with ``clients`` threads of one connection each running ``bench/http_load.lua``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: make wrk (or --driver python)")
    checker = f"{MANY_GRANTS if mode == 'grants-many' else ONE_GRANT}.clerk"
    cmd = [wrk, "-t", str(clients), "-c", str(clients), "-d", f"{seconds:.0f}s"]
    cmd += ["--timeout", "30s", "-s", str(ROOT / "bench" / "http_load.lua")]
    cmd += [f"http://127.0.0.1:{port}", "--", mode.split("-")[0]]
    cmd += [json.dumps(_form()), json.dumps(_approve()), json.dumps(CHECK), checker, ",".join(keys)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    w = json.loads(line[4:])
    counts = {"flows": w["completions"], **{k: w[k] for k in ("starts", "completions")}}
    counts.update(checks=w["checks"], reads=w["reads"])
    errors = {k: w[k] for k in ("failed", "connect", "read", "write", "timeout") if w[k]}
    if w["refused"]:
        errors["grant check refused"] = w["refused"]
    if w["status"]:
        errors["status >= 400"] = w["status"]
    latency = {k: w[k] / 1000 for k in ("p50", "p95", "p99", "max", "mean")}
    return Result(w["requests"], w["duration_us"] / 1e6, counts, errors, latency)


# -- where the cores go ------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, int, str]]:
    """Every process: pid -> (parent pid, CPU ticks used, command line)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), cmdline)
    return found


def _machine_ticks() -> int:
    with open("/proc/stat") as f:
        cpu = f.readline().split()[1:]
    return sum(int(x) for i, x in enumerate(cpu) if i not in (3, 4))  # all but idle, iowait


class CpuMeter:
    """CPU of one phase by who spent it: the load generator (this process and its reaped
    children: wrk), the server's process tree, the PostgreSQL backends of the run's database
    (their command line names it), and the rest of the machine."""

    def __init__(self, server_pid: int, database: str | None) -> None:
        self.server_pid, self.database = server_pid, database

    def _groups(self) -> dict[str, int]:
        procs = _processes()
        tree, grew = {self.server_pid}, True
        while grew:
            more = {pid for pid, (ppid, *_) in procs.items() if ppid in tree} - tree
            tree |= more
            grew = bool(more)
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        used = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        return {
            "load generator": round(used * TICK),
            "app (gunicorn)": sum(procs[p][1] for p in tree if p in procs),
            "PostgreSQL": sum(
                ticks
                for ppid, ticks, cmd in procs.values()
                if self.database and cmd.startswith("postgres:") and f" {self.database} " in cmd
            ),
            "machine": _machine_ticks(),
        }

    def __enter__(self) -> CpuMeter:
        self.t0, self.before = time.perf_counter(), self._groups()
        return self

    def __exit__(self, *_exc) -> None:
        after = self._groups()
        self.elapsed = time.perf_counter() - self.t0
        self.ticks = {k: after[k] - self.before.get(k, 0) for k in after}

    def cores(self) -> dict[str, float]:
        """Cores busy on average, by who: the rest of the machine is what was not ours."""
        busy = {k: v / TICK / self.elapsed for k, v in self.ticks.items()}
        ours = sum(v for k, v in busy.items() if k != "machine")
        busy["rest of the machine"] = max(0.0, busy.pop("machine") - ours)
        return busy


def report_cpu(cpu: CpuMeter, result: Result, unit: str, per: int) -> None:
    cores = cpu.cores()
    parts = "  ".join(f"{k} {v:.2f}" for k, v in cores.items())
    print(f"   CPU, cores busy (of {os.cpu_count()}): {parts}")
    if not per:
        return
    app = cores["app (gunicorn)"] + cores["PostgreSQL"]
    each = {
        k: v * 1000 * result.elapsed / per for k, v in cores.items() if k != "rest of the machine"
    }
    line = f"   CPU ms per {unit}: " + "  ".join(f"{k} {v:.1f}" for k, v in each.items())
    if app:  # the rate the machine's cores allow the app and its database, with no one else
        ceiling = per / result.elapsed / app * (os.cpu_count() or 1)
        line += f"; app + database: at most {ceiling:.0f} {unit}s/s on {os.cpu_count()} cores"
    print(line)


def report(name: str, result: Result, rates: dict[str, tuple[str, float]], p99: int) -> bool:
    q, elapsed = result.latency, result.elapsed
    verdicts = []
    print(
        f"== {name}: {result.requests} requests in {elapsed:.1f} s"
        f" ({result.requests / elapsed:.0f} req/s)"
    )
    for label, (counter, target) in rates.items():
        rate = result.counts.get(counter, 0) / elapsed
        ok = rate >= target
        verdicts.append(ok)
        print(f"   {label}: {rate:.1f}/s (target >= {target}) {'PASS' if ok else 'FAIL'}")
    ok = q["p99"] < p99 and not result.errors
    verdicts.append(ok)
    print(
        f"   latency ms: p50 {q['p50']:.1f}  p95 {q['p95']:.1f}  p99 {q['p99']:.1f}"
        f"  max {q['max']:.1f}  mean {q['mean']:.1f}"
        f"  (target p99 < {p99}) {'PASS' if q['p99'] < p99 else 'FAIL'}"
    )
    for what, n in sorted(result.errors.items()):
        print(f"   errors: {what}: {n}")
    return all(verdicts)


def measure(driver: str, srv: Server, database: str | None, clients: int, seconds: float, mode):
    """One phase with the chosen driver, and where the cores went meanwhile. wrk warms up
    for a few seconds first, not counted: every worker's first requests load the processes,
    forms and caches."""
    if driver == "wrk":
        run_wrk(srv.port, clients, WARM_UP, *mode)
    with CpuMeter(srv.pid, database) as cpu:
        if driver == "wrk":
            kind, keys = mode
            result = run_wrk(srv.port, clients, seconds, kind, keys)
        else:
            tally, elapsed = run_phase(srv.port, clients, seconds, PYTHON_WORK[mode[0]](mode[1]))
            result = python_result(tally, elapsed)
    return result, cpu


WARM_UP = 3  # seconds

PYTHON_WORK = {
    "flows": lambda keys: lambda i: flow,
    "grants-one": lambda keys: lambda i: grant_check(ONE_GRANT),
    "grants-many": lambda keys: lambda i: grant_check(MANY_GRANTS),
    "mixed": lambda keys: lambda i: mixed(i, keys),
}


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="per phase")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--workers", type=int, help="gunicorn workers (default: the configuration's)")
    ap.add_argument("--threads", type=int, help="threads per worker (default: the configuration's)")
    ap.add_argument("--grants", type=int, default=2000, help="grants of the many-grants department")
    ap.add_argument("--phases", default="flows,grants,demo")
    ap.add_argument("--driver", choices=("wrk", "python"), default="wrk")
    ap.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose app is served")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    results = {}
    app_root = args.app_root.resolve()
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database("http"))
        sqlite = url.startswith("sqlite")
        database = None if sqlite else url.rsplit("/", 1)[1]
        seed(url, args.grants)
        print(
            f"database: {'SQLite' if sqlite else 'PostgreSQL'}; app: {app_root};"
            f" gunicorn workers {args.workers or 'default'}, threads {args.threads or 'default'};"
            f" {args.clients} clients ({args.driver}), {args.seconds:.0f} s per phase;"
            f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        keys: list[str] = []
        if phases & {"flows", "grants"}:
            srv = stack.enter_context(server("gunicorn", url, args.workers, args.threads, app_root))
            if "flows" in phases:
                result, cpu = measure(
                    args.driver, srv, database, args.clients, args.seconds, ("flows", [])
                )
                rates = {
                    "flows (start + provider completes)": ("flows", 0),
                    "task completions": ("completions", TARGETS["completions_per_s"]),
                }
                results["flows"] = report("flows", result, rates, TARGETS["p99_ms"])
                report_cpu(cpu, result, "flow", result.counts.get("flows", 0))
            if "grants" in phases:
                for mode, held in (("grants-one", 1), ("grants-many", args.grants)):
                    result, cpu = measure(
                        args.driver, srv, database, args.clients, args.seconds, (mode, [])
                    )
                    rates = {"grant checks": ("checks", TARGETS["grant_checks_per_s"])}
                    name = f"grant check, department holding {held} grant(s) on {RESOURCE}"
                    results[f"grants{held}"] = report(name, result, rates, TARGETS["p99_ms"])
                    report_cpu(cpu, result, "check", result.counts.get("checks", 0))
            stack.close()  # stops gunicorn before the demo phase
        if "demo" in phases and sqlite:
            with scratch_database("httpdemo") as demo_url:
                seed(demo_url, 1)
                with server("demo", demo_url, None, None, app_root) as srv:
                    warm = Client(srv.port, Tally())
                    for _ in range(10):
                        _, started = warm.call("POST", "/api/v1/requests", "civil.clerk", _form())
                        keys.append(started["business_key"])
                    result, cpu = measure(
                        args.driver, srv, None, args.clients, args.seconds, ("mixed", keys)
                    )
                    rates = {"task completions": ("completions", 0), "reads": ("reads", 0)}
                    results["demo"] = report(
                        "SQLite demo server (python -m web), mixed load",
                        result,
                        rates,
                        TARGETS["demo_p99_ms"],
                    )
                    report_cpu(cpu, result, "request", result.requests)
        elif "demo" in phases:
            print(
                "(the demo phase runs only without a PostgreSQL DATABASE_URL: the demo is SQLite)"
            )
    print("overall:", "PASS" if all(results.values()) else "FAIL", results)


if __name__ == "__main__":
    main()
