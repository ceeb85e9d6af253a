"""The pages of 本部门申请 and of the search box, through the web app (issue 12, item 9)."""

from __future__ import annotations

import re

from tests.conftest import HUKOU
from tests.test_request_lists import UNCONDITIONAL, YINCHUAN
from tests.test_web import Browser, app  # noqa: F401 - the fixture


def test_department_requests_list_both_directions_with_status_and_counterpart(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    html = Browser(app, "civil.clerk").get("/requests/").get_data(as_text=True)
    assert f'data-request="{key}"' in html
    assert "办理中" in html and "自治区公安厅" in html and "户籍变动信息" in html
    assert "本部门提出" in html
    shown = re.sub(r"<[^>]+>", " ", html)  # the text a person reads
    assert "share_request" not in shown and "in_progress" not in shown
    received = Browser(app, "pubsec.clerk").get("/requests/").get_data(as_text=True)
    assert f'data-request="{key}"' in received and "本部门收到" in received


def test_filters_narrow_the_list_and_bad_ones_name_the_field(app, actors):  # noqa: F811
    granted = actors.request("civil.clerk", **UNCONDITIONAL)
    waiting = actors.request("civil.clerk", **HUKOU)
    b = Browser(app, "civil.clerk")
    html = b.get("/requests/?status=granted").get_data(as_text=True)
    assert granted in html and waiting not in html
    html = b.get("/requests/?q=户籍变动").get_data(as_text=True)
    assert waiting in html and granted not in html
    r = b.get("/requests/?status=nonsense")
    assert r.status_code == 422 and "状态" in r.get_data(as_text=True)
    r = b.get("/requests/?from=2026-02-30")
    assert r.status_code == 422 and "提交日期自" in r.get_data(as_text=True)


def test_level_list_is_for_authorities_only(app, actors):  # noqa: F811
    city = actors.request("yinchuan-samr.clerk", **YINCHUAN)
    html = Browser(app, "data.clerk").get("/requests/?scope=level").get_data(as_text=True)
    assert city in html and "本级及下级申请" in html
    assert Browser(app, "data.clerk").get(f"/requests/{city}").status_code == 200
    assert Browser(app, "civil.clerk").get("/requests/?scope=level").status_code == 403


def test_csv_export_follows_the_filters(app, actors):  # noqa: F811
    actors.request("civil.clerk", **UNCONDITIONAL)
    waiting = actors.request("civil.clerk", **HUKOU)
    r = Browser(app, "civil.clerk").get("/requests/?format=csv&status=in_progress")
    assert r.mimetype == "text/csv"
    lines = r.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{waiting},办理中,")


def test_search_box_finds_requests_catalog_entries_projects_and_ledger_entries(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    b = Browser(app, "civil.clerk")
    html = b.get("/search/?q=户籍").get_data(as_text=True)
    assert f'href="/requests/{key}"' in html
    assert 'data-kind="catalog"' in html and "JC-RK/0002" in html
    assert b.get("/search/?q=" + key).status_code == 200
    assert "未找到" in b.get("/search/?q=zzzzzz").get_data(as_text=True)
    assert b.get("/search/?q=%00").status_code == 422


def test_search_shows_only_what_the_user_may_see(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    html = Browser(app, "yinchuan-civil.clerk").get("/search/?q=" + key).get_data(as_text=True)
    assert key not in html.split("<main", 1)[1].replace(f"“{key}”", "").replace(
        f'value="{key}"', ""
    )


def test_every_page_has_the_search_box_and_the_list_link(app):  # noqa: F811
    html = Browser(app, "civil.clerk").get("/inbox/mine").get_data(as_text=True)
    assert 'action="/search/"' in html and 'href="/requests/"' in html
