"""Timer worker: fire due timers exactly once.

Instances with ``next_due_at <= now`` are taken one per transaction, oldest due first, through the
``ix_instance_due`` index; on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so that several workers
share the load without taking the same instance. The state change, the audit event and the
notifications of a firing commit together: a worker killed mid-sweep leaves each instance either
fired (committed) or not (rolled back), and the next sweep picks up the rest. The cost of a sweep
is O(timers due), never O(instances stored).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import Clock
from engine.db import is_postgres
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import fire_timers

log = logging.getLogger("govshare.worker")


def _claim_due(session: Session, clock: Clock) -> ProcessInstance | None:
    stmt = (
        select(ProcessInstance)
        .where(ProcessInstance.next_due_at <= clock.now(), ProcessInstance.status == "running")
        .order_by(ProcessInstance.next_due_at)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True, of=ProcessInstance)
    return session.scalar(stmt)


def sweep(
    session_factory: sessionmaker,
    clock: Clock,
    limit: int | None = None,
    on_fired: Callable[[str], None] | None = None,
) -> int:
    """Fire every due timer (at most ``limit`` instances); returns how many instances fired."""
    count = 0
    while limit is None or count < limit:
        with session_factory() as session, session.begin():
            instance = _claim_due(session, clock)
            if instance is None:
                return count
            key = instance.business_key
            fired = fire_timers(session, clock, instance)
            if (
                not fired
                and instance.status == "running"
                and instance.next_due_at
                and instance.next_due_at <= clock.now()
            ):
                instance.status = "incident"
                instance.incident = f"timer due at {instance.next_due_at.isoformat()} did not fire"
        count += 1
        log.info("fired timers of %s", key)
        if on_fired:
            on_fired(key)
    return count


def run_worker(
    session_factory: sessionmaker,
    clock: Clock,
    interval: float = 5.0,
    stop: threading.Event | None = None,
    once: bool = False,
) -> None:
    """Sweep timers and drain the outbox until ``stop`` is set (or once)."""
    from engine.oversight.evaluation import start_due_campaigns
    from notifications.outbox import drain

    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            with session_factory() as session, session.begin():
                start_due_campaigns(session, clock)
            sweep(session_factory, clock)
            with session_factory() as session, session.begin():
                drain(session, clock)
        except Exception:  # noqa: BLE001 - the loop must survive one bad sweep
            log.exception("timer sweep failed; retrying in %.0fs", interval)
        if once:
            return
        stop.wait(interval)
