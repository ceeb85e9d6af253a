"""Timer worker: fire due timers exactly once.

Instances with ``next_due_at <= now`` are taken one per transaction, oldest due first, through the
``ix_instance_due`` index; on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so that several workers
share the load without taking the same instance. SpiffWorkflow fires a timer once its instant has
passed: an instance taken at the very instant finds nothing to fire yet, which is no incident.
The state change, the audit event and the notifications of a firing commit together: a worker
killed mid-sweep leaves each instance either fired (committed) or not (rolled back), and the next
sweep picks up the rest. The cost of a sweep is O(timers due), never O(instances stored).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import AuditEvent
from engine.clock import Clock
from engine.db import is_postgres
from engine.workflow.handlers import BackgroundRound, Job, handlers_of
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import (
    COMMAND_LOAD,
    MAX_AUTOMATIC_RETRIES,
    RETRY_BACKOFF,
    Failure,
    fire_timers,
    record_incident,
)
from engine.workflow.scripting import Element

log = logging.getLogger("govshare.worker")


def _claim_due(session: Session, clock: Clock, seen: set[int]) -> ProcessInstance | None:
    """The instance due first: running with a due timer, or in incident with its retry due."""
    stmt = (
        select(ProcessInstance)
        .where(
            ProcessInstance.next_due_at <= clock.now(),
            ProcessInstance.status.in_(("running", "incident")),
        )
        .order_by(ProcessInstance.next_due_at, ProcessInstance.id)
        .limit(1)
        # the command reads the state and the definition: taken in the same one statement
        .options(*COMMAND_LOAD)
        .execution_options(populate_existing=True)
    )
    if seen:
        stmt = stmt.where(ProcessInstance.id.not_in(seen))
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True, of=ProcessInstance)
    return session.scalar(stmt)


def sweep(
    session_factory: sessionmaker,
    clock: Clock,
    limit: int | None = None,
    on_fired: Callable[[str], None] | None = None,
) -> int:
    """Fire every due timer and retry every due incident, each instance at most once per sweep
    and in its own transaction; returns how many instances were taken. A failing instance
    becomes (or stays) an incident with its next retry pushed back; it never stops the sweep."""
    count, seen = 0, dict[int, bool]()  # instance id -> done (False while its command runs)
    while limit is None or count < limit:
        try:
            taken = _take_one(session_factory, clock, seen)
        except Exception:  # noqa: BLE001 - e.g. the commit failed: set that instance aside
            pending = [i for i, done in seen.items() if not done]
            if not pending:
                raise  # nothing was taken: the database itself is the problem
            log.exception("sweep: instance %s could not be saved; it is set aside", pending[0])
            _set_aside(session_factory, clock, pending[0])
            seen[pending[0]] = True
            continue
        if taken is None:
            return count
        key, outcome = taken
        count += 1
        log.info("%s: %s", key, outcome)
        if on_fired:
            on_fired(key)
    return count


def _take_one(
    session_factory: sessionmaker, clock: Clock, seen: dict[int, bool]
) -> tuple[str, str] | None:
    """Fire (or retry) the next due instance in its own transaction."""
    with session_factory() as session, session.begin():
        instance = _claim_due(session, clock, set(seen))
        if instance is None:
            return None
        seen[instance.id] = False
        key, due = instance.business_key, instance.next_due_at
        fired = fire_timers(session, clock, instance)
        if not fired and instance.status == "running" and _still_due(instance, clock):
            failure = Failure(Element("-"), f"timer due at {due} did not fire")
            record_incident(session, clock, instance, failure)
        outcome = "fired" if fired else instance.status
    seen[instance.id] = True
    return key, outcome


def _set_aside(session_factory: sessionmaker, clock: Clock, instance_id: int) -> None:
    """After a failure outside the command (the commit, recording the incident), push the
    instance back by the longest automatic backoff in a fresh transaction, so that the next
    sweeps serve the others; administrators find it among the incidents."""
    with session_factory() as session, session.begin():
        instance = session.get(ProcessInstance, instance_id)
        if instance is not None:
            instance.status = "incident"
            instance.incident = "the worker could not save this instance; see the worker's log"
            instance.next_due_at = clock.now() + RETRY_BACKOFF * 2**MAX_AUTOMATIC_RETRIES
            session.add(
                AuditEvent(
                    instance_id=instance.id,
                    at=clock.now(),
                    actor_id=None,
                    kind="incident",
                    detail={"element": "-", "error": instance.incident, "set_aside": True},
                )
            )


def _still_due(instance: ProcessInstance, clock: Clock) -> bool:
    """Past its due instant (strictly: at the instant itself SpiffWorkflow fires nothing yet)."""
    return instance.next_due_at is not None and instance.next_due_at < clock.now()


def run_worker(
    session_factory: sessionmaker,
    clock: Clock,
    interval: float = 5.0,
    stop: threading.Event | None = None,
    once: bool = False,
) -> None:
    """Until ``stop`` is set (or once): run the engine's periodic jobs (each in its own
    transaction, e.g. starting the yearly evaluation in January, turning the outbox into
    notifications) and sweep due timers. A failing job is logged and never keeps the others
    from running.

    The engine's background rounds (delivering e-mail and webhook messages) run meanwhile in
    threads of their own, so that a channel that hangs until its timeout never delays a timer;
    ``once`` runs each of them once after the sweep."""
    stop = stop or threading.Event()
    with session_factory() as session:
        handlers = handlers_of(session)
    threads = (
        []
        if once
        else _start_background(handlers.background, session_factory, clock, interval, stop)
    )
    try:
        while not stop.is_set():
            _tick(handlers.jobs, session_factory, clock, interval)
            if once:
                for background in handlers.background:
                    _background_round(background, session_factory, clock)
                return
            stop.wait(interval)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=interval)


def _tick(
    jobs: tuple[Job, ...], session_factory: sessionmaker, clock: Clock, interval: float
) -> None:
    for job in jobs:
        try:
            with session_factory() as session, session.begin():
                job(session, clock)
        except Exception:  # noqa: BLE001 - one failing job must not stop the worker
            log.exception("job %s failed; next try in %.0fs", job.__name__, interval)
    try:
        sweep(session_factory, clock)
    except Exception:  # noqa: BLE001 - e.g. the database went away; try again later
        log.exception("timer sweep failed; retrying in %.0fs", interval)


def _background_round(
    background: BackgroundRound, session_factory: sessionmaker, clock: Clock
) -> int:
    try:
        return background(session_factory, clock)
    except Exception:  # noqa: BLE001 - e.g. bad settings or the database went away
        log.exception("%s failed", background.__name__)
        return 0


def _start_background(
    rounds: tuple[BackgroundRound, ...],
    session_factory: sessionmaker,
    clock: Clock,
    interval: float,
    stop: threading.Event,
) -> list[threading.Thread]:
    """One daemon thread per round: repeat it at once while it finds work, else pause."""

    def loop(background: BackgroundRound) -> None:
        while not stop.is_set():
            if not _background_round(background, session_factory, clock):
                stop.wait(interval)

    threads = [
        threading.Thread(target=loop, args=(r,), name=r.__name__, daemon=True) for r in rounds
    ]
    for thread in threads:
        thread.start()
    return threads
