"""The delivery worker: claim due deliveries, send them outside any transaction, record the outcome.

A round claims a batch of due deliveries in one short transaction (on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so that workers share the queue without taking the same row; SQLite
has one writer at a time). Claiming sets ``status = "sending"``, a random claim token and a lease
(``next_attempt_at`` = now + lease) and counts the attempt. The messages are then sent one by one
with the channel's timeouts and no database transaction open; each outcome is recorded in its own
short transaction: ``sent``; or ``pending`` again after an exponential backoff; or ``dead`` after
the configured number of attempts (an audit event, and the dead letter waits for an
administrator's retry, :mod:`notifications.dead_letters`).

A worker killed with SIGKILL leaves its batch ``sending``; when the lease expires any worker
takes it again. So a message is sent at least once, and twice only if the worker died after the
receiver accepted it and before the outcome was recorded (at most the one message in flight per
killed worker): receivers drop the repeat by its key (:mod:`notifications.delivery`). A worker
whose batch takes longer than half its lease renews the lease before each further message and
skips any message another worker has taken meanwhile.

The worker runs this in its own thread (:func:`deliver_in_background`, registered in
:mod:`engine.app`), never in the timer sweep: a hanging SMTP server delays e-mail, not deadlines.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urljoin

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import record
from engine.clock import Clock
from engine.db import is_postgres
from notifications.channels import smtp, webhook
from notifications.delivery import Delivery
from notifications.outgoing import DeliveryFailed, Outgoing
from notifications.settings import DeliverySettings, enabled_channels, from_environ

log = logging.getLogger("govshare.delivery")

LEASE_LOST = "the worker sending it stopped (its lease expired) after the last attempt"


@dataclass
class Round:
    """What one call of :func:`deliver_due` did."""

    sent: list[str] = field(default_factory=list)  # keys
    failed: list[str] = field(default_factory=list)  # keys to be retried
    dead: list[str] = field(default_factory=list)  # keys dead-lettered

    @property
    def attempts(self) -> int:
        return len(self.sent) + len(self.failed) + len(self.dead)


def worker_name() -> str:
    """Which worker sends: host and process id (the ``X-Govshare-Sender`` header)."""
    return f"{socket.gethostname()}/{os.getpid()}"


def deliver_due(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: DeliverySettings,
    limit: int | None = None,
    only: int | None = None,
) -> Round:
    """Send due deliveries, batch by batch, until none is due or ``limit`` were attempted;
    ``only``: just that delivery, if due (``send-test``). Channels that are not configured are
    left pending."""
    done = Round()
    while limit is None or done.attempts < limit:
        size = settings.batch if limit is None else min(settings.batch, limit - done.attempts)
        token, batch = _claim(session_factory, clock, settings, size, done, only)
        if not batch:
            return done
        _send_batch(session_factory, clock, settings, token, batch, done)
    return done


def deliver_in_background(session_factory: sessionmaker[Session], clock: Clock) -> int:
    """One round of the worker's delivery thread, with the settings of the environment;
    returns how many deliveries it attempted (0: nothing due, the thread pauses)."""
    return deliver_due(session_factory, clock, from_environ(), limit=100).attempts


def _claim(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: DeliverySettings,
    size: int,
    done: Round,
    only: int | None,
) -> tuple[str, list[Outgoing]]:
    """Take up to ``size`` due deliveries in one transaction: expired leases first, then pending."""
    channels = enabled_channels(settings)
    token = secrets.token_hex(8)
    if not channels:
        return token, []
    sender = worker_name()
    with session_factory() as session, session.begin():
        now = clock.now()
        rows: list[Delivery] = []
        for status in ("sending", "pending"):
            stmt = (
                select(Delivery)
                .where(
                    Delivery.status == status,
                    Delivery.next_attempt_at <= now,
                    Delivery.channel.in_(channels),
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(size - len(rows))
                .execution_options(populate_existing=True)
            )
            if only is not None:
                stmt = stmt.where(Delivery.id == only)
            if is_postgres(session):
                stmt = stmt.with_for_update(skip_locked=True)
            rows += session.scalars(stmt).all()
            if len(rows) >= size:
                break
        batch = []
        for row in rows:
            if row.status == "sending" and row.attempts >= settings.max_attempts:
                _bury(session, now, row, LEASE_LOST)
                done.dead.append(row.key)
                continue
            row.status, row.claim = "sending", token
            row.attempts += 1
            row.next_attempt_at = now + timedelta(seconds=settings.lease_seconds)
            batch.append(_outgoing(row, settings, sender))
    return token, batch


def _outgoing(row: Delivery, settings: DeliverySettings, sender: str) -> Outgoing:
    link = row.link
    if link and settings.base_url and not link.startswith(("http://", "https://")):
        link = urljoin(settings.base_url + "/", link.lstrip("/"))
    return Outgoing(
        id=row.id,
        key=row.key,
        channel=row.channel,
        address=row.address,
        subject=row.subject,
        text=row.text,
        link=link,
        data=dict(row.data or {}),
        urgent=row.urgent,
        created_at=row.created_at,
        attempt=row.attempts,
        sender=sender,
    )


def _send_batch(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: DeliverySettings,
    token: str,
    batch: list[Outgoing],
    done: Round,
) -> None:
    lease = timedelta(seconds=settings.lease_seconds)
    renew_at = clock.now() + lease / 2
    for i, out in enumerate(batch):
        if clock.now() >= renew_at:
            owned = _renew(session_factory, clock, lease, token, [o.id for o in batch[i:]])
            renew_at = clock.now() + lease / 2
            if out.id not in owned:
                continue  # another worker took it after our lease ran out
        try:
            _send(settings, out, clock.now())
        except DeliveryFailed as err:
            log.warning("delivery %s (attempt %s) failed: %s", out.key, out.attempt, err)
            dead = _record_failure(session_factory, clock, settings, token, out, str(err))
            (done.dead if dead else done.failed).append(out.key)
            continue
        _record_sent(session_factory, clock, out)
        done.sent.append(out.key)


def _send(settings: DeliverySettings, out: Outgoing, now: datetime) -> None:
    if out.channel == "email":
        smtp.send(settings.smtp, out)
    else:
        webhook.post(settings.webhook, out, int(now.timestamp()))


def _renew(
    session_factory: sessionmaker[Session],
    clock: Clock,
    lease: timedelta,
    token: str,
    ids: list[int],
) -> set[int]:
    """Extend the lease of the batch's remaining deliveries that are still ours."""
    with session_factory() as session, session.begin():
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.claim == token, Delivery.status == "sending")
            .values(next_attempt_at=clock.now() + lease)
        )
        return set(
            session.scalars(
                select(Delivery.id).where(Delivery.id.in_(ids), Delivery.claim == token)
            )
        )


def _record_sent(session_factory: sessionmaker[Session], clock: Clock, out: Outgoing) -> None:
    """The receiver accepted it: sent, whoever holds the claim now (it was delivered)."""
    with session_factory() as session, session.begin():
        session.execute(
            update(Delivery)
            .where(Delivery.id == out.id, Delivery.status != "sent")
            .values(status="sent", sent_at=clock.now(), claim=None, last_error=None)
        )


def _record_failure(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: DeliverySettings,
    token: str,
    out: Outgoing,
    error: str,
) -> bool:
    """Back off, or bury after the last attempt; True if the delivery is now dead. A delivery
    another worker has claimed meanwhile is left to that worker."""
    with session_factory() as session, session.begin():
        row = session.scalar(
            select(Delivery)
            .where(Delivery.id == out.id, Delivery.claim == token, Delivery.status == "sending")
            .execution_options(populate_existing=True)
        )
        if row is None:
            return False
        now = clock.now()
        if row.attempts >= settings.max_attempts:
            _bury(session, now, row, error)
            return True
        row.status, row.claim, row.last_error = "pending", None, error[:2000]
        row.next_attempt_at = now + timedelta(seconds=settings.backoff(row.attempts))
        return False


def _bury(session: Session, now: datetime, row: Delivery, error: str) -> None:
    """Make ``row`` a dead letter, with an audit event."""
    row.status, row.claim, row.last_error = "dead", None, error[:2000]
    row.next_attempt_at = now  # when it died: the dead letters list newest first by it
    record(
        session,
        now,
        "delivery_dead",
        object_type="delivery",
        object_ref=row.key,
        channel=row.channel,
        attempts=row.attempts,
        error=error[:500],
    )
