"""Recomputing deadlines after a calendar notice: the cost grows with the deadlines the notice
touches, not with the instances stored. The same notice moves N deadlines' instances among a small
and a 10x larger stored population (the others' deadlines lie outside the changed days), measured
alternately in one run (median of R rounds; each round applies the notice and rolls it back).

    python bench/deadline_moves.py [--touched 100] [--small 1000] [--factor 10] [--rounds 7]

Prints the ratio larger / small: about 1 when the cost follows the deadlines touched. Each
database is the run's own (bench/scratch.py), dropped at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file's name would shadow the standard library's calendar module for everything imported
# after it: run with bench/ off the path, the project root on it, and bench/scratch.py by file.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack  # noqa: E402

from sqlalchemy import func, insert, select, text  # noqa: E402

from engine.app import build_engine  # noqa: E402
from engine.calendar.models import DeadlineRecord  # noqa: E402
from engine.clock import FakeClock  # noqa: E402
from engine.db import make_engine  # noqa: E402
from engine.directory import user_by_name  # noqa: E402
from engine.schema import upgrade  # noqa: E402
from engine.seed import seed_all  # noqa: E402
from engine.sharing import requests as share_requests  # noqa: E402
from engine.workflow.calendar_notices import apply_notice, notice_input  # noqa: E402
from engine.workflow.models import HumanTask, ProcessInstance  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_scratch", HERE / "scratch.py")
assert _spec is not None and _spec.loader is not None
_scratch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_scratch)
scratch_database = _scratch.scratch_database

FORM = dict(
    resource_code="JC-RK/0002",
    info_items=["公民身份号码", "变动类型"],
    purpose="核定城乡低保对象户籍状况",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2027-09-30",
)
NOTICE = {
    "scope": "regional",
    "reference": "宁政办发〔2026〕88号",
    "holidays": [{"day": "2026-09-24", "name": "开斋节"}],
}
TOUCHED_AT = "2026-09-18T10:00:00+08:00"  # its 10 working days cover 2026-09-24
ELSEWHERE_AT = "2026-11-02T10:00:00+08:00"  # its window lies after the changed day


def _clone(s, instance_id: int, n: int, serial: int) -> None:
    """``n`` copies of an instance (state, open task, deadline rows), inserted in bulk."""
    inst = s.get(ProcessInstance, instance_id)
    task = s.scalar(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
    )
    records = list(
        s.scalars(select(DeadlineRecord).where(DeadlineRecord.instance_id == instance_id))
    )
    skip = {"id", "business_key"}
    cols = {c.key: getattr(inst, c.key) for c in ProcessInstance.__table__.columns}
    tcols = {c.key: getattr(task, c.key) for c in HumanTask.__table__.columns}
    dcols = [{c.key: getattr(r, c.key) for c in DeadlineRecord.__table__.columns} for r in records]
    for start in range(0, n, 2000):
        base = s.scalar(select(func.max(ProcessInstance.id)))
        ids = [base + 1 + i for i in range(min(2000, n - start))]
        s.execute(
            insert(ProcessInstance),
            [
                {k: v for k, v in cols.items() if k not in skip}
                | {"id": i, "business_key": f"GX-2026-{serial}{i:07d}"}
                for i in ids
            ],
        )
        s.execute(
            insert(HumanTask),
            [{k: v for k, v in tcols.items() if k != "id"} | {"instance_id": i} for i in ids],
        )
        s.execute(
            insert(DeadlineRecord),
            [
                {k: v for k, v in d.items() if k != "id"} | {"instance_id": i}
                for i in ids
                for d in dcols
            ],
        )


def build(url: str, touched: int, stored: int) -> object:
    upgrade(url)
    factory = build_engine().sessions(make_engine(url))
    with factory() as s, s.begin():
        seed_all(s, FakeClock("2026-01-05T09:00:00+08:00"), demo=True)
    ids = []
    for at in (TOUCHED_AT, ELSEWHERE_AT):
        with factory() as s, s.begin():
            user = user_by_name(s, "civil.clerk")
            ids.append(share_requests.start_share_request(s, FakeClock(at), user, FORM).id)
    with factory() as s, s.begin():
        _clone(s, ids[0], touched - 1, 1)
        _clone(s, ids[1], stored - touched - 1, 2)
    if url.startswith("postgresql"):  # statistics, as autovacuum keeps them in production
        with factory() as s, s.begin():
            s.execute(text("ANALYZE"))
    return factory


def measure(args: argparse.Namespace, dbs: dict, t0: float) -> None:
    print(
        f"built {args.small} and {args.small * args.factor} stored instances "
        f"({args.touched} touched in each) in {time.perf_counter() - t0:.0f} s"
    )
    clock = FakeClock("2026-09-19T09:00:00+08:00")
    notice = notice_input(NOTICE)
    times: dict[str, list[float]] = {"small": [], "big": []}
    moved = {}
    for _ in range(args.rounds):
        for name, factory in dbs.items():
            with factory() as s:
                admin = user_by_name(s, "data.admin")
                started = time.perf_counter()
                report = apply_notice(s, clock, notice, admin)
                s.flush()
                times[name].append(time.perf_counter() - started)
                moved[name] = report.total
                s.rollback()
    small, big = statistics.median(times["small"]), statistics.median(times["big"])
    assert moved["small"] == moved["big"] == 2 * args.touched, moved
    print(
        f"recompute {moved['small']} deadlines: {small * 1000:.0f} ms among {args.small} stored, "
        f"{big * 1000:.0f} ms among {args.small * args.factor} stored"
    )
    print(
        f"ratio {args.factor}x stored / stored: {big / small:.2f} (about 1: cost follows the deadlines touched)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--touched", type=int, default=100)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with ExitStack() as stack:
        dbs = {
            name: build(stack.enter_context(scratch_database(f"calendar{n}")), args.touched, n)
            for name, n in (("small", args.small), ("big", args.small * args.factor))
        }
        measure(args, dbs, t0)


if __name__ == "__main__":
    main()
