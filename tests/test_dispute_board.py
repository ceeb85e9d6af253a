"""The coordinators' board of disputes by level (issue 12, item 8): an authority's staff see the
disputes of their level and the levels below, never above, each marked with the level and
division of the authority coordinating it; filters, search, bounded counts, paging at a constant
cost."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from engine import paging
from engine.errors import Forbidden, ValidationFailed
from engine.sharing.dispute_board import Filters, board_for
from tests.conftest import HUKOU
from tests.test_request_lists import decide, history_user
from tests.test_sharing_deadlines import CITY, coordinating
from tests.test_web import Browser, app  # noqa: F401 - the fixture

COUNTY = dict(CITY, resource_code="BM-XQ-MZ/0001")


def three_levels(actors):
    """One dispute coordinated at each level: region, Yinchuan (city), Xingqing (county)."""
    return (
        coordinating(actors),
        coordinating(actors, "yinchuan-samr.clerk", "yinchuan-civil.clerk", CITY),
        coordinating(actors, "xingqing-samr.clerk", "xingqing-civil.clerk", COUNTY),
    )


def board(actors, username, page=1, **filters):
    return actors.run(
        lambda s: board_for(s, actors.clock, actors.user(s, username), Filters(**filters), page)
    )


def shown(actors, username, **filters):
    return {r.business_key: r.level for r in board(actors, username, **filters).rows}


def test_each_authority_sees_its_level_and_the_levels_below_never_above(actors):
    region, city, county = three_levels(actors)
    assert shown(actors, "data.coord") == {region: "region", city: "city", county: "county"}
    assert shown(actors, "yinchuan-data.coord") == {city: "city", county: "county"}
    assert shown(actors, "xingqing-data.coord") == {county: "county"}
    assert shown(actors, "shizuishan-data.coord") == {}
    assert board(actors, "yinchuan-data.coord").open_total == 2


def test_rows_name_the_coordinating_authority_and_its_division(actors):
    _, city, _ = three_levels(actors)
    rows = {r.business_key: r for r in board(actors, "data.coord").rows}
    row = rows[city]
    assert (row.authority, row.division, row.division_en) == (
        "银川市数据共享主管部门",
        "银川市",
        "Yinchuan",
    )
    assert not row.own and [r.own for r in rows.values()].count(True) == 1
    assert {o.level for o in board(actors, "data.coord").authorities} == {
        "region",
        "city",
        "county",
    }


def test_the_general_office_sees_the_disputes_it_coordinates(actors):
    own_case = coordinating(actors, "data.clerk", "pubsec.clerk", HUKOU)
    plain = coordinating(actors)
    assert shown(actors, "gov.coord") == {own_case: "region"}
    assert own_case not in shown(actors, "data.coord") and plain in shown(actors, "data.coord")


def test_filters_by_level_authority_state_and_search(actors):
    region, city, county = three_levels(actors)
    assert set(shown(actors, "data.coord", level="city")) == {city}
    xingqing = next(
        o.id for o in board(actors, "data.coord").authorities if o.name.startswith("兴庆区")
    )
    assert set(shown(actors, "data.coord", authority=xingqing)) == {county}
    decide(actors, region, "uphold")
    assert set(shown(actors, "data.coord")) == {city, county}  # open ones by default
    decided = board(actors, "data.coord", state="decided")
    assert [(r.business_key, r.decision) for r in decided.rows] == [(region, "refusal_upheld")]
    assert set(shown(actors, "data.coord", state="all")) == {region, city, county}
    assert set(shown(actors, "data.coord", state="all", q=city.lower())) == {city}
    assert set(shown(actors, "data.coord", state="all", q="银川市民政局")) == {city}


@pytest.mark.parametrize(
    ("bad", "field"),
    [({"state": "nonsense"}, "state"), ({"level": "planet"}, "level"), ({"q": "x" * 101}, "q")],
)
def test_bad_filters_are_refused_naming_the_field(actors, bad, field):
    with pytest.raises(ValidationFailed) as err:
        board(actors, "data.coord", **bad)
    assert [d["field"] for d in err.value.details] == [field]


def test_only_coordinating_departments_see_the_board(actors):
    with pytest.raises(Forbidden):
        board(actors, "civil.clerk")


def test_counts_stop_at_the_cap_and_say_more(app, actors, monkeypatch):  # noqa: F811
    three_levels(actors)
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    b = board(actors, "data.coord")
    assert (b.total, b.more) == (2, True)  # the list pages through the first 2 only
    assert b.pages == 1  # (2 + page size - 1) // page size
    assert (b.open_total, b.by_age["0-5"]) == (3, 3)  # the summary's counts are exact …
    html = Browser(app, "data.coord").get("/disputes/").get_data(as_text=True)
    assert '<div class="u-big" id="open-total">2+</div>' in html  # … and shown capped
    assert "0-5: 2+" in html
    searched = board(actors, "data.coord", q="-")  # a search counts the newest matches only
    assert (searched.total, searched.more, searched.open_total) == (2, True, 3)
    assert searched.by_age["0-5"] == 2


def test_exactly_the_cap_shows_without_a_plus(app, actors, monkeypatch):  # noqa: F811
    three_levels(actors)
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    html = Browser(app, "data.coord").get("/disputes/").get_data(as_text=True)
    assert '<div class="u-big" id="open-total">3</div>' in html and "0-5: 3<" in html
    assert "3 件" in html and "超过" not in html  # all 3 listed: no "more than"


def test_pages_run_oldest_open_first(actors, clock):
    keys = []
    for day in ("2026-09-14", "2026-09-15", "2026-09-16"):
        clock.set(f"{day}T10:00:00+08:00")
        keys.append(coordinating(actors))
    first = actors.run(
        lambda s: board_for(s, actors.clock, actors.user(s, "data.coord"), Filters(), 1, 2)
    )
    second = actors.run(
        lambda s: board_for(s, actors.clock, actors.user(s, "data.coord"), Filters(), 2, 2)
    )
    assert [r.business_key for r in first.rows + second.rows] == keys
    assert (first.pages, first.total) == (2, 3)
    newest = board(actors, "data.coord", state="all")
    assert [r.business_key for r in newest.rows] == keys[::-1]


def statements(session_factory, clock, username):
    seen = []
    with session_factory() as s:
        user = history_user(s, username)
        assert user.department.division.level
        engine = s.get_bind()
        listen = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listen)
        try:
            b = board_for(s, clock, user)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    return len(seen), b


def test_the_board_costs_the_same_statements_for_one_and_more_disputes(
    actors, session_factory, clock
):
    coordinating(actors)
    one, b = statements(session_factory, clock, "data.coord")
    assert b.open_total == 1
    three_levels(actors)
    more, b = statements(session_factory, clock, "data.coord")
    assert b.open_total == 4 and one == more


def test_the_board_page_marks_levels_filters_and_refuses_bad_input(app, actors):  # noqa: F811
    region, city, county = three_levels(actors)
    html = Browser(app, "data.coord").get("/disputes/").get_data(as_text=True)
    assert all(f'data-dispute="{k}"' in html for k in (region, city, county))
    assert "市级" in html and "县级" in html and "兴庆区" in html
    assert "及下级" in html
    html = Browser(app, "data.coord").get("/disputes/?level=county").get_data(as_text=True)
    assert f'data-dispute="{county}"' in html and f'data-dispute="{city}"' not in html
    city_page = Browser(app, "yinchuan-data.coord").get("/disputes/").get_data(as_text=True)
    assert f'data-dispute="{region}"' not in city_page and f'data-dispute="{city}"' in city_page
    r = Browser(app, "data.coord").get("/disputes/?state=nonsense")
    assert r.status_code == 422 and "状态" in r.get_data(as_text=True)
    assert Browser(app, "civil.clerk").get("/disputes/").status_code == 403
