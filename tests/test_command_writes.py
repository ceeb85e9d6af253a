"""How a command writes its instance and task rows (issue 15, goal 1): with Core statements of its
own instead of the unit of work, keeping what the unit of work guaranteed — the instance is
written only at the version it was read at, a savepoint rolled back takes back what was written,
and the session's objects say what the database holds."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from engine import db as engine_db
from engine.workflow import tasks as task_service
from engine.workflow.models import HumanTask, ProcessInstance
from tests import sql_counting
from tests.conftest import HUKOU

APPROVE = dict(
    review_decision="approve",
    granted_items=["公民身份号码"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定城乡低保对象户籍状况",
)


def _instance(session, business_key):
    return session.scalars(
        select(ProcessInstance).where(ProcessInstance.business_key == business_key)
    ).one()


def test_an_instance_whose_version_moved_is_not_overwritten(actors, session_factory):
    """Another writer changed the instance after it was read: the write is refused as the unit
    of work refused it (StaleDataError), and the other writer's change stands."""
    key = actors.request("civil.clerk", **HUKOU)
    with session_factory() as s, s.begin():
        inst = _instance(s, key)
        read_at = inst.version
        s.execute(  # the other writer, behind the session's back
            update(ProcessInstance)
            .where(ProcessInstance.id == inst.id)
            .values(version=read_at + 1, incident="changed elsewhere")
            .execution_options(synchronize_session=False)
        )
        with pytest.raises(StaleDataError):
            engine_db.update_object(s, inst, status="completed")
        s.rollback()
    with session_factory() as s:
        row = _instance(s, key)
        assert (row.status, row.version, row.incident) == ("running", 1, None)


def test_a_completion_writes_instance_and_task_once_and_leaves_nothing_to_flush(
    actors, session_factory, clock, engine
):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    with session_factory() as s, s.begin():
        official = actors.user(s, "pubsec.clerk")
        with sql_counting.statements(engine, flat=True) as seen:
            task_service.complete(s, clock, task_id, official, APPROVE)
            s.flush()  # anything the command left to the unit of work would go out here
        inst = _instance(s, key)
        assert not s.new and inst not in s.dirty
    updates = [x for x in seen if x.startswith("UPDATE process_instance")]
    assert len(updates) == 1 and "version" in updates[0]
    assert len([x for x in seen if x.startswith("UPDATE human_task")]) == 1
    with session_factory() as s:
        row = _instance(s, key)
        task = s.get(HumanTask, task_id)
        assert (row.status, row.version, row.summary["decision"]) == (
            "completed",
            2,
            "granted_in_part",
        )
        assert (task.state, task.completed_by.username) == ("completed", "pubsec.clerk")


def test_a_failure_after_the_writes_keeps_the_completion_and_records_an_incident(
    actors, session_factory, clock, monkeypatch
):
    """The command's rows fail to go out after the instance and task were written: the savepoint
    rolls back, the objects forget what it wrote, and the completion is saved alone with an
    incident, at the version the database holds."""
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    real_write = engine_db.DeferredRows.write
    calls = []

    def failing_once(self, session):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return real_write(self, session)

    monkeypatch.setattr(engine_db.DeferredRows, "write", failing_once)
    with session_factory() as s, s.begin():
        task_service.complete(s, clock, task_id, actors.user(s, "pubsec.clerk"), APPROVE)
    monkeypatch.undo()
    with session_factory() as s:
        row = _instance(s, key)
        task = s.get(HumanTask, task_id)
        assert row.status == "incident" and "disk full" in row.incident
        assert task.state == "completed"
        assert row.version == 3  # the completion alone, then the incident: one bump each
    st = actors.status(key)
    assert [e["kind"] for e in st["timeline"]].count("task_completed") == 1
