"""Every inbox read costs one page (issue 15, goal 3): the inbox views, the navigation's counts
and /api/v1/tasks run the same SQL statements with 5 or 300 open tasks stored, within a stated
budget; counts stop at the cap and show as "1000+"; the API's keyset pages give each task once.

The tasks are bulk-inserted copies of one real provider review (cheap, whatever their number),
spread over the user's own tasks, the department queue, overdue and done."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from engine.cli import main
from engine.directory import user_by_name
from engine.workflow import inbox
from engine.workflow.models import HumanTask
from tests import sql_counting
from tests.conftest import HUKOU
from tests.test_web import Browser, app  # noqa: F401

VIEWS = ("mine", "queue", "overdue", "done")
# statements per page, as measured: the session and its user, calendar, cover, a capped count,
# the page with its instances, holders and counterparts, the filter options, the nav badges and
# the bell (a page that needs more has a query per row somewhere)
PAGE_BUDGET = 19
NAV_BUDGET = 5  # cover, the department (coordinates?), a capped count per badge (3)
API_BUDGET = 5  # the token (three lookups, the user read again after its commit), one batch


def statements():
    """The statements any engine runs (the app's and the tests'), but SQLite's BEGIN
    (PostgreSQL's is implicit): the same count on both databases."""
    return sql_counting.statements(keep=lambda s: not s.lstrip().upper().startswith("BEGIN"))


def auth(user):
    return {"Authorization": f"Bearer demo-{user}"}


@pytest.fixture
def review(actors):
    """One real share request: its provider review waits in the public security queue."""
    key = actors.request("civil.clerk", **HUKOU)
    return actors.open_task(key, "provider_review")


def fill(engine, clock, template_id: int, total: int) -> None:
    """Copies of the review until ``total`` tasks are stored: in turn overdue in the queue,
    overdue and claimed by pubsec.clerk, claimed and due later, done by pubsec.clerk; deadlines
    in groups of eight equal ones (so the keyset order needs the id)."""
    table = HumanTask.__table__
    with engine.begin() as conn:
        stored = len(conn.execute(select(table.c.id)).all())
        row = dict(conn.execute(select(table).where(table.c.id == template_id)).one()._mapping)
        now = clock.now()
        rows = []
        for i in range(stored, total):
            kind = i % 4
            if kind <= 1:  # overdue, eight tasks to a deadline
                due = now - timedelta(hours=1 + i // 8)
            else:
                due = now + timedelta(days=3, hours=i // 8)
            copy = {k: v for k, v in row.items() if k != "id"}
            copy.update(
                spiff_task_id=str(uuid.uuid4()),
                due_at=due,
                due_sort=due,
                created_at=now - timedelta(minutes=i),
                assignee_id=None if kind == 0 else CLERK[0],
                state="completed" if kind == 3 else "open",
                completed_at=now - timedelta(minutes=i) if kind == 3 else None,
                completed_by_id=CLERK[0] if kind == 3 else None,
            )
            rows.append(copy)
        if rows:
            conn.execute(insert(table), rows)


CLERK: list[int] = []  # pubsec.clerk's id, read once per test (the seed's)


@pytest.fixture
def clerk(session_factory):
    with session_factory() as s:
        CLERK[:] = [user_by_name(s, "pubsec.clerk").id]
    return CLERK[0]


def measure(app, engine, clock, session_factory):  # noqa: F811
    """Statements of each inbox page, the nav counts and one API batch (each run twice: the
    second is measured, so what a first request warms up is left out)."""
    browser = Browser(app, "pubsec.clerk")
    api = app.test_client()
    found: dict[str, int] = {}
    for view in VIEWS:
        for _ in range(2):
            with statements() as seen:
                r = browser.get(f"/inbox/{view}")
        assert r.status_code == 200
        found[view] = len(seen)
    with session_factory() as s:
        user = user_by_name(s, "pubsec.clerk")
        with statements() as seen:
            inbox.counts(s, user, clock)
        found["nav"] = len(seen)
    for _ in range(2):
        with statements() as seen:
            r = api.get("/api/v1/tasks?limit=20", headers=auth("pubsec.clerk"))
    assert r.status_code == 200 and r.get_json()
    found["api"] = len(seen)
    return found


def test_inbox_pages_nav_and_api_cost_the_same_with_5_or_300_tasks(
    app,  # noqa: F811
    engine,
    clock,
    session_factory,
    review,
    clerk,
):
    fill(engine, clock, review, 5)
    few = measure(app, engine, clock, session_factory)
    fill(engine, clock, review, 300)
    many = measure(app, engine, clock, session_factory)
    assert many == few, (few, many)
    assert all(few[v] <= PAGE_BUDGET for v in VIEWS), few
    assert few["nav"] <= NAV_BUDGET and few["api"] <= API_BUDGET, few


def test_counts_stop_at_the_cap_and_show_it(
    app,  # noqa: F811
    engine,
    clock,
    session_factory,
    review,
    clerk,
    monkeypatch,
):
    fill(engine, clock, review, 300)
    monkeypatch.setattr(inbox, "COUNT_CAP", 50)
    monkeypatch.setattr("engine.paging.COUNT_CAP", 50)
    with session_factory() as s:
        counts = inbox.counts(s, user_by_name(s, "pubsec.clerk"), clock)
    # about 150 claimed by the clerk, 75 in the queue, 150 overdue: badges stop at 99 + 1
    assert counts == {"mine": 100, "queue": 75, "overdue": 100}, counts
    html = Browser(app, "pubsec.clerk").get("/inbox/mine").get_data(as_text=True)
    badges = re.findall(r'<span class="count[^"]*">([^<]*)</span>', html)
    assert badges[:3] == ["99+", "75", "99+"], badges
    assert "超过 50 项" in html  # the list's heading states the list's cap ("more than 50 tasks")


def test_api_keyset_pages_give_each_open_task_exactly_once(
    app,  # noqa: F811
    engine,
    clock,
    session_factory,
    review,
    clerk,
):
    fill(engine, clock, review, 60)
    client = app.test_client()
    with session_factory() as s:
        expected = s.scalars(
            select(HumanTask.id)
            .where(HumanTask.state == "open")
            .order_by(HumanTask.due_sort, HumanTask.id)
        ).all()
    seen: list[int] = []
    url = "/api/v1/tasks?limit=7"
    pages = 0
    while url:
        r = client.get(url, headers=auth("pubsec.clerk"))
        assert r.status_code == 200
        batch = r.get_json()
        assert len(batch) <= 7 and "form_schema" not in (batch[0] if batch else {})
        seen += [t["id"] for t in batch]
        link = r.headers.get("Link")
        assert bool(link) == bool(r.headers.get("X-Next-Cursor"))
        url = re.match(r'<http://localhost([^>]+)>; rel="next"', link).group(1) if link else ""
        pages += 1
    assert seen == expected and pages == -(-len(expected) // 7)
    assert {t["form_key"] for t in batch} == {batch[0]["form_key"]}


def test_api_refuses_a_bad_limit_or_cursor_naming_it(app, session_factory):  # noqa: F811
    client = app.test_client()
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("after=nonsense", "after"),
        ("after=20261399T250000000000Z.1", "after"),
    ):
        r = client.get(f"/api/v1/tasks?{query}", headers=auth("pubsec.clerk"))
        assert r.status_code == 422, query
        assert [d["field"] for d in r.get_json()["details"]] == [field], query


def test_a_form_schema_is_served_once_by_key_and_cached(app, review):  # noqa: F811
    client = app.test_client()
    [task] = client.get("/api/v1/tasks", headers=auth("pubsec.clerk")).get_json()
    assert task["form_key"].endswith(".provider_review")
    r = client.get(task["form_schema_url"], headers=auth("pubsec.clerk"))
    assert r.status_code == 200 and r.get_json()["$id"] == "govshare:forms/provider_review"
    again = client.get(
        task["form_schema_url"],
        headers={**auth("pubsec.clerk"), "If-None-Match": r.headers["ETag"]},
    )
    assert again.status_code == 304
    missing = client.get("/api/v1/forms/share_request.999.nothing", headers=auth("pubsec.clerk"))
    assert missing.status_code == 404


def test_an_inbox_page_reads_whom_the_official_stands_in_for_once(
    app,  # noqa: F811
    engine,
    clock,
    session_factory,
    review,
    clerk,
):
    """The list and the navigation's badges share one read of the official's cover, and the
    badges it shows are the page's counts."""
    fill(engine, clock, review, 40)
    browser = Browser(app, "pubsec.clerk")
    for _ in range(2):  # the second is measured
        with statements() as seen:
            html = browser.get("/inbox/mine").get_data(as_text=True)
    cover = [s for s in seen if s.startswith("SELECT delegation.absent_id")]
    assert len(cover) == 1, cover
    with session_factory() as s:
        expected = inbox.counts(s, user_by_name(s, "pubsec.clerk"), clock)
    badges = re.findall(r'<span class="count[^"]*">([^<]*)</span>', html)
    assert badges[:3] == [str(expected[v]) for v in ("mine", "queue", "overdue")], badges


@pytest.mark.parametrize("scope", ["mine", "queue", "inbox"])
def test_the_command_line_lists_a_scope_as_the_api_does(
    app,  # noqa: F811
    engine,
    clock,
    review,
    clerk,
    db_url,
    capsys,
    scope,
):
    """``govshare tasks list`` and /api/v1/tasks read one definition of mine, queue and inbox:
    the same tasks in the same deadline order."""
    fill(engine, clock, review, 40)
    main(
        [
            "--database",
            db_url,
            "tasks",
            "list",
            "--user",
            "pubsec.clerk",
            "--scope",
            scope,
            "--json",
        ]
    )
    listed = [t["id"] for t in json.loads(capsys.readouterr().out)]
    r = app.test_client().get(
        f"/api/v1/tasks?scope={scope}&limit=100", headers=auth("pubsec.clerk")
    )
    assert r.status_code == 200
    assert listed and listed == [t["id"] for t in r.get_json()]
