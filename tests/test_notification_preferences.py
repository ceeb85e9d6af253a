"""通知设置: each official's channels, addresses, quiet hours, digest and language over the
department's defaults (its leader edits them); the e-mail and webhook copies follow them."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.directory import user_by_name
from engine.errors import Forbidden, ValidationFailed
from notifications import preferences
from notifications.delivery import Delivery
from notifications.fanout import fan_out
from notifications.preferences import QuietHours
from tests.conftest import HUKOU
from tests.test_web import Browser, app  # noqa: F401 - the app fixture

MINE = dict(
    language="en",
    email="on",
    email_address="clerk@pubsec.nx.gov.cn",
    webhook="on",
    messaging_id="pubsec-clerk",
    digest="off",
    quiet_from="20:00",
    quiet_until="08:00",
)


def save(actors, username, **form):
    return actors.run(
        lambda s: preferences.save_preferences(s, actors.clock, user_by_name(s, username), form)
    )


def deliveries(actors):
    return actors.run(
        lambda s: [
            (d.key.split(":")[1], d.address, d.subject, d.not_before, d.urgent)
            for d in s.scalars(select(Delivery).order_by(Delivery.id))
        ]
    )


def test_by_default_nothing_leaves_the_app_without_an_address(actors):
    actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, actors.clock))
    assert deliveries(actors) == []


def test_email_and_webhook_copies_in_the_users_language(actors):
    save(actors, "pubsec.clerk", **{**MINE, "quiet_from": "", "quiet_until": ""})
    key = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, actors.clock))
    subject = f"New task: Review the sharing request ({key})"
    assert deliveries(actors) == [
        ("email", "clerk@pubsec.nx.gov.cn", subject, None, False),
        ("webhook", "pubsec-clerk", subject, None, False),
    ]
    text = actors.run(lambda s: s.scalar(select(Delivery.text)))
    assert "Open: http://127.0.0.1:5000/tasks/" in text


def test_quiet_hours_hold_copies_until_they_end_but_not_overdue_ones(actors, clock):
    save(actors, "pubsec.clerk", **MINE)
    clock.set("2026-09-18T21:30:00+08:00")  # inside 20:00-08:00
    actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, clock))
    morning = datetime(2026, 9, 19, 8, 0, tzinfo=SHANGHAI)
    assert {d[3] for d in deliveries(actors)} == {morning}
    clock.set("2026-10-10T02:00:00+08:00")  # the reply is overdue in the night: 催办 at once
    actors.sweep()
    actors.run(lambda s: fan_out(s, clock))
    overdue = [d for d in deliveries(actors) if d[2].startswith("Urgent:")]
    assert overdue and all(d[3] is None and d[4] for d in overdue)


def test_the_department_default_applies_until_the_official_chooses(actors):
    save(actors, "pubsec.clerk", email_address="clerk@pubsec.nx.gov.cn")  # email: default
    actors.run(
        lambda s: preferences.save_department_defaults(
            s, actors.clock, user_by_name(s, "pubsec.lead"), {"digest": "on"}
        )
    )  # the leader switches e-mail off for the department
    actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, actors.clock))
    assert deliveries(actors) == []
    settings = actors.run(lambda s: preferences.settings_of(s, user_by_name(s, "pubsec.clerk")))
    assert (settings.email, settings.digest, settings.language) == (False, True, "zh")


def test_only_the_leader_sets_the_department_defaults(actors):
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: preferences.save_department_defaults(
                s, actors.clock, user_by_name(s, "pubsec.clerk"), {"email": "on"}
            )
        )


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("email_address", "not-an-address", "E-mail address"),
        ("quiet_from", "25:00", "Quiet from"),
        ("email", "maybe", "E-mail"),
        ("language", "fr", "Language of my notifications"),
    ],
)
def test_a_wrong_field_is_named_by_its_label_and_nothing_is_saved(actors, field, value, label):
    with pytest.raises(ValidationFailed) as err:
        save(actors, "pubsec.clerk", **{**MINE, field: value})
    assert label in str(err.value)
    assert actors.run(lambda s: preferences.preferences_page(s, user_by_name(s, "pubsec.clerk")))
    page = actors.run(lambda s: preferences.preferences_page(s, user_by_name(s, "pubsec.clerk")))
    assert page.email is None and page.email_address == ""


def test_quiet_hours_over_midnight():
    quiet = QuietHours("22:00", "07:00")
    at = lambda h, m=0: datetime(2026, 9, 18, h, m, tzinfo=SHANGHAI)  # noqa: E731
    assert quiet.hold_until(at(23)) == datetime(2026, 9, 19, 7, 0, tzinfo=SHANGHAI)
    assert quiet.hold_until(at(6, 59)) == datetime(2026, 9, 18, 7, 0, tzinfo=SHANGHAI)
    assert quiet.hold_until(at(7)) is None and quiet.hold_until(at(12)) is None
    assert QuietHours("", "").hold_until(at(23)) is None


def test_the_settings_page_saves_and_refuses_bad_input_with_422(app, actors):  # noqa: F811
    clerk = Browser(app, "pubsec.clerk")
    page = clerk.get("/notifications/settings").get_data(as_text=True)
    assert "通知设置" in page and "department-defaults" not in page  # not a leader
    r = clerk.post("/notifications/settings", {**MINE, "scope": "me"})
    assert r.status_code == 302
    settings = actors.run(lambda s: preferences.settings_of(s, user_by_name(s, "pubsec.clerk")))
    assert settings.email_to == "clerk@pubsec.nx.gov.cn" and settings.language == "en"
    r = clerk.post("/notifications/settings", {**MINE, "quiet_until": "", "scope": "me"})
    assert r.status_code == 422 and "免打扰结束时间" in r.get_data(as_text=True)
    r = clerk.post("/notifications/settings", {"scope": "department", "email": "on"})
    assert r.status_code == 403
    lead = Browser(app, "pubsec.lead")
    assert "department-defaults" in lead.get("/notifications/settings").get_data(as_text=True)
    r = lead.post("/notifications/settings", {"scope": "department", "webhook": "on"})
    assert r.status_code == 302


def test_a_quiet_hour_written_without_its_leading_zero_is_taken(actors):
    save(actors, "pubsec.clerk", **{**MINE, "quiet_from": "22:00", "quiet_until": "7:30"})
    page = actors.run(lambda s: preferences.preferences_page(s, user_by_name(s, "pubsec.clerk")))
    assert (page.quiet_from, page.quiet_until) == ("22:00", "07:30")
