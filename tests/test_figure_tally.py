"""The yearly figures' summary (issue 15): kept in step by the transactions that record facts, it
equals a recount from the facts; the public page and the annual report read it, so their
statements do not grow with the requests stored."""

from __future__ import annotations

from sqlalchemy import Engine, delete, event, func, insert, select

from engine.audit import AuditEvent
from engine.oversight import summary
from engine.oversight.models import FigureTally
from engine.oversight.reports import figures, public_figures
from engine.workflow.models import ProcessFact, ProcessInstance
from tests.conftest import HUKOU
from tests.test_facts import scenario
from tests.test_share_request_process import REFUSE, SCOPE
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
