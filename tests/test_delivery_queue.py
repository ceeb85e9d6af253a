"""Queueing an external message: idempotent on its key, written with the caller's change,
due at once or after the recipient's quiet hours (urgent messages ignore them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.directory import user_by_name
from notifications.delivery import Delivery, enqueue


def _queue(session, clock, key="n1:email", **over):
    args = dict(
        key=key,
        channel="email",
        user_id=user_by_name(session, "pubsec.clerk").id,
        address="clerk@example.gov.cn",
        subject="A task is waiting",
        text="Review the request.",
        link="/tasks/1",
        data={"kind": "task_offered"},
        now=clock.now(),
    )
    args.update(over)
    return enqueue(session, **args)


def test_the_same_key_is_queued_once_and_the_first_row_kept(session_factory, clock):
    with session_factory() as s, s.begin():
        assert _queue(s, clock, subject="first") is True
        assert _queue(s, clock, subject="second") is False
    with session_factory() as s:
        rows = s.scalars(select(Delivery)).all()
    assert [(r.key, r.subject, r.status, r.attempts) for r in rows] == [
        ("n1:email", "first", "pending", 0)
    ]


def test_a_queued_message_is_rolled_back_with_the_change_that_caused_it(session_factory, clock):
    with pytest.raises(RuntimeError), session_factory() as s, s.begin():
        _queue(s, clock)
        raise RuntimeError("the change failed")
    with session_factory() as s:
        assert s.scalars(select(Delivery)).all() == []


def test_quiet_hours_delay_a_message_but_not_an_urgent_one(session_factory, clock):
    later = clock.now() + timedelta(hours=10)
    with session_factory() as s, s.begin():
        _queue(s, clock, key="quiet", not_before=later)
        _queue(s, clock, key="urgent", not_before=later, urgent=True)
    with session_factory() as s:
        due = {r.key: r.next_attempt_at for r in s.scalars(select(Delivery))}
    assert due == {"quiet": later, "urgent": clock.now()}


def test_an_unknown_channel_or_an_email_without_address_is_refused(session_factory, clock):
    with session_factory() as s, s.begin():
        with pytest.raises(ValueError):
            _queue(s, clock, channel="sms")
        with pytest.raises(ValueError):
            _queue(s, clock, address=None)
        assert _queue(s, clock, key="hook", channel="webhook", address=None) is True
