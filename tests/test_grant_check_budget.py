"""The art. 14 grant check costs the same whatever the number of grants a department holds: one
indexed query that stops at the first grant covering the use (docs/performance.md), then the
access log's row and the use tally (one statement each); a refusal names at most a few of the
grants held as evidence."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import event, insert, select

from engine.catalog import resource_by_code
from engine.directory import department_by_slug, user_by_name
from engine.oversight.models import Breach
from engine.sharing import grants
from engine.sharing.models import FOREVER, Grant, GrantItem
from engine.workflow.deployment import active_definition
from engine.workflow.models import ProcessInstance
from tests import sql_counting

TODAY = date(2026, 9, 18)  # the clock fixture's day in Asia/Shanghai
YEAR = timedelta(days=365)
CURRENT = (TODAY - timedelta(days=30), TODAY + YEAR)
EXPIRED = (TODAY - 2 * YEAR, TODAY - YEAR)
# statements of an allowed check: the resource, the first covering grant, the access log's row
# and the use tally's upsert
BUDGET = 4
SCENARIO = "YYCJ006"  # 城乡低保对象认定, seeded by migration 0049


def statements(engine):
    return sql_counting.statements(engine)


def hold(actors, slug: str, scopes: list[tuple[list[str], tuple[date, date]]]) -> list[int]:
    """Bulk-insert grants of the department on JC-RK/0002 (info items, period), in this order;
    their ids."""

    def go(s):
        dept = department_by_slug(s, slug)
        resource = resource_by_code(s, "JC-RK/0002")
        now = actors.clock.now()
        instance_id = s.execute(
            insert(ProcessInstance)
            .values(
                business_key=f"GX-T-{slug}",
                definition_id=active_definition(s, "share_request").id,
                process_id="share_request",
                status="completed",
                bindings={},
                summary={},
                state=b"",
                version=1,
                created_at=now,
                updated_at=now,
            )
            .returning(ProcessInstance.id)
        ).scalar_one()
        rows = [
            {
                "instance_id": instance_id,
                "resource_id": resource.id,
                "requester_id": dept.id,
                "info_items": items,
                "period_start": start,
                "period_end": end,
                "purpose": f"用途{i}",
                "scenario": SCENARIO,
                "basis": "approved",
                "granted_at": now,
                "decision": "granted",
            }
            for i, (items, (start, end)) in enumerate(scopes)
        ]
        ids = list(s.scalars(insert(Grant).returning(Grant.id, sort_by_parameter_order=True), rows))
        s.execute(
            insert(GrantItem),
            [
                {
                    "requester_id": dept.id,
                    "resource_id": resource.id,
                    "item": item,
                    "grant_id": id_,
                    "until": end or FOREVER,
                }
                for id_, (items, (_, end)) in zip(ids, scopes, strict=True)
                for item in dict.fromkeys(items)
            ],
        )
        return list(
            s.scalars(select(Grant.id).where(Grant.requester_id == dept.id).order_by(Grant.id))
        )

    return actors.run(go)


def uncovering(n: int) -> list:
    """``n`` grants that do not cover 公民身份号码 today: expired ones and current ones for
    another info item, alternately."""
    return [(["公民身份号码"], EXPIRED) if i % 2 else (["迁入地"], CURRENT) for i in range(n)]


def check(actors, engine, username: str, items: list[str]) -> tuple[dict, list[str]]:
    """The answer of the grant check and the statements it ran (the user is looked up before);
    the check never loads more than the one grant it names."""

    def go(s):
        user = user_by_name(s, username)
        loaded: list[int] = []

        def on_load(target, _context):
            loaded.append(target.id)

        event.listen(Grant, "load", on_load)
        try:
            with statements(engine) as seen:
                use = grants.UseAsked("JC-RK/0002", items, "核定低保", SCENARIO)
                answer = grants.check_use(s, actors.clock, user, use)
        finally:
            event.remove(Grant, "load", on_load)
        assert loaded == ([answer["grant_id"]] if answer["allowed"] else [])
        return answer, seen

    return actors.run(go)


def test_an_allowed_check_runs_the_same_statements_for_1_and_500_grants_held(actors, engine):
    (one,) = hold(actors, "health", [(["公民身份号码", "变动类型"], CURRENT)])
    lots = hold(actors, "edu", [*uncovering(499), (["公民身份号码", "变动类型"], CURRENT)])
    few, few_sql = check(actors, engine, "health.clerk", ["公民身份号码"])
    many, many_sql = check(actors, engine, "edu.clerk", ["公民身份号码"])
    assert (few["allowed"], few["grant_id"]) == (True, one)
    assert (many["allowed"], many["grant_id"]) == (True, lots[-1])
    assert len(many_sql) == len(few_sql) == BUDGET
    assert len(lots) == 500


def test_a_refused_check_runs_the_same_statements_and_names_at_most_a_few_grants(actors, engine):
    hold(actors, "health", uncovering(1))
    lots = hold(actors, "edu", uncovering(500))
    few, few_sql = check(actors, engine, "health.clerk", ["公民身份号码"])
    many, many_sql = check(actors, engine, "edu.clerk", ["公民身份号码"])
    assert few["allowed"] is many["allowed"] is False
    assert len(many_sql) == len(few_sql)
    evidence = actors.run(lambda s: s.get(Breach, many["breach_id"]).evidence)
    assert evidence["grants"] == lots[: grants.EVIDENCE_GRANTS]


def test_the_first_covering_grant_issued_is_named(actors, engine):
    ids = hold(
        actors,
        "edu",
        [
            (["迁入地"], CURRENT),
            (["变动类型", "公民身份号码"], CURRENT),
            (["公民身份号码", "变动类型", "迁入地"], CURRENT),
        ],
    )
    answer, _ = check(actors, engine, "edu.clerk", ["公民身份号码", "变动类型"])
    assert (answer["allowed"], answer["grant_id"], answer["purpose"]) == (True, ids[1], "用途1")


def test_a_grant_covers_only_every_item_asked_within_its_period_boundaries_included(actors, engine):
    ids = hold(
        actors,
        "edu",
        [
            (["公民身份号码", "变动类型"], (TODAY + timedelta(days=1), TODAY + YEAR)),  # later
            (["公民身份号码", "变动类型"], (TODAY - YEAR, TODAY - timedelta(days=1))),  # ended
            (["公民身份号码"], (TODAY, TODAY)),  # today only: the boundaries count
            (["变动类型"], (None, None)),  # no period: always
        ],
    )
    asked = {
        ("公民身份号码",): ids[2],
        ("变动类型",): ids[3],
        ("公民身份号码", "变动类型"): None,  # no one grant holds both today
        ("公民身份号码", "公民身份号码"): ids[2],
        ("迁入地",): None,
    }
    for items, expected in asked.items():
        answer, _ = check(actors, engine, "edu.clerk", list(items))
        assert answer.get("grant_id") == expected, items
        assert answer["allowed"] is (expected is not None), items
