"""What a command costs in SQL statements (issue 15, goal 1): a start, a claim, a completion and a
timer firing each stay within a stated budget, and the count does not grow with the instances
already stored. Counted with a ``before_cursor_execute`` listener on the engine; never timed.

The budgets are the statements each command needs today (SQLite counts its ``BEGIN IMMEDIATE``
where the command opens the transaction; PostgreSQL takes business keys on a connection of their
own, not counted here). Reference data (directory, rule sets, calendar, definitions) comes from
the per-process cache (engine/refcache.py) after one version query per transaction; a completion
and a timer firing also keep the figure tally in step (one upsert, engine/oversight/summary.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.audit import AuditEvent
from engine.clock import FakeClock
from engine.directory import user_by_name
from engine.sharing import requests as share_requests
from engine.trust import keys
from engine.workflow import tasks as task_service
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.timers import sweep
from tests import sql_counting
from tests.conftest import HUKOU

APPROVE = dict(
    review_decision="approve",
    granted_items=["公民身份号码"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定城乡低保对象户籍状况",
)
# per database: a command's new rows (audit events, outbox, facts, deadlines, task mirror) go out
# as one multi-row INSERT per table on both; the timer firing is the provider's missed reply (a
# breach, the coordination step, its notices); the completion issues a grant: its row and its
# items' rows (data_grant_item, which the art. 14 check reads) and signs the provider's reply
# (docs/trust.md): the department with its signing key in one read, the signature row (two more). Each command
# is counted up to and including its commit: the audit chain (issue 16) writes the command's audit
# events at the commit, after locking the chain head (one SELECT … FOR UPDATE) and then moving the
# head on (one UPDATE): two statements more per command than before, the audit INSERT unchanged
BUDGET = {
    "sqlite": {"start": 14, "claim": 8, "complete": 17, "timer": 16},
    "postgresql": {"start": 14, "claim": 8, "complete": 17, "timer": 15},
}


def statements(engine):
    """The SQL statements run inside the block."""
    return sql_counting.statements(engine, flat=True)


def signed_in(session, username):
    """The user as a request has them: loaded with their department before the command runs."""
    user = user_by_name(session, username)
    assert user.department.name
    return user


def commands(factory, engine, clock) -> dict[str, list[str]]:
    """The statements of one start, one claim and one completion on a new request, and of one
    timer firing (the worker takes the instance due first, as in production)."""
    seen: dict[str, list[str]] = {}
    with factory() as s, s.begin():  # the provider has signed before (docs/trust.md)
        keys.generate(s, clock, "pubsec")
    with factory() as s, s.begin():
        clerk = signed_in(s, "civil.clerk")
        with statements(engine) as seen["start"]:
            key = share_requests.start_share_request(s, clock, clerk, HUKOU).business_key
            s.commit()  # the audit events are chained and written at the commit
    with factory() as s:
        task_id = s.scalar(
            select(HumanTask.id)
            .join(ProcessInstance)
            .where(ProcessInstance.business_key == key, HumanTask.state == "open")
        )
    for name, act in (
        ("claim", lambda s, user: task_service.claim(s, clock, task_id, user)),
        ("complete", lambda s, user: task_service.complete(s, clock, task_id, user, APPROVE)),
    ):
        clock.advance(minutes=5)  # as in use: a command later than the one before it
        with factory() as s, s.begin():
            official = signed_in(s, "pubsec.clerk")
            with statements(engine) as seen[name]:
                act(s, official)
                s.commit()
    later = FakeClock(clock.now() + timedelta(days=30))
    with statements(engine) as seen["timer"]:
        assert sweep(factory, later, limit=1) == 1
    return seen


def start_requests(factory, clock, n):
    for _ in range(n):
        with factory() as s, s.begin():
            share_requests.start_share_request(s, clock, user_by_name(s, "civil.clerk"), HUKOU)


@pytest.fixture
def measured(session_factory, engine, clock):
    """The statements of each command with 5 instances stored, then with 50."""
    start_requests(session_factory, clock, 5)
    few = commands(session_factory, engine, clock)
    start_requests(session_factory, clock, 45)
    many = commands(session_factory, engine, clock)
    return few, many


def test_each_command_stays_within_its_budget(measured, engine):
    few, many = measured
    for name, budget in BUDGET[engine.dialect.name].items():
        assert len(few[name]) <= budget, (name, few[name])
        assert len(many[name]) <= budget, (name, many[name])


def test_the_statements_do_not_grow_with_the_instances_stored(measured):
    few, many = measured
    assert {k: len(v) for k, v in few.items()} == {k: len(v) for k, v in many.items()}


def _touching(seen, verb, table):
    return [s for s in seen if s.upper().startswith(verb) and f" {table} " in f"{s} "]


def test_a_start_inserts_its_instance_once_with_its_state(measured):
    start = measured[0]["start"]
    inserts = _touching(start, "INSERT", "process_instance")
    assert len(inserts) == 1 and "state" in inserts[0]
    assert _touching(start, "UPDATE", "process_instance") == []


def test_a_task_command_locks_its_instance_once_and_writes_the_task_once(measured, engine):
    for name in ("claim", "complete"):
        seen = measured[0][name]
        reads = [s for s in seen if s.startswith("SELECT") and "FROM process_instance" in s]
        assert len(reads) == 1, (name, reads)
        assert "process_definition" in reads[0] and "process_instance.state" in reads[0]
        if engine.dialect.name == "postgresql":
            assert "FOR UPDATE" in reads[0]
        assert not any(s.startswith("SELECT process_definition") for s in seen), name
        assert len(_touching(seen, "UPDATE", "human_task")) == 1, name
        assert len([s for s in seen if s.startswith("SELECT human_task")]) == 1, name


def test_the_worker_takes_an_instance_with_its_state_and_definition_at_once(measured):
    timer = measured[0]["timer"]
    reads = [s for s in timer if s.startswith("SELECT") and "FROM process_instance" in s]
    assert len(reads) == 1
    assert "process_definition" in reads[0] and "process_instance.state" in reads[0]
    assert not any(s.startswith("SELECT process_definition") for s in timer)
    assert len(_touching(timer, "UPDATE", "process_instance")) == 1


def test_a_command_inserts_into_each_table_once(measured):
    """Its new rows (audit events, outbox, facts, deadlines, task mirror) go out together."""
    for name in ("start", "complete", "timer"):
        inserts = [s.split()[2] for s in measured[0][name] if s.startswith("INSERT INTO")]
        assert len(inserts) == len(set(inserts)), (name, inserts)


def test_the_events_of_a_command_keep_the_order_they_happened_in(session_factory, clock):
    """The history lists a request's events in the order they were recorded: a completion's
    own event comes before the grant it issued, whichever way each was written."""
    with session_factory() as s, s.begin():
        clerk = signed_in(s, "civil.clerk")
        instance_id = share_requests.start_share_request(s, clock, clerk, HUKOU).id
    with session_factory() as s, s.begin():
        task_id = s.scalar(
            select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, HumanTask.state == "open"
            )
        )
        task_service.complete(s, clock, task_id, signed_in(s, "pubsec.clerk"), APPROVE)
    with session_factory() as s:
        kinds = s.scalars(
            select(AuditEvent.kind)
            .where(AuditEvent.instance_id == instance_id)
            .order_by(AuditEvent.id)
        ).all()
    assert kinds[0] == "started"
    assert kinds.index("task_completed") < kinds.index("grant_issued")
