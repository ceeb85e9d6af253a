"""The worker delivers beside the timer sweep, never in it: an SMTP server that hangs delays
e-mail, not deadlines."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.workflow.history import instance_by_key
from engine.workflow.timers import run_worker
from notifications.delivery import Delivery, enqueue
from tests.conftest import HUKOU
from tests.delivery_receivers import hanging_smtp_server


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _status(actors):
    return actors.run(lambda s: s.scalar(select(Delivery.status).where(Delivery.key == "n1:email")))


def test_a_hanging_smtp_server_never_delays_the_timers(actors, session_factory, clock, monkeypatch):
    key = actors.request("civil.clerk", **HUKOU)
    with session_factory() as s, s.begin():
        enqueue(
            s,
            key="n1:email",
            channel="email",
            user_id=None,
            address="clerk@civil.example.gov.cn",
            subject="s",
            text="t",
            link=None,
            data={},
            now=clock.now(),
        )
    fired = select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "timers_fired")
    with hanging_smtp_server() as port:
        monkeypatch.setenv("GOVSHARE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("GOVSHARE_SMTP_PORT", str(port))
        monkeypatch.setenv("GOVSHARE_SMTP_STARTTLS", "0")
        monkeypatch.setenv("GOVSHARE_SMTP_SENDER", "noreply@example.gov.cn")
        monkeypatch.setenv("GOVSHARE_SMTP_TIMEOUT", "60")
        stop = threading.Event()
        worker = threading.Thread(
            target=run_worker,
            args=(session_factory, clock),
            kwargs={"interval": 0.05, "stop": stop},
        )
        worker.start()
        try:
            # the worker is sending the e-mail to the server that never answers …
            assert _wait_for(lambda: _status(actors) == "sending", 10)
            # … when the reply reminder of the request falls due
            clock.set("2026-10-01T00:00:01+08:00")
            started = time.monotonic()
            assert _wait_for(lambda: actors.run(lambda s: s.scalar(fired)) == 1, 10)
            took = time.monotonic() - started
            assert _status(actors) == "sending"  # still hanging
        finally:
            stop.set()
        # closing the listener ends the hanging attempt; the worker stops
    worker.join(10)
    assert not worker.is_alive()
    assert took < 5, f"the timer fired only after {took:.1f}s"
    instances = actors.run(
        lambda s: s.scalars(
            select(AuditEvent.instance_id).where(AuditEvent.kind == "timers_fired")
        ).all()
    )
    assert instances == [actors.run(lambda s: instance_by_key(s, key).id)]
