"""The breach ledger's list (art. 23; issue 12, item 8): its count stops at a cap ("1000+") and
its pages cost the same whatever the ledger holds; the export is one bounded query."""

from __future__ import annotations

from sqlalchemy import event

from engine import paging
from engine.oversight import breaches as service
from tests.test_request_lists import history_user
from tests.test_web import Browser, app  # noqa: F401 - the fixture


def record(actors, n, slug="pubsec"):
    def go(s):
        dept = actors.user(s, f"{slug}.clerk").department_id
        for i in range(n):
            service.record(
                s,
                actors.clock,
                dept,
                "第二十三条（二）",
                "reply_overdue",
                {"n": i, "resource": slug},
            )

    actors.run(go)


def ledger(actors, username, page=1, page_size=service.PAGE_SIZE, **filters):
    return actors.run(
        lambda s: service.ledger(
            s, actors.user(s, username), service.Filters(**filters), page, page_size
        )
    )


def test_the_count_stops_at_the_cap_and_says_more(actors, monkeypatch):
    record(actors, 7)
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    page = ledger(actors, "data.coord", page_size=2)
    assert (page.total, page.more, page.pages, len(page.rows)) == (5, True, 3, 2)
    exact = ledger(actors, "pubsec.clerk", page_size=2, kind="use_outside_grant")
    assert (exact.total, exact.more, exact.pages, exact.rows) == (0, False, 1, [])


def test_pages_run_newest_first_and_a_page_past_the_end_shows_the_last(actors, clock):
    for day in ("2026-10-12", "2026-10-13", "2026-10-14"):
        clock.set(f"{day}T10:00:00+08:00")
        record(actors, 1)
    first, second = (ledger(actors, "data.coord", p, page_size=2) for p in (1, 2))
    days = [r.recorded_at.date().isoformat() for r in first.rows + second.rows]
    assert days == ["2026-10-14", "2026-10-13", "2026-10-12"]
    assert ledger(actors, "data.coord", 99, page_size=2).page == 2


def statements(session_factory, username):
    seen = []
    with session_factory() as s:
        user = history_user(s, username)
        assert user.department.division.level
        engine = s.get_bind()
        listen = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listen)
        try:
            page = service.ledger(s, user, service.Filters())
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    return len(seen), page


def test_a_page_costs_the_same_statements_for_few_and_many_entries(actors, session_factory):
    record(actors, 2)
    few, page = statements(session_factory, "data.coord")
    assert page.total == 2
    record(actors, 60)
    many, page = statements(session_factory, "data.coord")
    assert (page.total, len(page.rows), page.pages) == (62, 50, 2)
    assert few == many == 3  # the capped count, the page, the departments of the page


def test_the_city_authority_counts_only_its_levels(actors):
    record(actors, 3)
    record(actors, 2, "yinchuan-samr")
    assert ledger(actors, "yinchuan-data.coord").total == 2
    assert ledger(actors, "data.coord").total == 5


def test_the_ledger_page_pages_and_says_more_than_the_cap(app, actors, monkeypatch):  # noqa: F811
    record(actors, 7)
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    monkeypatch.setattr(service, "PAGE_SIZE", 2)
    monkeypatch.setattr(service.ledger, "__defaults__", (1, 2))
    b = Browser(app, "data.coord")
    html = b.get("/breaches/").get_data(as_text=True)
    assert "超过 5 条" in html and "第 1 页，共 3 页" in html and "?page=2" in html
    assert "第 3 页，共 3 页" in b.get("/breaches/?page=3").get_data(as_text=True)
    csv_text = b.get("/breaches/?format=csv&page=2").get_data(as_text=True)
    assert len(csv_text.strip().splitlines()) == 1 + 7  # the export is not one page
