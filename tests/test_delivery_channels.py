"""E-mail reaches a real SMTP server (plain, and STARTTLS with a login); the webhook receiver
verifies the signature; a receiver that refuses is retried with growing pauses and, after the
configured number of attempts, the delivery becomes a dead letter with an audit event."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.audit import AuditEvent
from engine.directory import user_by_name
from notifications.delivery import Delivery, enqueue
from notifications.sending import deliver_due
from notifications.settings import DeliverySettings, SmtpSettings, WebhookSettings
from tests.delivery_receivers import self_signed_certificate, smtp_server, webhook_receiver

SECRET = "shared-secret-of-the-gateway"


def _queue(factory, clock, key, channel, address, urgent=False, link="/tasks/7"):
    with factory() as s, s.begin():
        enqueue(
            s,
            key=key,
            channel=channel,
            user_id=user_by_name(s, "pubsec.clerk").id,
            address=address,
            subject="待办：审核共享申请 GX-2026-000001",
            text="公安厅经办人：民政厅的共享申请等待您审核，剩余 5 个工作日。",
            link=link,
            data={"kind": "task_offered", "business_key": "GX-2026-000001", "working_days_left": 5},
            urgent=urgent,
            now=clock.now(),
        )


def _row(factory, key):
    with factory() as s:
        return s.scalar(select(Delivery).where(Delivery.key == key))


def _smtp(port, **over):
    args = dict(
        host="127.0.0.1",
        port=port,
        starttls=False,
        sender="政务数据共享 <noreply@example.gov.cn>",
        timeout=5,
    )
    return SmtpSettings(**{**args, **over})


def test_an_email_reaches_the_smtp_server_with_its_key_and_an_absolute_link(session_factory, clock):
    with smtp_server() as (port, inbox):
        settings = DeliverySettings(smtp=_smtp(port), base_url="https://gov.example.cn/share")
        _queue(session_factory, clock, "n1:email", "email", "clerk@pubsec.example.gov.cn")
        done = deliver_due(session_factory, clock, settings)
    assert done.sent == ["n1:email"]
    [mail] = inbox.received
    msg = mail.content
    assert msg["To"] == "clerk@pubsec.example.gov.cn"
    assert msg["Subject"] == "待办：审核共享申请 GX-2026-000001"
    assert msg["X-Govshare-Delivery"] == "n1:email"
    assert msg["Message-ID"] == "<n1%3Aemail@example.gov.cn>"
    body = msg.get_content()
    assert "剩余 5 个工作日" in body and "https://gov.example.cn/share/tasks/7" in body
    row = _row(session_factory, "n1:email")
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, clock.now())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_an_email_goes_over_starttls_with_the_configured_login(session_factory, clock, tmp_path):
    cert = self_signed_certificate(tmp_path)
    with smtp_server(tls=cert, credentials=("govshare", "s3cret")) as (port, inbox):
        wrong = DeliverySettings(
            smtp=_smtp(port, starttls=True, ca_file=str(cert[0]), username="govshare", password="x")
        )
        _queue(session_factory, clock, "n2:email", "email", "clerk@pubsec.example.gov.cn")
        assert deliver_due(session_factory, clock, wrong).failed == ["n2:email"]
        assert "535" in _row(session_factory, "n2:email").last_error
        right = DeliverySettings(
            smtp=_smtp(
                port, starttls=True, ca_file=str(cert[0]), username="govshare", password="s3cret"
            )
        )
        clock.advance(minutes=1)
        assert deliver_due(session_factory, clock, right).sent == ["n2:email"]
    assert [m.key for m in inbox.received] == ["n2:email"]
    assert inbox.rejected > 0  # smtplib tries each mechanism the server offers


def test_the_webhook_receiver_verifies_the_signature_and_reads_the_message(session_factory, clock):
    with webhook_receiver(SECRET, clock) as (url, receiver):
        settings = DeliverySettings(
            webhook=WebhookSettings(url=url, secret=SECRET), base_url="https://gov.example.cn"
        )
        _queue(session_factory, clock, "n3:webhook", "webhook", None, urgent=True)
        done = deliver_due(session_factory, clock, settings)
    assert done.sent == ["n3:webhook"] and receiver.rejected == 0
    [hook] = receiver.received
    assert hook.key == "n3:webhook"
    doc = hook.content
    assert doc["link"] == "https://gov.example.cn/tasks/7"
    assert doc["urgent"] is True and doc["attempt"] == 1
    assert doc["message"]["business_key"] == "GX-2026-000001"
    assert doc["message"]["working_days_left"] == 5
    assert doc["text"].startswith("公安厅经办人")


def test_a_wrong_secret_is_rejected_retried_with_backoff_then_dead_lettered(session_factory, clock):
    with webhook_receiver(SECRET, clock) as (url, receiver):
        settings = DeliverySettings(
            webhook=WebhookSettings(url=url, secret="not-the-gateway-secret"), max_attempts=4
        )
        _queue(session_factory, clock, "n4:webhook", "webhook", None)
        pauses = []
        for attempt in range(1, 5):
            done = deliver_due(session_factory, clock, settings)
            row = _row(session_factory, "n4:webhook")
            assert row.attempts == attempt and "HTTP 401" in row.last_error
            if attempt < 4:
                assert done.failed == ["n4:webhook"] and row.status == "pending"
                pauses.append(row.next_attempt_at - clock.now())
                # not due before its pause is over
                clock.advance(seconds=pauses[-1].total_seconds() - 1)
                assert deliver_due(session_factory, clock, settings).attempts == 0
                clock.advance(seconds=1)
            else:
                assert done.dead == ["n4:webhook"] and row.status == "dead"
        # the dead letter stays dead: no further attempt however long one waits
        clock.advance(days=30)
        assert deliver_due(session_factory, clock, settings).attempts == 0
    assert pauses == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert receiver.received == [] and receiver.rejected == 4
    with session_factory() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.kind == "delivery_dead")).all()
    assert [(e.object_ref, e.detail["attempts"]) for e in events] == [("n4:webhook", 4)]


def test_a_message_in_quiet_hours_waits_and_an_unconfigured_channel_waits(session_factory, clock):
    with webhook_receiver(SECRET, clock) as (url, receiver):
        settings = DeliverySettings(webhook=WebhookSettings(url=url, secret=SECRET))
        with session_factory() as s, s.begin():
            enqueue(
                s,
                key="quiet:webhook",
                channel="webhook",
                user_id=None,
                address=None,
                subject="s",
                text="t",
                link=None,
                data={},
                not_before=clock.now() + timedelta(hours=9),
                now=clock.now(),
            )
        _queue(session_factory, clock, "n5:email", "email", "clerk@pubsec.example.gov.cn")
        assert deliver_due(session_factory, clock, settings).attempts == 0
        clock.advance(hours=9)
        assert deliver_due(session_factory, clock, settings).sent == ["quiet:webhook"]
    assert _row(session_factory, "n5:email").status == "pending"  # e-mail is not configured
    assert [r.key for r in receiver.received] == ["quiet:webhook"]
