"""The breach ledger (art. 23): automatic entries with evidence, scope, filters, export, appeals,
and uses outside a grant (art. 14)."""

from __future__ import annotations

import pytest

from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.i18n import translate
from engine.oversight import breaches as service
from engine.sharing import grants
from tests.conftest import HUKOU
from tests.test_share_request_process import SCOPE
from tests.test_web import Browser, app  # noqa: F401


def overdue_breach(actors, clock):
    actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-10T00:00:01+08:00")
    actors.sweep()
    found = actors.run(lambda s: service.ledger(s, actors.user(s, "data.coord"), service.Filters()))
    assert found.total == 1
    return found.rows[0].id


def test_entries_carry_their_evidence_and_are_scoped(actors, clock):
    bid = overdue_breach(actors, clock)
    b = actors.run(lambda s: service.breach_for(s, actors.user(s, "pubsec.clerk"), bid))
    assert (b.kind, b.article, b.evidence["deadline"]["due_date"]) == (
        "reply_overdue",
        "第二十三条（二）",
        "2026-10-09",
    )
    assert (
        actors.run(
            lambda s: service.ledger(s, actors.user(s, "civil.clerk"), service.Filters()).total
        )
        == 0
    )  # not civil's entry
    with pytest.raises(Forbidden):
        actors.run(lambda s: service.breach_for(s, actors.user(s, "civil.clerk"), bid))
    assert (
        actors.run(
            lambda s: (
                service.ledger(s, actors.user(s, "yinchuan-data.coord"), service.Filters()).total
            )
        )
        == 0
    )  # another level


def test_filters_and_csv_export(actors, clock):
    overdue_breach(actors, clock)
    coord = lambda s: actors.user(s, "data.coord")  # noqa: E731
    assert (
        actors.run(
            lambda s: service.ledger(s, coord(s), service.Filters(kind="data_inconsistency")).total
        )
        == 0
    )
    from datetime import date

    assert (
        actors.run(
            lambda s: (
                service.ledger(
                    s,
                    coord(s),
                    service.Filters(date_from=date(2026, 10, 10), date_to=date(2026, 10, 10)),
                ).total
            )
        )
        == 1
    )
    text = actors.run(lambda s: exported(s, coord(s)))
    assert (
        text.startswith("\ufeffid,recorded_at,department")
        and "Public Security Department" in text  # the reader's language (the tests': English)
        and "reply_overdue" in text
    )
    chinese = actors.run(lambda s: exported(s, coord(s), lambda m: translate(m, "zh_CN")))
    assert "自治区公安厅" in chinese and "Public Security Department" not in chinese


def exported(s, user, gettext=None) -> str:
    """The ledger's CSV as the page streams it."""
    batches = service.ledger_batches(s, user, service.Filters())
    return "".join(service.export_csv_stream(batches, gettext))


def test_appeal_once_with_reasons_and_the_authority_decides(actors, clock):
    bid = overdue_breach(actors, clock)
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: service.appeal(s, actors.clock, actors.user(s, "data.coord"), bid, "x")
        )
    with pytest.raises(ValidationFailed):
        actors.run(
            lambda s: service.appeal(s, actors.clock, actors.user(s, "pubsec.clerk"), bid, " ")
        )
    actors.run(
        lambda s: service.appeal(
            s, actors.clock, actors.user(s, "pubsec.clerk"), bid, "国庆期间系统停机，已书面说明"
        )
    )
    with pytest.raises(Conflict):
        actors.run(
            lambda s: service.appeal(
                s, actors.clock, actors.user(s, "pubsec.clerk"), bid, "再次申诉"
            )
        )
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: service.decide_appeal(
                s, actors.clock, actors.user(s, "data.clerk"), bid, True, "理由"
            )
        )
    b = actors.run(
        lambda s: service.decide_appeal(
            s, actors.clock, actors.user(s, "data.coord"), bid, True, "停机有据可查"
        )
    )
    assert (b.appeal_status, b.status) == ("upheld", "withdrawn")


def test_use_outside_a_grant_is_refused_and_recorded(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_review",
        review_decision="approve",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    early = actors.run(
        lambda s: grants.check_use(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            grants.UseAsked("JC-RK/0002", ["公民身份号码"], "核定低保", "YYCJ006"),
        )
    )
    assert early["allowed"] is False  # the granted period starts on 2026-10-01
    clock.set("2026-10-08T10:00:00+08:00")
    ok = actors.run(
        lambda s: grants.check_use(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            grants.UseAsked("JC-RK/0002", ["公民身份号码"], "核定低保", "YYCJ006"),
        )
    )
    assert ok["allowed"] is True
    refused = actors.run(
        lambda s: grants.check_use(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            grants.UseAsked("JC-RK/0002", ["公民身份号码", "变动类型"], "核定低保", "YYCJ006"),
        )
    )
    assert refused["allowed"] is False and "变动类型" in refused["reason"]
    rows = actors.run(
        lambda s: (
            service.ledger(
                s, actors.user(s, "civil.clerk"), service.Filters(kind="use_outside_grant")
            ).rows
        )
    )
    assert [(r.article, r.evidence["info_items"]) for r in rows] == [
        ("第二十三条（四）", ["公民身份号码", "变动类型"]),
        ("第二十三条（四）", ["公民身份号码"]),
    ]


def test_ledger_pages_and_appeal_through_the_browser_client(app, actors, clock):  # noqa: F811
    bid = overdue_breach(actors, clock)
    pubsec = Browser(app, "pubsec.clerk")
    assert "答复逾期" in pubsec.get("/breaches/").get_data(as_text=True)
    r = pubsec.post(
        f"/breaches/{bid}", {"action": "appeal", "reason": "系统停机"}, page=f"/breaches/{bid}"
    )
    assert r.status_code == 302
    coord = Browser(app, "data.coord")
    assert "申诉待处理" in coord.get(f"/breaches/{bid}").get_data(as_text=True)
    assert coord.get("/breaches/?format=csv").data.startswith("\ufeffid".encode())
    assert Browser(app, "civil.clerk").get(f"/breaches/{bid}").status_code == 403


def test_rectification_is_reported_returned_and_accepted(actors, clock):
    bid = overdue_breach(actors, clock)
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: service.open_rectification(
                s, actors.clock, actors.user(s, "pubsec.clerk"), bid
            )
        )
    key = actors.run(
        lambda s: (
            service.open_rectification(
                s, actors.clock, actors.user(s, "data.coord"), bid
            ).business_key
        )
    )
    assert key.startswith("ZG-2026-")
    with pytest.raises(Conflict):
        actors.run(
            lambda s: service.open_rectification(s, actors.clock, actors.user(s, "data.coord"), bid)
        )
    task = [t for t in actors.status(key)["tasks"] if t["task"] == "rectify"][0]
    assert (
        task["department"].zh == "自治区公安厅" and task["due_at"] == "2026-10-30T16:00:00+00:00"
    )  # 15 working days after Saturday 10-10 (a make-up day)
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警")
    with pytest.raises(ValidationFailed):
        actors.complete("data.coord", key, "confirm_rectification", rectification_decision="return")
    actors.complete(
        "data.coord",
        key,
        "confirm_rectification",
        rectification_decision="return",
        rectification_comment="请补充责任人",
    )
    actors.complete("pubsec.clerk", key, "rectify", measures="建立答复期限预警，明确责任人")
    actors.complete("data.coord", key, "confirm_rectification", rectification_decision="accept")
    assert actors.status(key)["status"] == "completed"
    assert (
        actors.run(lambda s: service.breach_for(s, actors.user(s, "data.coord"), bid).rectified_at)
        is not None
    )


def test_a_refused_appeal_or_decision_answers_4xx_naming_the_field_and_writes_nothing(
    app,  # noqa: F811
    actors,
    clock,
):
    bid = overdue_breach(actors, clock)
    page = f"/breaches/{bid}"
    pubsec = Browser(app, "pubsec.clerk")
    r = pubsec.post(page, {"action": "appeal", "reason": "\u0000"}, page=page)
    assert r.status_code == 422 and "申诉理由" in r.get_data(as_text=True)
    r = pubsec.post(page, {"action": "appeal", "reason": " "}, page=page)
    assert r.status_code == 422
    entry = actors.run(lambda s: service.breach_for(s, actors.user(s, "pubsec.clerk"), bid))
    assert entry.appeal_status is None  # nothing written
    assert (
        pubsec.post(page, {"action": "appeal", "reason": "系统停机"}, page=page).status_code == 302
    )
    r = pubsec.post(page, {"action": "appeal", "reason": "再次申诉"}, page=page)
    assert r.status_code == 409  # appealed once already
    coord = Browser(app, "data.coord")
    r = coord.post(page, {"action": "decide", "decision": "upheld", "reasons": ""}, page=page)
    assert r.status_code == 422
    entry = actors.run(lambda s: service.breach_for(s, actors.user(s, "data.coord"), bid))
    assert (entry.appeal_status, entry.status) == ("pending", "recorded")
