"""The yearly figures' summary (issue 15): kept in step by the transactions that record facts, it
equals a recount from the facts; the public page and the annual report read it, so their
statements do not grow with the requests stored."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Engine, delete, event, func, insert, select, text

from engine.audit import AuditEvent
from engine.calendar import add_days
from engine.oversight import summary
from engine.oversight.models import FigureTally
from engine.oversight.reports import figures, public_figures
from engine.sharing.dispute_board import Filters, board_for
from engine.workflow.models import ProcessFact, ProcessInstance
from tests.conftest import HUKOU
from tests.test_dispute_board import COUNTY
from tests.test_facts import scenario
from tests.test_request_lists import decide
from tests.test_share_request_process import REFUSE, SCOPE
from tests.test_sharing_deadlines import CITY, coordinating
from tests.test_web import Browser, app  # noqa: F401 - the fixture


def tally(actors) -> dict:
    return actors.run(
        lambda s: {
            (r.year, r.department_id, r.figure, r.value): r.n
            for r in s.scalars(select(FigureTally))
            if r.n
        }
    )


def every_figure(actors, year: int) -> dict:
    def go(s):
        depts = s.scalars(select(ProcessFact.department_id).distinct()).all()
        return {d: figures(s, year, d) for d in [None, *depts]}

    return actors.run(go)


def test_the_tally_kept_by_process_runs_equals_a_recount_from_the_facts(actors, clock):
    scenario(actors, clock, {})  # answers on time, late, refused; negotiation, coordination …
    clock.set("2027-01-05T10:00:00+08:00")  # a second year: the same instance counts again
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    actors.complete("civil.clerk", key, "after_refusal", next_step="negotiate")
    kept, kept_2026, kept_2027 = (
        tally(actors),
        every_figure(actors, 2026),
        every_figure(actors, 2027),
    )
    assert kept and kept_2026[None]["negotiations"] >= 1 and kept_2027[None]["refusals"] == 1

    assert actors.run(summary.rebuild) == actors.run(
        lambda s: s.scalar(select(func.count()).where(ProcessFact.kind.in_(summary.KINDS)))
    )
    assert tally(actors) == kept
    assert every_figure(actors, 2026) == kept_2026 and every_figure(actors, 2027) == kept_2027


def _copy_requests(engine, n: int) -> None:
    """``n`` copies of every share request stored and of its facts, by bulk INSERTs, then the
    summary recounted (as after ``govshare reports rebuild``)."""
    with engine.begin() as c:
        instances = [
            dict(r)
            for r in c.execute(
                select(ProcessInstance.__table__).where(
                    ProcessInstance.process_id == "share_request"
                )
            ).mappings()
        ]
        facts = [
            dict(r)
            for r in c.execute(
                select(ProcessFact.__table__).where(
                    ProcessFact.instance_id.in_([i["id"] for i in instances])
                )
            ).mappings()
        ]
        next_id = c.scalar(select(func.max(ProcessInstance.id))) + 1
        new_instances, new_facts = [], []
        for i in range(n):
            for inst in instances:
                new_id = next_id
                next_id += 1
                new_instances.append(
                    {**inst, "id": new_id, "business_key": f"{inst['business_key']}-C{i}"}
                )
                new_facts += [
                    {**{k: v for k, v in f.items() if k != "id"}, "instance_id": new_id}
                    for f in facts
                    if f["instance_id"] == inst["id"]
                ]
        c.execute(insert(ProcessInstance.__table__), new_instances)
        c.execute(insert(ProcessFact.__table__), new_facts)


def _statements(app, browser, path: str) -> list[str]:  # noqa: F811
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        r = (browser or app.test_client()).get(path)
    finally:
        event.remove(Engine, "before_cursor_execute", listen)
    assert r.status_code == 200
    return seen


def test_the_public_page_and_the_annual_report_cost_the_same_for_5_and_50_requests(  # noqa: F811
    app,  # noqa: F811
    actors,
    clock,
    engine,
    session_factory,
):
    for username in ("civil.clerk", "health.clerk", "civil.clerk", "health.clerk"):
        actors.request(username, **HUKOU)
    key = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-09-22T10:00:00+08:00")
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    coord = Browser(app, "data.coord")
    pages = ("/public/", "/reports/annual/2026")
    _statements(app, None, "/public/")  # caches warmed (calendar, labels …)
    _statements(app, coord, pages[1])
    few = {p: len(_statements(app, coord if "reports" in p else None, p)) for p in pages}
    before = actors.run(lambda s: figures(s, 2026))["requests_sent"]

    _copy_requests(engine, 9)  # 5 requests -> 50
    actors.run(summary.rebuild)
    after = actors.run(lambda s: figures(s, 2026))
    assert (after["requests_sent"], after["answered"]) == (10 * before, 10)
    assert actors.run(lambda s: public_figures(s, 2026))["requests_received"] == 10 * before
    many = {p: _statements(app, coord if "reports" in p else None, p) for p in pages}
    assert {p: len(seen) for p, seen in many.items()} == few
    # the figures come from the summary: the public page reads no fact and no request
    assert not [s for s in many["/public/"] if "process_fact" in s or "process_instance" in s]


def test_the_public_list_is_paged_by_code_with_a_capped_count(actors, monkeypatch):
    from engine.catalog import search

    whole = actors.run(lambda s: search.open_to_public(s, "", 1, page_size=1000))
    assert whole.total >= 2 and not whole.more
    codes = [e.code for e in whole.rows]
    assert codes == sorted(codes)
    pages = [actors.run(lambda s, p=p: search.open_to_public(s, "", p, 1)) for p in (1, 2, 99)]
    assert [p.rows[0].code for p in pages] == [codes[0], codes[1], codes[-1]]
    assert pages[0].pages == whole.total
    monkeypatch.setattr(search, "COUNT_CAP", 1)
    capped = actors.run(lambda s: search.open_to_public(s, "", 1, 1))
    assert (capped.total, capped.more) == (1, True)


def test_the_command_line_rebuilds_the_tally_from_the_facts(actors, db_url, capsys):
    from engine.cli import main

    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    kept = tally(actors)
    actors.run(lambda s: s.execute(delete(FigureTally)))
    assert tally(actors) == {}
    main(["--database", db_url, "reports", "rebuild"])
    assert "2" in capsys.readouterr().out  # submitted and answered
    assert tally(actors) == kept
    recounts = actors.run(
        lambda s: [
            (e.detail["before"], e.detail["after"])
            for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == "figures_recounted"))
        ]
    )
    assert len(recounts) == 1, recounts  # the recount is audited, with what it changed
    assert recounts[0][1]["counted"] == sum(kept.values()) and recounts[0][0]["counted"] == 0


def _backfill_sql(s) -> None:
    """Migration 0045's recount, in plain SQL, run on the test database."""
    path = (
        Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0045_dispute_tally.py"
    )
    spec = importlib.util.spec_from_file_location("migration_0045", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for statement in module._sql(s.get_bind().dialect.name == "postgresql"):
        s.execute(text(statement))


def _board(actors, username):
    return actors.run(lambda s: board_for(s, actors.clock, actors.user(s, username)))


def test_the_dispute_counts_kept_by_coordination_runs_equal_a_recount(actors, clock):
    """Disputes escalated at three levels, decided in several ways and years, some still open:
    the summary the runs kept, the rebuild's recount and migration 0045's SQL recount agree,
    and the board shows what the facts say."""
    region = [coordinating(actors) for _ in range(4)]
    city = coordinating(actors, "yinchuan-samr.clerk", "yinchuan-civil.clerk", CITY)
    county = coordinating(actors, "xingqing-samr.clerk", "xingqing-civil.clerk", COUNTY)
    clock.set("2026-09-23T10:00:00+08:00")
    decide(actors, region[0], "grant", **SCOPE)
    decide(actors, region[1], "grant_in_part", **{**SCOPE, "granted_items": ["公民身份号码"]})
    actors.complete(
        "yinchuan-data.coord",
        city,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="依据不足",
    )
    clock.set("2027-01-05T10:00:00+08:00")  # a new year: one decided, one escalated
    decide(actors, region[2], "uphold")
    later = coordinating(actors)
    kept = tally(actors)
    board = _board(actors, "data.coord")  # the region's level and those below
    assert (board.open_total, board.decided_this_year) == (3, 1)  # region[3], county, later
    assert board.by_age["0-5"] == 1 and board.by_age[">20"] == 2  # escalated in 2026-09
    assert {r.business_key for r in board.rows} == {region[3], county, later}
    decided = actors.run(
        lambda s: board_for(s, actors.clock, actors.user(s, "data.coord"), Filters(state="decided"))
    )
    assert decided.total == 4 and _board(actors, "xingqing-data.coord").open_total == 1
    city_board = _board(actors, "yinchuan-data.coord")
    assert (city_board.open_total, city_board.decided_this_year) == (1, 0)  # decided in 2026

    actors.run(summary.rebuild)
    assert tally(actors) == kept
    actors.run(_backfill_sql)
    assert tally(actors) == kept


def test_a_dispute_escalated_or_decided_twice_stays_one_dispute(actors, clock):
    """A process that records a second decision (or escalation) for an instance already decided
    does not take the dispute off the open count twice: no negative row, the board still counts
    the other dispute open, and the kept tally equals both recounts."""
    decided, still_open = coordinating(actors), coordinating(actors)
    clock.set("2026-09-23T10:00:00+08:00")
    decide(actors, decided, "uphold")
    clock.set("2026-09-24T10:00:00+08:00")

    def record_again(s):
        instance = s.scalars(
            select(ProcessInstance).where(ProcessInstance.business_key == decided)
        ).one()
        authority = s.scalars(
            select(ProcessFact.department_id).where(
                ProcessFact.instance_id == instance.id, ProcessFact.kind == summary.DECIDED
            )
        ).one()
        ctx = SimpleNamespace(instance=instance, session=s)
        for kind, decision in ((summary.DECIDED, "refusal_upheld"), (summary.OPENED, None)):
            fact = ProcessFact(
                instance_id=instance.id,
                process_id="negotiation",
                kind=kind,
                at=clock.now(),
                role="authority",
                department_id=authority,
                decision=decision,
            )
            summary.tally_fact(ctx, fact)  # as the runtime does, before the fact is written
            s.add(fact)
            s.flush()

    actors.run(record_again)
    kept = tally(actors)
    assert all(n > 0 for n in kept.values())
    assert sum(n for (_y, _d, figure, _v), n in kept.items() if figure == "disputes_open") == 1
    assert _board(actors, "data.coord").open_total == 1
    assert {r.business_key for r in _board(actors, "data.coord").rows} == {still_open}
    actors.run(summary.rebuild)
    assert tally(actors) == kept
    actors.run(_backfill_sql)
    assert tally(actors) == kept


def test_a_calendar_notice_for_a_past_day_changes_the_medians_without_a_rebuild(actors, clock):
    asked = actors.request("civil.clerk", **HUKOU)  # Friday 2026-09-18
    disputed = coordinating(actors)  # refused the same day (0 days) and escalated
    clock.set("2026-09-25T10:00:00+08:00")  # a week later: 5 working days
    actors.complete("pubsec.clerk", asked, "provider_review", review_decision="approve", **SCOPE)
    decide(actors, disputed, "uphold")
    assert actors.run(lambda s: figures(s, 2026)["median_days_to_answer"]) == 2.5  # 0 and 5
    assert _board(actors, "data.coord").median_days_to_decide == 5
    kept = tally(actors)
    actors.run(
        lambda s: add_days(
            s, clock, ["2026-09-21"], "holiday", "regional", "测试假日", "宁政办发〔2026〕1号"
        )
    )  # a notice makes Monday 09-21 a holiday: both durations lose a working day at once
    assert actors.run(lambda s: figures(s, 2026)["median_days_to_answer"]) == 2  # 0 and 4
    assert _board(actors, "data.coord").median_days_to_decide == 4
    assert tally(actors) == kept  # nothing was recounted
