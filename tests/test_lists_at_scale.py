"""The dispute board, the breach ledger and its CSV export at region scale (issue 15, goal 3):
the statements a page costs do not grow with what is stored (5 against 50 entries, bulk-inserted),
and the export streams in keyset batches that hold every entry exactly once."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import event, insert, select

from engine.directory import department_by_slug
from engine.oversight import breaches as service
from engine.oversight import summary
from engine.oversight.models import Breach
from engine.sharing.dispute_board import Filters, board_for
from engine.workflow.models import ProcessFact, ProcessInstance
from tests.test_request_lists import history_user
from tests.test_sharing_deadlines import coordinating
from tests.test_web import Browser, app  # noqa: F401 - the fixture


def add_disputes(actors, n):
    """``n`` copies of a real dispute (instance and escalation), every third decided, by bulk
    INSERTs, then the summary recounted (as after ``govshare reports rebuild``)."""
    key = coordinating(actors)

    def go(s):
        real = s.scalars(select(ProcessInstance).where(ProcessInstance.business_key == key)).one()
        opened = s.scalars(
            select(ProcessFact).where(
                ProcessFact.instance_id == real.id, ProcessFact.kind == "coordination_opened"
            )
        ).one()
        start = s.scalar(select(ProcessInstance.id).order_by(ProcessInstance.id.desc()).limit(1))
        columns = ("definition_id", "process_id", "status", "bindings", "summary", "state")
        s.execute(
            insert(ProcessInstance),
            [
                {
                    **{c: getattr(real, c) for c in columns},
                    "business_key": f"{key}-{i}",
                    "version": 1,
                    "created_at": real.created_at,
                    "updated_at": real.updated_at,
                }
                for i in range(n)
            ],
        )
        ids = s.scalars(select(ProcessInstance.id).where(ProcessInstance.id > start)).all()
        fact = {"process_id": opened.process_id, "department_id": opened.department_id}
        rows = []
        for i, iid in enumerate(ids):
            at = opened.at - timedelta(days=i % 40)
            rows.append({**fact, "instance_id": iid, "kind": "coordination_opened", "at": at})
            if i % 3 == 0:
                decided = at + timedelta(days=3)
                rows.append(
                    {**fact, "instance_id": iid, "kind": "coordination_decided", "at": decided}
                )
        s.execute(insert(ProcessFact), rows)

    actors.run(go)
    actors.run(summary.rebuild)


def add_breaches(actors, n, same_instant=False):
    def go(s):
        dept = department_by_slug(s, "pubsec").id
        now = actors.clock.now()
        s.execute(
            insert(Breach),
            [
                {
                    "department_id": dept,
                    "article": "第二十三条（二）",
                    "kind": "reply_overdue",
                    "evidence": {"business_key": f"GX-2026-{i:06d}", "due": "2026-09-01"},
                    "recorded_at": now if same_instant else now - timedelta(hours=i),
                }
                for i in range(n)
            ],
        )

    actors.run(go)


def counted(session_factory, username, work):
    """(statements ``work(session, user)`` ran, its result)."""
    seen = []
    with session_factory() as s:
        user = history_user(s, username)
        assert user.department.division.level
        engine = s.get_bind()
        listen = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listen)
        try:
            result = work(s, user)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    return len(seen), result


def test_the_dispute_board_costs_the_same_statements_for_5_and_50_disputes(
    actors, session_factory, clock
):
    add_disputes(actors, 4)
    for state in ("open", "all"):
        few, board = counted(
            session_factory,
            "data.coord",
            lambda s, u, state=state: board_for(s, clock, u, Filters(state)),
        )
        assert board.total == {"open": 3, "all": 5}[state]  # copies 0 and 3 decided
    add_disputes(actors, 49)
    for state in ("open", "decided", "all"):
        many, board = counted(
            session_factory,
            "data.coord",
            lambda s, u, state=state: board_for(s, clock, u, Filters(state), page_size=10),
        )
        assert len(board.rows) == 10 and board.pages > 1
        assert many <= 9, state  # the budget: whatever the number of disputes
    few, _ = counted(session_factory, "data.coord", lambda s, u: board_for(s, clock, u))
    add_disputes(actors, 1)
    more, board = counted(session_factory, "data.coord", lambda s, u: board_for(s, clock, u))
    assert few == more and board.open_total == sum(board.by_age.values())


def test_the_board_counts_open_disputes_by_age_and_decisions_of_the_year(actors, clock):
    add_disputes(actors, 30)
    b = actors.run(lambda s: board_for(s, clock, actors.user(s, "data.coord"), Filters("all")))
    assert b.total == 31  # the real dispute and thirty copies, ten of them decided
    assert b.open_total == 21 and sum(b.by_age.values()) == b.open_total
    assert b.decided_this_year == 10 and b.median_days_to_decide is not None


def test_a_ledger_page_costs_the_same_statements_for_5_and_50_entries(actors, session_factory):
    add_breaches(actors, 5)
    page = lambda s, u: service.ledger(s, u, service.Filters(), 1, 4)  # noqa: E731
    few, ledger = counted(session_factory, "data.coord", page)
    assert (ledger.total, ledger.pages) == (5, 2)
    add_breaches(actors, 45)
    many, ledger = counted(session_factory, "data.coord", page)
    assert (ledger.total, ledger.pages, len(ledger.rows)) == (50, 13, 4)
    assert few == many == 3  # the capped count, the page, the departments of the page


def test_the_export_reads_keyset_batches_each_entry_once_even_at_one_instant(
    actors, session_factory
):
    add_breaches(actors, 5, same_instant=True)

    def export(s, u, batch: int | None = 7):
        return "".join(
            service.export_csv_stream(service.ledger_batches(s, u, service.Filters(), batch=batch))
        )

    few, _ = counted(session_factory, "data.coord", export)
    add_breaches(actors, 45, same_instant=True)
    many, text = counted(session_factory, "data.coord", export)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    ids = [int(r[0]) for r in rows[1:]]
    assert rows[0][0] == "id" and len(ids) == 50 and len(set(ids)) == 50
    assert ids == sorted(ids, reverse=True)  # newest first: at one instant, the last recorded
    assert few == 2  # one batch: its rows and their departments
    assert many == 2 * 8  # 50 rows in batches of 7: 8 batches, no count, no offset
    with session_factory() as s:  # the default batch holds all 50
        whole = export(s, history_user(s, "data.coord"), None)
    assert whole == text  # the same file, whatever the batches


def test_the_export_stops_at_the_cap(actors, session_factory, monkeypatch):
    add_breaches(actors, 20)
    monkeypatch.setattr(service, "EXPORT_CAP", 9)
    with session_factory() as s:
        user = history_user(s, "data.coord")
        batches = list(service.ledger_batches(s, user, service.Filters(), batch=4))
    assert [len(b) for b in batches] == [4, 4, 1]


def test_the_csv_page_streams_the_same_file_in_batches(app, actors, monkeypatch):  # noqa: F811
    add_breaches(actors, 12, same_instant=True)
    b = Browser(app, "data.coord")
    whole = b.get("/breaches/?format=csv").get_data(as_text=True)
    monkeypatch.setattr(service, "EXPORT_BATCH", 5)
    r = b.get("/breaches/?format=csv")
    assert r.is_streamed and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert text == whole and text.startswith("\ufeffid,") and len(text.splitlines()) == 13
    assert b.get("/breaches/?format=csv&from=2026-13-01").status_code == 422
