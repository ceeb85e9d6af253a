"""Administrators find failed deliveries on 通知投递 and at the command line, retry them, and send
a test message; officials who are not administrators see none of it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.audit import AuditEvent
from engine.cli import main
from engine.directory import user_by_name
from engine.errors import Forbidden
from notifications import dead_letters
from notifications.delivery import Delivery, enqueue
from notifications.preferences import save_preferences
from tests.delivery_receivers import smtp_server, webhook_receiver
from tests.test_web import Browser, app  # noqa: F401

SECRET = "shared-secret-of-the-gateway"


def _dead(factory, clock, n, channel="webhook", start=0):
    """``n`` dead letters, the later ones died later."""
    with factory() as s, s.begin():
        user = user_by_name(s, "pubsec.clerk")
        for i in range(start, start + n):
            key = f"n{i}:{channel}"
            enqueue(
                s,
                key=key,
                channel=channel,
                user_id=user.id,
                address="clerk@pubsec.example.gov.cn" if channel == "email" else None,
                subject=f"待办 {i}",
                text="t",
                link="/",
                data={},
                now=clock.now(),
            )
            s.flush()
            row = s.scalar(select(Delivery).where(Delivery.key == key))
            row.status, row.attempts, row.last_error = "dead", 8, "webhook: HTTP 401 Unauthorized"
            row.next_attempt_at = clock.now() + timedelta(seconds=i)


def _keys(page):
    return [r.key for r in page.rows]


def test_dead_letters_are_paged_newest_first_from_a_cursor(session_factory, clock, db):
    _dead(session_factory, clock, 120)
    first = dead_letters.list_deliveries(db, None, "dead")
    assert (first.dead, len(first.rows)) == (120, 50)
    assert _keys(first)[:2] == ["n119:webhook", "n118:webhook"]
    second = dead_letters.list_deliveries(db, None, "dead", after=first.next_after)
    third = dead_letters.list_deliveries(db, None, "dead", after=second.next_after)
    assert _keys(second)[0] == "n69:webhook" and len(third.rows) == 20
    assert third.next_after is None
    seen = _keys(first) + _keys(second) + _keys(third)
    assert len(set(seen)) == 120


def test_a_retried_dead_letter_is_queued_again_with_an_audit_event(session_factory, clock):
    _dead(session_factory, clock, 3)
    with session_factory() as s, s.begin():
        admin = user_by_name(s, "data.admin")
        dead_id = dead_letters.list_deliveries(s, admin, "dead").rows[0].id
        dead_letters.retry(s, clock, dead_id, admin)
    with session_factory() as s, s.begin():
        row = s.get(Delivery, dead_id)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, clock.now())
        assert dead_letters.retry_all_dead(s, clock, None) == 2
    with session_factory() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.kind == "delivery_retried").order_by(AuditEvent.id)
        ).all()
        assert len(events) == 3
        assert events[0].actor_id == user_by_name(s, "data.admin").id
        assert events[0].detail["before"] == {"status": "dead", "attempts": 8}


def test_only_administrators_see_deliveries(session_factory, db):
    with pytest.raises(Forbidden):
        dead_letters.list_deliveries(db, user_by_name(db, "civil.clerk"))


def test_the_delivery_page_lists_failures_and_retries_them(session_factory, clock, app):  # noqa: F811
    _dead(session_factory, clock, 2)
    admin = Browser(app, "data.admin")
    html = admin.get("/admin/deliveries/").get_data(as_text=True)
    assert "通知投递" in html and "待办 1" in html and "HTTP 401" in html
    assert "失败" in html and '<span class="count late">2</span>' in html
    assert "webhook</td>" not in html  # the channel by its label, not its identifier
    with session_factory() as s:
        first = s.scalar(select(Delivery.id).where(Delivery.key == "n1:webhook"))
    r = admin.post(f"/admin/deliveries/{first}/retry", page="/admin/deliveries/")
    assert r.status_code == 302
    html = admin.get("/admin/deliveries/?show=pending").get_data(as_text=True)
    assert "待办 1" in html and "待办 0" not in html
    r = admin.post("/admin/deliveries/retry-dead", page="/admin/deliveries/", follow_redirects=True)
    assert "1 条失败的投递已重新排队" in r.get_data(as_text=True)
    clerk = Browser(app, "civil.clerk")
    assert clerk.get("/admin/deliveries/").status_code == 403
    assert "通知投递" not in clerk.get("/inbox/mine").get_data(as_text=True)


def test_odd_list_choices_and_cursors_are_refused_or_ignored(session_factory, clock, app):  # noqa: F811
    admin = Browser(app, "data.admin")
    r = admin.get("/admin/deliveries/?show=everything")
    assert r.status_code == 422 and "显示" in r.get_data(as_text=True)
    for after in ("²", "9" * 30, "-1", "abc", "99999"):
        assert admin.get(f"/admin/deliveries/?show=dead&after={after}").status_code == 200
    assert admin.post("/admin/deliveries/99999/retry", page="/admin/deliveries/").status_code == 302


def test_operators_list_and_retry_at_the_command_line(session_factory, clock, db_url, capsys):
    _dead(session_factory, clock, 2)
    main(["--database", db_url, "notifications", "list", "--dead"])
    out = capsys.readouterr().out
    assert "n1:webhook" in out and "HTTP 401" in out and "failed: 2" in out
    with session_factory() as s:
        first = s.scalar(select(Delivery.id).where(Delivery.key == "n1:webhook"))
    main(["--database", db_url, "notifications", "retry", str(first)])
    assert "queued again" in capsys.readouterr().out
    main(["--database", db_url, "notifications", "list", "--pending"])
    assert "n1:webhook" in capsys.readouterr().out
    main(["--database", db_url, "notifications", "retry", "--all-dead"])
    assert "1 failed deliveries queued again" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["--database", db_url, "notifications", "retry", "99999"])
    assert exit_.value.code == 2 and "No delivery 99999" in capsys.readouterr().err


def test_send_test_delivers_at_once_over_email_and_webhook(
    db_url, session_factory, clock, monkeypatch, capsys
):
    with smtp_server() as (port, inbox), webhook_receiver(SECRET) as (url, hooks):
        for name, value in {
            "GOVSHARE_SMTP_HOST": "127.0.0.1",
            "GOVSHARE_SMTP_PORT": str(port),
            "GOVSHARE_SMTP_STARTTLS": "0",
            "GOVSHARE_SMTP_SENDER": "noreply@example.gov.cn",
            "GOVSHARE_WEBHOOK_URL": url,
            "GOVSHARE_WEBHOOK_SECRET": SECRET,
        }.items():
            monkeypatch.setenv(name, value)
        base = ["--database", db_url, "notifications", "send-test", "--user", "pubsec.clerk"]
        main([*base, "--channel", "email", "--to", "clerk@pubsec.example.gov.cn"])
        main([*base, "--channel", "webhook"])
        assert capsys.readouterr().out.count("sent") == 2
        with pytest.raises(SystemExit) as exit_:
            main([*base, "--channel", "email"])
        assert exit_.value.code == 2 and "E-mail address" in capsys.readouterr().err
        # without --to, the address the official gave in 通知设置
        with session_factory() as s, s.begin():
            clerk = user_by_name(s, "pubsec.clerk")
            save_preferences(s, clock, clerk, {"email_address": "own@pubsec.example.gov.cn"})
        main([*base, "--channel", "email"])
        assert "sent" in capsys.readouterr().out
    mail, own = inbox.received
    assert own.content["To"] == "own@pubsec.example.gov.cn"
    assert mail.content["To"] == "clerk@pubsec.example.gov.cn"
    assert "Test message" in mail.content["Subject"]
    [hook] = hooks.received
    assert hook.content["message"]["kind"] == "test"


def test_send_test_on_an_unconfigured_channel_says_so(db_url, monkeypatch, capsys):
    monkeypatch.delenv("GOVSHARE_SMTP_HOST", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "--database",
                db_url,
                "notifications",
                "send-test",
                "--user",
                "pubsec.clerk",
                "--channel",
                "email",
                "--to",
                "a@b.cn",
            ]
        )
    assert exit_.value.code == 2 and "not configured" in capsys.readouterr().err


def test_the_administrators_menu_badge_stops_at_99_and_the_page_counts_on(
    session_factory,
    clock,
    app,  # noqa: F811
):
    """The menu's badge (incidents and failed deliveries) is capped like the inbox's badges; the
    delivery page still says how many failed."""
    _dead(session_factory, clock, 120)
    html = Browser(app, "data.admin").get("/admin/deliveries/").get_data(as_text=True)
    menu = re.search(r'title="流程故障和投递失败">([^<]*)</span>', html)
    assert menu is not None and menu.group(1) == "99+", html
    assert '<span class="count late">120</span>' in html
    with session_factory() as s:
        assert dead_letters.count(s, "dead") == 100  # read no further than the cap + 1
