"""The audit viewer for authorities (issue 16): filters, keyset pages, the CSV export, the chain's
status, and who may see it (a department's clerk is refused)."""

from __future__ import annotations

import csv
import io

import pytest

from engine import audit
from engine.errors import Forbidden
from engine.oversight import audit_log as service
from tests.conftest import HUKOU
from tests.test_sharing_deadlines import CITY
from tests.test_web import Browser, app  # noqa: F401


@pytest.fixture
def trail(actors, session_factory, clock):
    key = actors.request("civil.clerk", **HUKOU)
    for i in range(7):
        with session_factory() as s, s.begin():
            audit.record(s, clock.now(), "viewer_test", object_type="test", object_ref=f"V-{i}")
        clock.advance(minutes=1)
    return key


def test_filters_and_keyset_pages(trail, actors):
    def page(f, after=None, size=3):
        return actors.run(
            lambda s: service.events_page(s, actors.user(s, "data.coord"), f, after, size)
        )

    first = page(service.Filters(kind="viewer_test"))
    assert [r.object_ref for r in first.rows] == ["V-6", "V-5", "V-4"]  # newest first
    second = page(service.Filters(kind="viewer_test"), first.after)
    third = page(service.Filters(kind="viewer_test"), second.after)
    assert [r.object_ref for r in second.rows + third.rows] == ["V-3", "V-2", "V-1", "V-0"]
    assert third.after is None
    mine = page(service.Filters(object_ref=trail), size=50)
    assert mine.rows and all(r.business_key == trail for r in mine.rows)
    assert {r.actor for r in mine.rows} == {"civil.clerk"}
    by_actor = page(service.Filters(actor="civil.clerk"), size=50)
    assert [r.id for r in by_actor.rows] == [r.id for r in mine.rows]
    civil = actors.run(lambda s: actors.user(s, "civil.clerk").department_id)
    by_dept = page(service.Filters(department_id=civil), size=50)
    assert [r.id for r in by_dept.rows] == [r.id for r in mine.rows]
    assert page(service.Filters(date_from="2030-01-01"), size=50).rows == []


def test_a_city_authority_sees_its_level_and_below_only(trail, actors):
    city_key = actors.request("yinchuan-samr.clerk", **CITY)

    def keys(username):
        rows = actors.run(
            lambda s: (
                service.events_page(s, actors.user(s, username), service.Filters(), size=200).rows
            )
        )
        return {r.business_key for r in rows if r.business_key}

    assert keys("yinchuan-data.coord") == {city_key}  # not the region's request
    assert keys("data.coord") == {trail, city_key}  # the region's authority sees all
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: service.events_page(
                s, actors.user(s, "yinchuan-samr.clerk"), service.Filters()
            )
        )


def test_a_bad_filter_is_refused_by_its_label(actors):
    from engine.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        actors.run(
            lambda s: service.events_page(
                s, actors.user(s, "data.coord"), service.Filters(date_from="2026-13-40")
            )
        )
    assert "From" in str(err.value.details)


def test_viewer_page_csv_and_authorization(app, trail):  # noqa: F811
    coord = Browser(app, "data.coord")
    html = coord.get("/audit/?kind=viewer_test").get_data(as_text=True)
    assert "审计日志" in html and "V-6" in html and "viewer_test" in html
    assert 'id="chain-status"' in html and "尚未记录检查点" in html
    r = coord.get("/audit/?format=csv&kind=viewer_test")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["seq", "id", "at"]
    assert [row[7] for row in rows[1:]] == [f"V-{i}" for i in range(6, -1, -1)]
    assert coord.get("/audit/?from=2026-99-01").status_code == 422
    assert Browser(app, "data.admin").get("/audit/").status_code == 200
    clerk = Browser(app, "civil.clerk")
    assert clerk.get("/audit/").status_code == 403
    assert clerk.get("/audit/?format=csv").status_code == 403
    assert "/audit/" not in clerk.get("/inbox/mine").get_data(as_text=True)


def test_the_page_shows_a_break_the_last_checkpoint_found(
    app,  # noqa: F811
    trail,
    engine,
    session_factory,
    clock,
):
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    with session_factory() as s, s.begin():
        audit.write_checkpoint(s, clock)
    html = Browser(app, "data.coord").get("/audit/").get_data(as_text=True)
    assert "已断裂" in html and "链位置 3 至 3 缺失" in html


def test_the_badge_is_not_green_for_a_checkpoint_whose_signature_fails(
    app,  # noqa: F811
    trail,
    engine,
    session_factory,
    clock,
):
    from sqlalchemy import text

    with session_factory() as s, s.begin():
        checkpoint = audit.write_checkpoint(s, clock)
    html = Browser(app, "data.coord").get("/audit/").get_data(as_text=True)
    assert "st-granted" in html and "已断裂" not in html
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_checkpoint SET signature = :s"), {"s": "30" + "00" * 8})
    html = Browser(app, "data.coord").get("/audit/").get_data(as_text=True)
    assert "st-granted" not in html and "已断裂" in html
    assert f"检查点 {checkpoint.id}" in html
