"""Must show (issue 13): a worker killed with SIGKILL in the middle of delivering 500 messages,
then two workers started: every message arrives, none twice at a receiver that dedupes by key;
transport duplicates stay within the killed worker's in-flight lease batch, and the two workers
never both send one message. Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict

import pytest
from sqlalchemy import create_engine, func, select

from engine.clock import SystemClock
from engine.db import normalize_url
from notifications.delivery import Delivery, enqueue
from tests.delivery_receivers import smtp_server, webhook_receiver

pytestmark = pytest.mark.slow

SECRET = "shared-secret-of-the-gateway"
MESSAGES = 500
BATCH = 10
LEASE_SECONDS = 3


def _queue_all(session_factory) -> set[str]:
    now = SystemClock().now()
    keys = set()
    with session_factory() as s, s.begin():
        for i in range(MESSAGES):
            channel = "email" if i % 2 else "webhook"
            key = f"n{i}:{channel}"
            keys.add(key)
            enqueue(
                s,
                key=key,
                channel=channel,
                user_id=None,
                address=f"user{i}@example.gov.cn" if channel == "email" else None,
                subject=f"消息 {i}",
                text=f"第 {i} 条通知",
                link=f"/tasks/{i}",
                data={"kind": "task_offered", "n": i},
                now=now,
            )
    return keys


def _worker(env):
    cmd = [sys.executable, "-m", "engine.cli", "worker", "--interval", "0.05"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_worker_then_two_workers_deliver_each_message_exactly_once(session_factory, db_url):
    keys = _queue_all(session_factory)
    reader = create_engine(normalize_url(db_url))  # a plain reader, no BEGIN IMMEDIATE

    def count(status):
        with reader.connect() as conn:
            return conn.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == status)
            )

    procs = []
    with smtp_server() as (port, inbox), webhook_receiver(SECRET) as (url, hooks):

        def received() -> Counter:
            return inbox.keys() + hooks.keys()

        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PYTHONUNBUFFERED": "1",
            "GOVSHARE_SMTP_HOST": "127.0.0.1",
            "GOVSHARE_SMTP_PORT": str(port),
            "GOVSHARE_SMTP_STARTTLS": "0",
            "GOVSHARE_SMTP_SENDER": "noreply@example.gov.cn",
            "GOVSHARE_WEBHOOK_URL": url,
            "GOVSHARE_WEBHOOK_SECRET": SECRET,
            "GOVSHARE_DELIVERY_BATCH": str(BATCH),
            "GOVSHARE_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        try:
            killed = _worker(env)
            procs.append(killed)
            _wait(lambda: len(received()) >= 100, 120, "the first worker to deliver 100")
            # hold the next webhook's answer: the worker is then mid-batch, its lease taken
            hooks.gate.clear()
            _wait(lambda: hooks.held > 0, 60, "the first worker to wait on a webhook")
            os.kill(killed.pid, signal.SIGKILL)
            hooks.gate.set()
            killed.wait(10)
            in_flight = count("sending")  # the killed worker's lease batch
            at_kill = len(received())
            assert 100 <= at_kill < MESSAGES, f"not killed mid-delivery ({at_kill})"
            assert 0 < in_flight <= BATCH
            procs += [_worker(env), _worker(env)]
            _wait(lambda: count("sent") == MESSAGES, 300, "all messages to be sent")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(10)
            reader.dispose()
        arrivals = inbox.received + hooks.received

    host = socket.gethostname()
    killed_name = f"{host}/{killed.pid}"
    survivors = {f"{host}/{p.pid}" for p in procs[1:]}
    by_key: dict[str, list[str]] = defaultdict(list)
    for item in arrivals:
        by_key[item.key].append(item.sender)

    # every message arrived; a receiver that dedupes by key sees each exactly once
    assert set(by_key) == keys
    # a repeat on the wire comes only from the killed worker's in-flight lease batch
    duplicates = {k: senders for k, senders in by_key.items() if len(senders) > 1}
    assert sum(len(s) - 1 for s in duplicates.values()) <= in_flight
    assert all(killed_name in senders for senders in duplicates.values())
    # the two workers never both sent one message, and both took part
    for senders in by_key.values():
        assert sum(1 for s in senders if s in survivors) <= 1
    assert {s for senders in by_key.values() for s in senders} - {killed_name} == survivors
    assert count_all_sent(session_factory) == MESSAGES


def count_all_sent(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent"))
