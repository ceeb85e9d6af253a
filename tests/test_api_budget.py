"""What one API call costs in SQL (docs/performance.md, "Budgets the tests hold"): the token is
read once, with its user (or its client and department) in the same statement; the request is one
transaction unless the token's last use had to be written first; an art. 14 grant check is three
reads and the two writes the access log needs (its row, the use tally), and a task completion
stays within its budget."""

from __future__ import annotations

from sqlalchemy import Engine

from engine.directory import clients
from engine.directory import user_by_name as user
from tests import sql_counting
from tests.conftest import HUKOU
from tests.test_api import auth
from tests.test_api import client as api  # noqa: F401  (the API test client fixture)
from tests.test_grant_check_budget import CURRENT, hold

CHECK = {
    "resource_code": "JC-RK/0002",
    "info_items": ["公民身份号码"],
    "purpose": "核定低保",
    "scenario": "YYCJ006",
}
# a task completion's statements beside the token's (approving a share request: the instance,
# the task, reference versions, the effect rows, the instance and task updates, the signature of
# the reply with the provider's key: docs/trust.md)
COMPLETION_BUDGET = {"sqlite": 17, "postgresql": 17}  # as tests/test_command_budget.py


def counted(api, method: str, path: str, headers: dict, body: dict | None = None):  # noqa: F811
    """The response and the statements it sent (transaction control apart), each on one line."""
    with sql_counting.statements(Engine, flat=True) as seen:
        r = api.open(path, method=method, json=body, headers=headers)
    work = [s for s in seen if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
    begins = [s for s in seen if s.startswith("BEGIN")]
    return r, work, begins


def reads(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if f" FROM {table} " in f"{s} " or f"JOIN {table} " in s]


def logged(statements: list[str]) -> list[str]:
    """The writes of a use check: its access log row and the use tally (docs/trust.md)."""
    return [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_grant_check_reads_the_token_with_its_user_and_writes_only_its_log(api, actors, clock):  # noqa: F811
    hold(actors, "health", [(["公民身份号码"], CURRENT)])
    headers = auth("health.clerk")
    first, work, _ = counted(api, "POST", "/api/v1/grants/check", headers, CHECK)
    assert first.status_code == 200
    assert any(s.startswith("UPDATE api_token") for s in work)  # its first use is kept
    clock.advance(seconds=20)  # within the minute: the last use stands
    r, work, begins = counted(api, "POST", "/api/v1/grants/check", headers, CHECK)
    assert r.status_code == 200 and r.get_json()["allowed"] is True
    # the token with its user, the resource, the first grant; the log row and the tally
    assert len(work) == 5, work
    assert len(reads(work, "api_token")) == 1
    assert reads(work, "api_client_token") == []  # an official's token is no client's
    assert reads(work, "app_user") == reads(work, "api_token")  # the user comes with the token
    writes = logged(work)
    assert len(writes) == 2, writes
    assert writes[0].startswith("INSERT INTO grant_use ")
    assert writes[1].startswith("INSERT INTO figure_tally ")
    assert len(begins) <= 1  # one transaction (PostgreSQL's BEGIN is implicit)


def test_a_client_token_is_read_with_its_client_and_department(
    api,  # noqa: F811
    actors,
    session_factory,
    clock,
):
    hold(actors, "health", [(["公民身份号码"], CURRENT)])
    with session_factory() as s, s.begin():
        admin = user(s, "data.admin")
        spec = {"department": "health", "name": "测试系统", "network": "internal", "contact": "x"}
        client_id = clients.create_client(s, clock, admin, spec).id
        secret = clients.issue_token(s, clock, admin, client_id, list(clients.SCOPES)).secret
    headers = {"Authorization": f"Bearer {secret}"}
    assert counted(api, "POST", "/api/v1/grants/check", headers, CHECK)[0].status_code == 200
    clock.advance(seconds=20)
    r, work, _ = counted(api, "POST", "/api/v1/grants/check", headers, CHECK)
    assert r.status_code == 200
    tokens = reads(work, "api_client_token")
    assert len(tokens) == 1 and "JOIN api_client " in tokens[0] and "JOIN department " in tokens[0]
    assert reads(work, "api_token") == []  # a client's token is no official's
    # the token, the resource (read once for the network too), a grant; the log row and the tally
    assert len(work) == 5, work
    assert len(logged(work)) == 2


def test_a_task_completion_stays_within_its_budget(api, clock, db_url):  # noqa: F811
    keys = []
    for _ in range(2):
        r = api.post("/api/v1/requests", json=HUKOU, headers=auth("civil.clerk"))
        assert r.status_code == 201
        keys.append(r.get_json()["business_key"])
    tasks = []
    for key in keys:
        detail = api.get(f"/api/v1/requests/{key}", headers=auth("pubsec.clerk")).get_json()
        tasks += [t["id"] for t in detail["tasks"] if t["state"] == "open"]
    approve = {
        "review_decision": "approve",
        "granted_items": HUKOU["info_items"],
        "granted_period_start": HUKOU["period_start"],
        "granted_period_end": HUKOU["period_end"],
        "granted_purpose": "核定低保",
    }
    path = "/api/v1/tasks/{}/complete"
    r = api.post(path.format(tasks[0]), json={"data": approve}, headers=auth("pubsec.clerk"))
    assert r.status_code == 200
    clock.advance(seconds=20)  # the token's last use stands: nothing to write before the command
    r, work, begins = counted(
        api, "POST", path.format(tasks[1]), auth("pubsec.clerk"), {"data": approve}
    )
    assert r.status_code == 200, r.get_json()
    assert len(reads(work, "api_token")) == 1 and reads(work, "api_client_token") == []
    assert len(begins) <= 1  # the token's read and the command share one transaction
    dialect = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    assert len(work) - 1 <= COMPLETION_BUDGET[dialect], work
