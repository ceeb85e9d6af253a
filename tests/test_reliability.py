"""Races and crashes: exactly one of two concurrent completions wins; a worker killed with SIGKILL
mid-sweep and restarted fires every due timer exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import create_engine, func, select

from engine.audit import AuditEvent
from engine.db import normalize_url
from engine.errors import Conflict
from engine.sharing.models import Grant
from engine.workflow import tasks
from engine.workflow.models import HumanTask, OutboxMessage, ProcessInstance
from tests.conftest import HUKOU

SCOPE = dict(
    granted_items=["公民身份号码"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定低保",
)


def test_two_officials_completing_the_same_task_one_wins_the_other_is_told_who(
    actors, session_factory, clock
):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def act(username, decision):
        form = (
            {"review_decision": "approve", **SCOPE}
            if decision == "approve"
            else {"review_decision": "refuse", "review_reason": "不符合条件"}
        )
        barrier.wait()
        try:
            with session_factory() as s, s.begin():
                tasks.complete(s, clock, task_id, actors.user(s, username), form)
            outcomes[username] = "ok"
        except Conflict as exc:
            outcomes[username] = exc

    threads = [
        threading.Thread(target=act, args=("pubsec.clerk", "approve")),
        threading.Thread(target=act, args=("pubsec.lead", "refuse")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [u for u, o in outcomes.items() if o == "ok"]
    losers = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    # names in the message's language (the tests': English)
    winner_name = (
        "Public Security Clerk" if winners[0] == "pubsec.clerk" else "Public Security Head"
    )
    assert f"already completed by {winner_name}" in str(losers[0])
    st = actors.status(key)
    completed = [t for t in st["tasks"] if t["task"] == "provider_review"]
    assert [(t["state"], t["completed_by"]) for t in completed] == [("completed", winner_name)]
    # state is consistent with the winner's decision, and nothing of the loser's was applied
    if winners[0] == "pubsec.clerk":
        assert st["status"] == "completed" and len(st["grants"]) == 1
    else:
        assert st["summary"]["decision"] == "refused" and st["grants"] == []
        assert [t["task"] for t in st["tasks"] if t["state"] == "open"] == ["after_refusal"]
    events = [e["kind"] for e in st["timeline"]]
    assert events.count("task_completed") == 1


def test_claim_race_tells_the_loser_who_holds_the_task(actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: tasks.claim(s, actors.clock, task_id, actors.user(s, "pubsec.clerk")))
    try:
        actors.run(lambda s: tasks.claim(s, actors.clock, task_id, actors.user(s, "pubsec.lead")))
    except Conflict as exc:
        assert "claimed by Public Security Clerk" in str(exc)
    else:
        raise AssertionError("second claim succeeded")


def _count(actors, stmt):
    return actors.run(lambda s: s.scalar(stmt))


def test_worker_killed_mid_sweep_then_restarted_fires_each_timer_exactly_once(actors, db_url):
    n = 200
    for _ in range(n):
        actors.request("civil.clerk", **HUKOU)
    due = "2026-10-01T00:00:01+08:00"  # every reminder (end of 2026-09-30) is due, no deadline yet
    assert (
        _count(
            actors,
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.next_due_at.is_not(None)),
        )
        == n
    )
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "engine.cli", "--now", due, "worker", "--once"]
    fired = select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "timers_fired")
    # a plain reader (no BEGIN IMMEDIATE): in WAL mode it never waits for the worker's writes
    reader = create_engine(normalize_url(db_url))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with reader.connect() as conn:
                if conn.scalar(fired) >= 5:
                    break
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.dispose()
    at_kill = _count(actors, fired)
    assert 5 <= at_kill < n, f"worker was not killed mid-sweep ({at_kill} of {n} fired)"
    subprocess.run(cmd, env=env, check=True, timeout=300, capture_output=True)
    assert _count(actors, fired) == n
    assert _reminders_per_instance(actors) == {1: n}
    assert (
        _count(
            actors,
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.status != "running"),
        )
        == 0
    )
    # nothing more is due until the deadline; a further sweep fires nothing
    subprocess.run(cmd, env=env, check=True, timeout=120, capture_output=True)
    assert _count(actors, fired) == n
    assert _count(actors, select(func.count()).select_from(Grant)) == 0
    assert (
        _count(actors, select(func.count()).select_from(HumanTask).where(HumanTask.state == "open"))
        == n
    )


def test_two_workers_sweeping_at_once_fire_each_timer_exactly_once(actors, engine):
    """Several `govshare worker` processes may run at once (docs/performance.md): each due
    instance is taken by one of them (FOR UPDATE SKIP LOCKED on PostgreSQL), none twice."""
    from engine.clock import FakeClock
    from engine.workflow.timers import sweep

    n = 60
    for _ in range(n):
        actors.request("civil.clerk", **HUKOU)
    due = FakeClock("2026-10-01T00:00:01+08:00")  # every reply reminder is due
    barrier = threading.Barrier(2)
    taken: list[int] = []

    def work():
        barrier.wait()
        taken.append(sweep(actors.factory, due))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    fired = select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "timers_fired")
    assert _count(actors, fired) == n
    assert sum(taken) == n, taken  # no instance taken by both
    assert _reminders_per_instance(actors) == {1: n}
    if engine.dialect.name == "postgresql":  # the two shared the work rather than queueing
        assert min(taken) > 0, taken


def _reminders_per_instance(actors) -> dict[int, int]:
    """How many instances got how many reply reminders ({1: n}: each of n exactly one)."""
    rows = actors.run(
        lambda s: s.execute(
            select(OutboxMessage.instance_id, func.count())
            .where(OutboxMessage.template == "reply_reminder")
            .group_by(OutboxMessage.instance_id)
        ).all()
    )
    per: dict[int, int] = {}
    for _, c in rows:
        per[c] = per.get(c, 0) + 1
    return per
