"""Dates read YYYY-MM-DD everywhere, whatever the browser's locale, and a list's date filter that
is not a date is refused naming the filter by its label, never silently ignored (issue 12)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.errors import ValidationFailed
from engine.oversight import breaches
from engine.workflow import inbox
from tests.conftest import HUKOU
from tests.test_labels import visible_text
from tests.test_web import Browser, app  # noqa: F401

BAD = ["2026-13-01", "2026-02-30", "18.09.2026", "09/18/2026", "２０２６-０９-１８", "yesterday"]
FILTERS = [
    ("civil.clerk", "/inbox/queue?due_from={}", "Due from"),
    ("civil.clerk", "/inbox/mine?due_to={}", "Due until"),
    ("data.coord", "/breaches/?from={}", "Recorded from"),
    ("data.coord", "/breaches/?to={}", "Recorded until"),
    ("data.coord", "/breaches/?format=csv&to={}", "Recorded until"),
    ("civil.clerk", "/requests/?from={}", "Submitted from"),
    ("civil.clerk", "/requests/?format=csv&to={}", "Submitted until"),
]


def _events(actors) -> int:
    return actors.run(lambda s: s.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.mark.parametrize("value", BAD)
def test_a_list_filter_that_is_not_a_date_is_refused_naming_the_filter(app, actors, value):  # noqa: F811
    actors.request("civil.clerk", **HUKOU)
    browsers = {u: Browser(app, u) for u in {u for u, _path, _label in FILTERS}}
    before = _events(actors)  # after signing in (which is audited)
    for username, path, label in FILTERS:
        browser = browsers[username]
        browser.client.set_cookie("lang", "en")
        r = browser.get(path.format(value))
        assert r.status_code == 422, (path, value, r.status_code)
        text = visible_text(r.get_data(as_text=True))
        # a date written right that does not exist is called so; anything else gets the format
        hint = "does not exist" if value in ("2026-13-01", "2026-02-30") else "YYYY-MM-DD"
        assert label in text and hint in text, (path, text)
    assert _events(actors) == before


REVERSED = [
    ("civil.clerk", "/inbox/queue?due_from=2026-10-09&due_to=2026-10-01", "Due until"),
    ("data.coord", "/breaches/?from=2026-10-09&to=2026-10-01", "Recorded until"),
    ("civil.clerk", "/requests/?from=2026-10-09&to=2026-10-01", "Submitted until"),
]


def test_a_date_range_that_ends_before_it_starts_is_refused_not_shown_empty(app, actors):  # noqa: F811
    browsers = {u: Browser(app, u) for u in {u for u, _path, _label in REVERSED}}
    for username, path, label in REVERSED:
        browser = browsers[username]
        browser.client.set_cookie("lang", "en")
        r = browser.get(path)
        assert r.status_code == 422, (path, r.status_code)
        text = visible_text(r.get_data(as_text=True))
        assert label in text and "must not be before" in text, (path, text)
    same_day = browsers["civil.clerk"].get("/inbox/queue?due_from=2026-10-09&due_to=2026-10-09")
    assert same_day.status_code == 200


def test_the_services_refuse_a_bad_date_filter_for_every_caller(actors):
    with pytest.raises(ValidationFailed) as err:
        actors.run(
            lambda s: inbox.list_view(
                s, actors.user(s, "civil.clerk"), actors.clock, "queue", inbox.Filters(due_to="x")
            )
        )
    assert [(d["field"], str(d["label"])) for d in err.value.details] == [("due_to", "Due until")]
    with pytest.raises(ValidationFailed) as err:
        actors.run(
            lambda s: breaches.ledger(
                s, actors.user(s, "data.coord"), breaches.Filters(date_from="2026-02-30")
            )
        )
    assert [str(d["label"]) for d in err.value.details] == ["Recorded from"]


def test_valid_date_filters_still_filter(app, actors):  # noqa: F811
    actors.request("civil.clerk", **HUKOU)  # the provider's reply is due 2026-10-09
    pubsec = Browser(app, "pubsec.clerk")
    pubsec.client.set_cookie("lang", "en")

    def listed(path):
        return "GX-2026-" in visible_text(pubsec.get(path).get_data(as_text=True))

    assert not listed("/inbox/queue?due_to=2026-10-08")
    assert listed("/inbox/queue?due_from=2026-10-09")


DATE_PAGES = [
    ("civil.clerk", "/inbox/queue"),
    ("civil.clerk", "/requests/"),
    ("civil.clerk", "/requests/new?resource=JC-RK/0002"),
    ("data.coord", "/breaches/"),
    ("data.coord", "/catalog/events/new"),
]


def test_every_date_field_reads_and_takes_yyyy_mm_dd(app):  # noqa: F811
    for username, path in DATE_PAGES:
        for lang in ("en", "zh_CN"):
            browser = Browser(app, username)
            browser.client.set_cookie("lang", lang)
            html = browser.get(path).get_data(as_text=True)
            assert 'type="date"' not in html, path  # a date picker shows mm/dd/yyyy in English
            fields = re.findall(r'<input[^>]*class="date"[^>]*>', html)
            assert fields, path
            for field in fields:
                assert 'type="text"' in field and 'placeholder="YYYY-MM-DD"' in field
                assert (
                    'inputmode="numeric"' in field
                    and 'pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}"' in field
                )


def test_a_task_form_date_is_a_yyyy_mm_dd_text_field(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    browser = Browser(app, "pubsec.clerk")
    browser.client.set_cookie("lang", "en")
    html = browser.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'type="date"' not in html
    assert re.search(
        r'<input id="in-granted_period_end" type="text" class="date"[^>]*YYYY-MM-DD', html
    )
