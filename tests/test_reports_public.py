"""Figures known to the system (art. 17) checked against data whose true values the test knows,
and the public page (art. 24)."""

from __future__ import annotations

from engine.oversight.reports import figures
from tests.conftest import HUKOU
from tests.test_share_request_process import REFUSE, SCOPE
from tests.test_web import Browser, app  # noqa: F401


def test_figures_for_a_department_and_the_region(actors, clock):
    # three requests to 公安厅 in 2026: approved on time, refused on time, approved late; one to 人社厅
    a = actors.request("civil.clerk", **HUKOU)
    b = actors.request("civil.clerk", **HUKOU)
    c = actors.request("health.clerk", **HUKOU)
    actors.request(
        "civil.clerk", **{**HUKOU, "resource_code": "ZT-SB/0001", "info_items": ["参保状态"]}
    )
    clock.set("2026-09-22T10:00:00+08:00")
    actors.complete(
        "pubsec.clerk", a, "provider_review", review_decision="approve", **SCOPE
    )  # 09-20 made up, 21, 22: 3 working days
    actors.complete("pubsec.clerk", b, "provider_review", **REFUSE)
    actors.complete("civil.clerk", b, "after_refusal", next_step="negotiate")
    clock.set("2026-10-13T10:00:00+08:00")
    actors.complete(
        "pubsec.clerk", c, "provider_review", review_decision="approve", **SCOPE
    )  # late: due 10-09
    pubsec = actors.run(
        lambda s: figures(s, 2026, actors.user(s, "pubsec.clerk").department_id, reasons=True)
    )
    assert (pubsec["requests_received"], pubsec["answered"], pubsec["answered_on_time"]) == (
        3,
        3,
        2,
    )
    assert pubsec["median_days_to_answer"] == 3 and pubsec["refusals"] == 1
    assert pubsec["refusal_reasons"] == [{"reason": REFUSE["review_reason"], "count": 1}]
    assert pubsec["negotiations"] == 1 and pubsec["coordinations"] == 0
    civil = actors.run(lambda s: figures(s, 2026, actors.user(s, "civil.clerk").department_id))
    assert (civil["requests_sent"], civil["requests_received"]) == (3, 0)
    region = actors.run(lambda s: figures(s, 2026))
    assert (region["requests_sent"], region["requests_received"], region["answered"]) == (4, 4, 3)
    assert actors.run(lambda s: figures(s, 2025))["requests_received"] == 0


def test_public_page_needs_no_sign_in_and_shows_only_open_resources(app):  # noqa: F811
    html = app.test_client().get("/public/").get_data(as_text=True)
    assert "法人单位基础信息" in html  # open to the public
    assert "户籍变动信息" not in html and "刑事案件侦查信息" not in html  # not open
    assert "2025" in html and 'id="figures"' in html
