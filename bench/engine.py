"""Engine overhead: N share requests through the persisted engine vs the same BPMN paths run in
memory with bare SpiffWorkflow, measured side by side in one run (interleaved rounds, median).

    python bench/engine.py [N] [--rounds R]

Runs on a database of its own (bench/scratch.py): a temporary SQLite file, or with a PostgreSQL
DATABASE_URL a new database on that server, dropped at the end.

Also runs the FLOOR: the same BPMN path with bare SpiffWorkflow plus, per command, what a
persisted command cannot do without, through the same driver (SQLAlchemy Core on two scratch
tables of the same database): the start inserts the state and the human task; the approval reads
the state, writes it back and completes the human task. Each command is one transaction.

Prints govshare / floor (wall clock, and CPU time of the bench's own process, which on SQLite
includes the database's work and on PostgreSQL leaves the server's out), govshare / bare, the stored bytes per instance, and the SQL statements
per command (counted with a ``before_cursor_execute`` listener) for govshare and the floor.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_database  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    func,
    insert,
    select,
    update,
)

from engine.app import build_engine
from engine.calendar import WorkingCalendar
from engine.clock import FakeClock, using_clock
from engine.db import make_engine
from engine.directory import user_by_name
from engine.schema import upgrade
from engine.seed import seed_all
from engine.sharing import requests as share_requests
from engine.workflow import runtime, tasks
from engine.workflow.deployment import SERIALIZER, default_processes_dir
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.runtime import dump_state, load_state

FORM = dict(
    resource_code="JC-RK/0002",
    info_items=["公民身份号码", "变动类型"],
    purpose="核定城乡低保对象户籍状况",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2027-09-30",
)
APPROVE = dict(
    review_decision="approve",
    granted_items=["公民身份号码"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定低保",
)


def bare_setup():
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(p) for p in default_processes_dir().glob("*.bpmn")])
    spec, subs = parser.get_spec("share_request"), parser.get_subprocess_specs("share_request")
    cal = WorkingCalendar()
    helpers = {
        "deadline": lambda s, n: cal.deadline(s, int(n)).due_at.isoformat(),
        "now": lambda: "2026-09-18T10:00:00+08:00",
        "notify": lambda *a, **k: None,
        "record_breach": lambda *a, **k: None,
        "issue_grant": lambda *a, **k: None,
        "record": lambda **k: None,
        "fact": lambda *a, **k: None,
        "perform": lambda *a, **k: None,
    }
    return spec, subs, PythonScriptEngine(environment=TaskDataEnvironment(helpers))


def bare_run(n, spec, subs, script_engine, clock):
    with using_clock(clock):
        for _ in range(n):
            wf = BpmnWorkflow(spec, subs, script_engine=script_engine)
            start = wf.get_next_task(state=TaskState.READY)
            start.data.update(
                {
                    **FORM,
                    "resource_id": 1,
                    "share_type": "conditional",
                    "submitted_at": "2026-09-18T10:00:00+08:00",
                    "reply_days": 10,
                    "reminder_days_before": 2,
                    "negotiation_days": 10,
                    "direct_negotiation": False,
                }
            )
            wf.do_engine_steps()
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            task.data.update(APPROVE)
            task.run()
            wf.do_engine_steps()
            assert wf.completed


FLOOR_META = MetaData()
FLOOR_INSTANCE = Table(
    "bench_floor_instance",
    FLOOR_META,
    Column("id", Integer, primary_key=True),
    Column("state", LargeBinary),
    Column("status", String(20)),
)
FLOOR_TASK = Table(
    "bench_floor_task",
    FLOOR_META,
    Column("id", Integer, primary_key=True),
    Column("instance_id", Integer),
    Column("spiff_task_id", String(36)),
    Column("state", String(20)),
)


def _start_data():
    return {
        **FORM,
        "resource_id": 1,
        "share_type": "conditional",
        "submitted_at": "2026-09-18T10:00:00+08:00",
        "reply_days": 10,
        "reminder_days_before": 2,
        "negotiation_days": 10,
        "direct_negotiation": False,
    }


def floor_start(db, spec, subs, script_engine):
    """The floor's start: run the BPMN path to the provider's task, insert state and task."""
    wf = BpmnWorkflow(spec, subs, script_engine=script_engine)
    wf.get_next_task(state=TaskState.READY).data.update(_start_data())
    wf.do_engine_steps()
    task = wf.get_next_task(state=TaskState.READY, manual=True)
    with db.begin() as conn:
        inst_id = conn.execute(
            insert(FLOOR_INSTANCE).values(state=dump_state(wf), status="running")
        ).inserted_primary_key[0]
        task_id = conn.execute(
            insert(FLOOR_TASK).values(instance_id=inst_id, spiff_task_id=str(task.id), state="open")
        ).inserted_primary_key[0]
    return inst_id, task_id


def floor_complete(db, spec, subs, script_engine, inst_id, task_id):
    """The floor's approval: read the state (locked), complete the task, write both back."""
    with db.begin() as conn:
        blob = conn.scalar(
            select(FLOOR_INSTANCE.c.state).where(FLOOR_INSTANCE.c.id == inst_id).with_for_update()
        )
        wf = _load_bare(blob, spec, subs, script_engine)
        task = wf.get_next_task(state=TaskState.READY, manual=True)
        task.data.update(APPROVE)
        task.run()
        wf.do_engine_steps()
        assert wf.completed
        conn.execute(
            update(FLOOR_INSTANCE)
            .where(FLOOR_INSTANCE.c.id == inst_id)
            .values(state=dump_state(wf), status="completed")
        )
        conn.execute(update(FLOOR_TASK).where(FLOOR_TASK.c.id == task_id).values(state="completed"))


class _FloorDefinition:  # load_state needs only the cached spec objects of a definition
    id = -1
    content_hash = "bench-floor"


def _load_bare(blob, spec, subs, script_engine):
    runtime._SPEC_CACHE[-1] = ("bench-floor", spec, subs)
    wf = load_state(_FloorDefinition, blob)
    wf.script_engine = script_engine
    return wf


def floor_run(n, db, spec, subs, script_engine, clock):
    with using_clock(clock):
        for _ in range(n):
            inst_id, task_id = floor_start(db, spec, subs, script_engine)
            floor_complete(db, spec, subs, script_engine, inst_id, task_id)


@contextlib.contextmanager
def counting(engine):
    """The number of SQL statements run inside the block (a one-item list, filled at exit)."""
    seen = [0]

    def listen(*_args):
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def govshare_counts(engine, factory, clock):
    """Statements of one start and one approval (the commands alone, not the bench's lookups)."""
    with factory() as s, s.begin():
        clerk = user_by_name(s, "civil.clerk")
        with counting(engine) as start_n:
            inst_id = share_requests.start_share_request(s, clock, clerk, FORM).id
    with factory() as s:
        approver = user_by_name(s, "pubsec.clerk")
        task_id = s.scalar(
            select(HumanTask.id).where(HumanTask.instance_id == inst_id, HumanTask.state == "open")
        )
        s.commit()
        with counting(engine) as done_n, s.begin():
            tasks.complete(s, clock, task_id, approver, APPROVE)
    return start_n[0], done_n[0]


def floor_counts(engine, db, spec, subs, script_engine, clock):
    with using_clock(clock):
        with counting(engine) as start_n:
            inst_id, task_id = floor_start(db, spec, subs, script_engine)
        with counting(engine) as done_n:
            floor_complete(db, spec, subs, script_engine, inst_id, task_id)
    return start_n[0], done_n[0]


def persisted_run(n, factory, clock):
    for _ in range(n):
        with factory() as s, s.begin():
            inst = share_requests.start_share_request(
                s, clock, user_by_name(s, "civil.clerk"), FORM
            )
            inst_id = inst.id
        with factory() as s, s.begin():
            task_id = s.scalar(
                select(HumanTask.id).where(
                    HumanTask.instance_id == inst_id, HumanTask.state == "open"
                )
            )
            tasks.complete(s, clock, task_id, user_by_name(s, "pubsec.clerk"), APPROVE)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with scratch_database("engine") as url:
        run(args, url)


def run(args: argparse.Namespace, url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    factory = build_engine().sessions(engine)
    clock = FakeClock("2026-09-18T10:00:00+08:00")
    with factory() as s, s.begin():
        seed_all(s, clock, demo=True)
    FLOOR_META.create_all(engine)
    spec, subs, se = bare_setup()
    bare_run(5, spec, subs, se, clock)  # warm caches on all sides
    floor_run(5, engine, spec, subs, se, clock)
    persisted_run(5, factory, clock)
    bare_t, floor_t, pers_t = [], [], []
    floor_cpu, pers_cpu = [], []  # CPU time of this process (SQLite's work included, not PG's)
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        bare_run(args.n, spec, subs, se, clock)
        t1, c1 = time.perf_counter(), time.process_time()
        floor_run(args.n, engine, spec, subs, se, clock)
        t2, c2 = time.perf_counter(), time.process_time()
        persisted_run(args.n, factory, clock)
        t3, c3 = time.perf_counter(), time.process_time()
        bare_t.append(t1 - t0)
        floor_t.append(t2 - t1)
        pers_t.append(t3 - t2)
        floor_cpu.append(c2 - c1)
        pers_cpu.append(c3 - c2)
    cpu_ratios = [p / f for p, f in zip(pers_cpu, floor_cpu, strict=True)]
    ratios = [p / b for p, b in zip(pers_t, bare_t, strict=True)]
    floor_ratios = [p / f for p, f in zip(pers_t, floor_t, strict=True)]
    gov_start, gov_done = govshare_counts(engine, factory, clock)
    floor_start_n, floor_done_n = floor_counts(engine, engine, spec, subs, se, clock)
    with factory() as s:
        count = s.scalar(select(func.count()).select_from(ProcessInstance))
        state_bytes = s.scalar(select(func.sum(func.length(ProcessInstance.state))))
        one = s.scalars(select(ProcessInstance).limit(1)).one()
        raw_json = len(zlib.decompress(one.state))
    wf = BpmnWorkflow(spec, subs)
    with_spec = len(SERIALIZER.serialize_json(wf))
    print(
        f"database: {engine.dialect.name}; {args.n} share requests (start + approve) per round, {args.rounds} rounds"
    )
    print(
        f"bare SpiffWorkflow in memory: median {statistics.median(bare_t) * 1000 / args.n:.2f} ms/request"
    )
    print(
        f"floor (bare + 1 state, 1 task write): median {statistics.median(floor_t) * 1000 / args.n:.2f} ms/request"
    )
    print(
        f"govshare persisted engine:    median {statistics.median(pers_t) * 1000 / args.n:.2f} ms/request"
    )
    print(
        f"govshare/floor:               median {statistics.median(floor_ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in floor_ratios)})"
    )
    print(
        f"CPU of this process:          govshare {statistics.median(pers_cpu) * 1000 / args.n:.2f} ms/request, "
        f"floor {statistics.median(floor_cpu) * 1000 / args.n:.2f}; govshare/floor median "
        f"{statistics.median(cpu_ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in cpu_ratios)})"
    )
    print(
        f"govshare/bare:                median {statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(
        f"statements per command:       govshare start {gov_start}, approve {gov_done}; "
        f"floor start {floor_start_n}, approve {floor_done_n}"
    )
    print(
        f"stored state per instance:    {state_bytes / count:.0f} bytes compressed ({raw_json} bytes JSON without spec; "
        f"a bare SpiffWorkflow serialization with its spec is {with_spec} bytes for a fresh instance)"
    )


if __name__ == "__main__":
    main()
