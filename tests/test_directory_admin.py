"""Directory administration (issue 14): divisions, departments renamed with history, moved,
merged and split carrying their open tasks, grants, catalog and ledger entries; the authority of
each level and the duties; import with a dry-run diff and all-or-nothing apply; scope refusals."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, text

from engine.audit import AuditEvent
from engine.catalog import resource_by_code
from engine.cli import main
from engine.directory import administration as admin
from engine.directory import clients, department_by_slug, department_labels, user_by_name
from engine.directory.models import Division
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.oversight import breaches
from engine.reorganisation import merge, move, split
from engine.reorganisation.importing import import_directory
from engine.sharing import grants
from engine.sharing.models import Grant
from engine.workflow import history, tasks
from engine.workflow.models import HumanTask, ProcessInstance
from tests.conftest import HUKOU, clear_rows
from tests.test_web import Browser, app  # noqa: F401

UNCONDITIONAL = dict(
    resource_code="JC-RK/0001",
    info_items=["姓名", "公民身份号码"],
    purpose="核验申请人身份",
    scenario="YYCJ006",
    legal_basis="《社会救助暂行办法》",
    period_start="2026-10-01",
    period_end="2026-12-31",
)


def snapshot_directory(engine):
    with engine.connect() as c:
        return {
            "department": c.execute(
                text(
                    "SELECT id, name, name_en, division_code, is_authority, duties, active,"
                    " successor_id FROM department"
                )
            ).all(),
            "users": c.execute(text("SELECT id, department_id, active FROM app_user")).all(),
            "resources": c.execute(
                text("SELECT id, provider_id, division_code FROM resource")
            ).all(),
            "divisions": c.execute(text("SELECT code, name, name_en FROM division")).all(),
        }


def restore_directory(engine, snap) -> None:
    """Put the seeded directory back (the test database is seeded once per session)."""
    clear_rows(engine)
    with engine.begin() as c:
        c.execute(text("DELETE FROM department_name"))
        for r in snap["users"]:
            c.execute(
                text("UPDATE app_user SET department_id = :d, active = :a WHERE id = :i"),
                {"d": r.department_id, "a": r.active, "i": r.id},
            )
        for r in snap["resources"]:
            c.execute(
                text("UPDATE resource SET provider_id = :p, division_code = :d WHERE id = :i"),
                {"p": r.provider_id, "d": r.division_code, "i": r.id},
            )
        for r in snap["department"]:
            c.execute(
                text(
                    "UPDATE department SET name = :n, name_en = :e, division_code = :d,"
                    " is_authority = :a, duties = :u, active = :ac, successor_id = :s"
                    " WHERE id = :i"
                ),
                {
                    "n": r.name,
                    "e": r.name_en,
                    "d": r.division_code,
                    "a": r.is_authority,
                    "u": r.duties if isinstance(r.duties, str) else json.dumps(r.duties),
                    "ac": r.active,
                    "s": r.successor_id,
                    "i": r.id,
                },
            )
        ids = [r.id for r in snap["department"]]
        c.execute(
            text(
                "UPDATE department SET successor_id = NULL WHERE successor_id IS NOT NULL AND id IN (SELECT id FROM department)"
            )
        )
        for r in snap["department"]:
            if r.successor_id:
                c.execute(
                    text("UPDATE department SET successor_id = :s WHERE id = :i"),
                    {"s": r.successor_id, "i": r.id},
                )
        keep = ",".join(str(i) for i in ids)
        c.execute(text(f"DELETE FROM department WHERE id NOT IN ({keep})"))
        for r in snap["divisions"]:
            c.execute(
                text("UPDATE division SET name = :n, name_en = :e WHERE code = :c"),
                {"n": r.name, "e": r.name_en, "c": r.code},
            )
        codes = ",".join(f"'{r.code}'" for r in snap["divisions"])
        c.execute(text(f"DELETE FROM division WHERE code NOT IN ({codes})"))


@pytest.fixture
def directory(engine, session_factory):
    snap = snapshot_directory(engine)
    yield session_factory
    restore_directory(engine, snap)


def run(factory, fn):
    with factory() as s, s.begin():
        return fn(s)


def _new(factory, clock, slug, name, name_en, division="640000"):
    run(factory, lambda s: admin.create_department(s, clock, None, slug, name, name_en, division))


def _audit_kinds(factory):
    return run(
        factory, lambda s: [e.kind for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    )


# -- divisions ----------------------------------------------------------------------------------
def test_the_division_tree_runs_region_cities_counties_and_only_the_system_admin_creates(
    directory, clock
):
    tree = run(directory, lambda s: admin.division_tree(s, None))
    assert [r.level for r in tree] == ["region"]
    city = tree[0].children[0]
    assert city.level == "city" and city.children and city.children[0].level == "county"
    with pytest.raises(Forbidden):
        run(
            directory,
            lambda s: admin.create_division(
                s,
                clock,
                user_by_name(s, "yinchuan-data.admin"),
                "640199",
                "新区",
                "New",
                "county",
                "640100",
            ),
        )
    run(
        directory,
        lambda s: admin.create_division(
            s,
            clock,
            user_by_name(s, "data.admin"),
            "640199",
            "示范区",
            "Demo District",
            "county",
            "640100",
        ),
    )
    with pytest.raises(ValidationFailed) as err:
        run(
            directory,
            lambda s: admin.create_division(s, clock, None, "64019", "", "X", "county", "640000"),
        )
    fields = {d["field"] for d in err.value.details}
    assert fields == {"code", "name", "parent"}
    run(
        directory,
        lambda s: admin.rename_division(s, clock, None, "640199", "示范新区", "Demo New District"),
    )
    assert "division_created" in _audit_kinds(directory)
    assert "division_renamed" in _audit_kinds(directory)


# -- departments --------------------------------------------------------------------------------
def test_departments_are_paged_by_id_and_filtered(directory):
    first = run(directory, lambda s: admin.list_departments(s, None, page_size=10))
    second = run(
        directory, lambda s: admin.list_departments(s, None, after=first.next_after, page_size=10)
    )
    assert len(first.rows) == 10 and first.next_after == first.rows[-1].id
    assert second.rows[0].id > first.rows[-1].id
    region = run(
        directory, lambda s: admin.list_departments(s, None, division="640000", query="公安")
    )
    assert [r.slug for r in region.rows] == ["pubsec"]


def test_a_rename_keeps_the_old_name_and_cases_say_formerly(directory, clock):
    data_admin = lambda s: user_by_name(s, "data.admin")  # noqa: E731
    run(
        directory,
        lambda s: admin.rename_department(
            s,
            clock,
            data_admin(s),
            "data",
            "自治区数据局",
            "Ningxia Data Bureau",
            "2024年机构改革组建数据局",
        ),
    )
    detail = run(directory, lambda s: admin.department_detail(s, None, "data"))
    assert detail.row.label.zh == "自治区数据局"
    [change] = detail.history
    assert change.old.zh == "自治区数据共享主管部门" and change.reason == "2024年机构改革组建数据局"
    labels = run(directory, lambda s: department_labels(s, [department_by_slug(s, "data").id]))
    [label] = labels.values()
    assert label.en == "Ningxia Data Bureau (formerly Data-sharing authority of the region)"
    assert "自治区数据局" in label.zh and "自治区数据共享主管部门" in label.zh
    old_name = run(
        directory,
        lambda s: admin.name_at(
            s, department_by_slug(s, "data").id, clock.now().replace(year=2025)
        ),
    )
    assert old_name.zh == "自治区数据共享主管部门"
    with pytest.raises(ValidationFailed) as err:
        run(directory, lambda s: admin.rename_department(s, clock, None, "data", "", "X", ""))
    assert {d["field"] for d in err.value.details} == {"name", "reason"}


def test_no_two_departments_or_divisions_share_a_name(directory, clock):
    def refused(fn):
        with pytest.raises(ValidationFailed) as err:
            run(directory, fn)
        return {d["field"]: str(d["message"]) for d in err.value.details}

    taken = refused(
        lambda s: admin.rename_department(
            s, clock, None, "civil", "自治区公安厅", "Public Security Department", "改革"
        )
    )
    assert taken == {
        "name": "is the name of another department",
        "name_en": "is the name of another department",
    }
    assert "name" in refused(
        lambda s: admin.create_department(
            s, clock, None, "edu-copy", "自治区教育厅", "Education copy", "640000"
        )
    )
    assert refused(
        lambda s: admin.rename_division(s, clock, None, "640122", "银川市", "Helan County")
    ) == {"name": "is the name of another division"}
    assert not any(e.startswith("department_") for e in _audit_kinds(directory))


def test_a_case_names_its_renamed_provider_formerly(directory, actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    run(
        directory,
        lambda s: admin.rename_department(
            s, clock, None, "pubsec", "自治区公安厅（新）", "Public Security (new)", "改革"
        ),
    )

    def provider(s):
        inst = s.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))
        return history.instance_info(inst).summary["provider_name"]

    name = run(directory, provider)
    assert name.en == "Public Security (new) (formerly Public Security Department)"


def test_a_level_administrator_administers_their_level_only(directory, clock):
    def as_city(fn):
        return run(directory, lambda s: fn(s, user_by_name(s, "yinchuan-data.admin")))

    page = as_city(lambda s, a: admin.list_departments(s, a, page_size=500))
    assert page.rows and all(r.division_code.startswith("6401") for r in page.rows)
    with pytest.raises(Forbidden):
        as_city(lambda s, a: admin.rename_department(s, clock, a, "pubsec", "X", "X", "r"))
    with pytest.raises(Forbidden):
        as_city(lambda s, a: admin.list_departments(s, a, division="640000"))
    with pytest.raises(Forbidden):
        as_city(lambda s, a: merge(s, clock, a, ["civil"], "justice", "r"))
    with pytest.raises(Forbidden):
        run(directory, lambda s: admin.division_tree(s, user_by_name(s, "pubsec.clerk")))
    as_city(
        lambda s, a: admin.create_department(
            s, clock, a, "yinchuan-bigdata", "银川市大数据局", "Yinchuan Big Data Bureau", "640100"
        )
    )


def test_a_move_takes_the_catalog_entries_to_the_new_level(directory, clock):
    run(directory, lambda s: move(s, clock, None, "stats", "640100", "下放"))
    row = run(directory, lambda s: admin.department_detail(s, None, "stats")).row
    assert row.division_code == "640100"
    with pytest.raises(ValidationFailed):
        run(directory, lambda s: move(s, clock, None, "data", "640100", "r"))


# -- merger -------------------------------------------------------------------------------------
def test_merging_carries_open_tasks_grants_catalog_and_ledger_entries_and_keeps_old_names(
    directory, actors, clock
):
    _new(directory, clock, "pubsec-data", "自治区公安数据中心", "Public Security Data Centre")
    granted = actors.request("civil.clerk", **UNCONDITIONAL)  # a grant to civil, finished case
    key = actors.request("civil.clerk", **HUKOU)  # conditional: the provider pubsec decides
    run(
        directory,
        lambda s: breaches.record(
            s, clock, department_by_slug(s, "pubsec").id, "art. 23", "reply_overdue", {}
        ),
    )
    plan = run(directory, lambda s: merge(s, clock, None, ["pubsec"], "pubsec-data", ""))
    groups = {g.kind: g for g in plan.groups}
    assert groups["tasks"].count == 1 and groups["cases"].items[0].key == key
    assert groups["resources"].count >= 2 and "JC-RK/0002" in {
        i.key for i in groups["resources"].items
    }
    assert groups["breaches"].count == 1 and groups["users"].count == 2
    assert {i.key for i in groups["duties"].items} == {"base:population"}
    assert [i.label for i in groups["systems"].items] == ["人口信息查询系统"]  # its API client
    assert all(i.target.zh == "自治区公安数据中心" for g in plan.groups for i in g.items)
    assert not plan.applied and "department_merged" not in _audit_kinds(directory)

    done = run(
        directory,
        lambda s: merge(
            s,
            clock,
            None,
            ["pubsec"],
            "pubsec-data",
            "机构改革",
            dry_run=False,
            expected=plan.token,
        ),
    )
    assert done.applied

    def check(s):
        new = department_by_slug(s, "pubsec-data")
        old = department_by_slug(s, "pubsec")
        inst = s.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))
        assert inst.bindings["provider"] == new.id and inst.provider_department_id == new.id
        task = s.scalar(
            select(HumanTask).where(HumanTask.instance_id == inst.id, HumanTask.state == "open")
        )
        assert task.department_id == new.id
        assert user_by_name(s, "pubsec.clerk").department_id == new.id
        assert not old.active and old.successor_id == new.id and "base:population" in new.duties
        # the department's system keeps its token and now acts for the successor
        principal = clients.authenticate(s, clock, "demo-client-pubsec")
        assert principal is not None and principal.department_id == new.id
        label = department_labels(s, [old.id])[old.id]
        assert label.en == "Public Security Department (merged into Public Security Data Centre)"
        return inst.id

    run(directory, check)
    # the process routes to the successor: its official decides the case
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_review",
        review_decision="approve",
        granted_items=["公民身份号码", "变动类型"],
        granted_period_start="2026-10-01",
        granted_period_end="2027-09-30",
        granted_purpose="核定城乡低保对象户籍状况",
    )
    assert actors.status(key)["summary"]["decision"] == "granted"
    assert actors.status(granted)["status"] == "completed"
    # a second apply of the same merger is refused: the department is no longer active
    with pytest.raises(ValidationFailed):
        run(
            directory,
            lambda s: merge(s, clock, None, ["pubsec"], "pubsec-data", "again", dry_run=False),
        )
    assert "department_merged" in _audit_kinds(directory)


def test_a_grant_in_force_goes_to_the_successor_of_the_requester(directory, actors, clock):
    actors.request("civil.clerk", **UNCONDITIONAL)
    plan = run(directory, lambda s: merge(s, clock, None, ["civil"], "justice", "", dry_run=True))
    assert {g.kind: g.count for g in plan.groups}["grants"] == 1
    run(
        directory,
        lambda s: merge(
            s, clock, None, ["civil"], "justice", "合并", dry_run=False, expected=plan.token
        ),
    )
    justice = run(directory, lambda s: department_by_slug(s, "justice").id)
    assert run(directory, lambda s: [g.requester_id for g in s.scalars(select(Grant))]) == [justice]

    def covered(s, slug: str) -> bool:  # the art. 14 check, within the grant's period
        resource = resource_by_code(s, UNCONDITIONAL["resource_code"])
        dept = department_by_slug(s, slug).id
        items = UNCONDITIONAL["info_items"]
        return grants.covering_grant(s, dept, resource.id, items, date(2026, 11, 2)) is not None

    assert run(directory, lambda s: (covered(s, "justice"), covered(s, "civil"))) == (True, False)


def test_an_apply_after_the_holdings_changed_is_refused(directory, actors, clock):
    plan = run(directory, lambda s: merge(s, clock, None, ["civil"], "justice", ""))
    actors.request("civil.clerk", **UNCONDITIONAL)  # a new grant since the preview
    with pytest.raises(Conflict):
        run(
            directory,
            lambda s: merge(
                s, clock, None, ["civil"], "justice", "r", dry_run=False, expected=plan.token
            ),
        )
    assert run(directory, lambda s: department_by_slug(s, "civil").active)


def test_an_authority_merges_only_within_its_division(directory, clock):
    with pytest.raises(ValidationFailed) as err:
        run(directory, lambda s: merge(s, clock, None, ["yinchuan-data"], "data", ""))
    assert err.value.details[0]["field"] == "target"


# -- split --------------------------------------------------------------------------------------
def test_a_split_follows_the_explicit_assignment(directory, actors, clock):
    _new(directory, clock, "pubsec-a", "自治区公安厅甲", "Public Security A")
    _new(directory, clock, "pubsec-b", "自治区公安厅乙", "Public Security B")
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: tasks.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    assignment = {
        "cases:" + key: "pubsec-b",
        "users:pubsec.lead": "pubsec-b",
        "resources:JC-RK/0002": "pubsec-b",
    }
    plan = run(
        directory,
        lambda s: split(s, clock, None, "pubsec", ["pubsec-a", "pubsec-b"], assignment, ""),
    )
    where = {(g.kind, i.key): i.target.en for g in plan.groups for i in g.items}
    assert where[("cases", key)] == "Public Security B"
    assert where[("users", "pubsec.lead")] == "Public Security B"
    assert where[("users", "pubsec.clerk")] == "Public Security A"
    assert [v for (k, _), v in where.items() if k == "tasks"] == ["Public Security B"]
    run(
        directory,
        lambda s: split(
            s,
            clock,
            None,
            "pubsec",
            ["pubsec-a", "pubsec-b"],
            assignment,
            "拆分",
            dry_run=False,
            expected=plan.token,
        ),
    )
    inst = run(
        directory,
        lambda s: s.scalar(
            select(ProcessInstance.provider_department_id).where(
                ProcessInstance.business_key == key
            )
        ),
    )
    assert inst == run(directory, lambda s: department_by_slug(s, "pubsec-b").id)
    # the case went to B, its claimant to A: the task is back in B's queue
    assert run(directory, lambda s: s.get(HumanTask, task_id).assignee_id) is None
    with pytest.raises(ValidationFailed) as err:
        run(
            directory,
            lambda s: split(
                s, clock, None, "civil", ["justice", "edu"], {"users:nobody": "edu"}, ""
            ),
        )
    assert err.value.details[0]["field"] == "assignment"


# -- the authority and the duties -----------------------------------------------------------------
def test_designating_a_new_authority_takes_it_from_the_old_one_in_one_step(directory, clock):
    _new(directory, clock, "ningxia-data-bureau", "自治区数据局", "Ningxia Data Bureau")
    run(
        directory,
        lambda s: admin.designate_authority(
            s, clock, user_by_name(s, "data.admin"), "640000", "ningxia-data-bureau", "2024年改革"
        ),
    )
    rows = {r.division_code: r for r in run(directory, lambda s: admin.authorities(s, None))}
    assert rows["640000"].authority.value == "ningxia-data-bureau"
    assert not run(directory, lambda s: department_by_slug(s, "data").is_authority)
    with pytest.raises(ValidationFailed):
        run(directory, lambda s: admin.designate_authority(s, clock, None, "640100", "pubsec", "r"))
    with pytest.raises(Forbidden):
        run(
            directory,
            lambda s: admin.designate_authority(
                s, clock, user_by_name(s, "yinchuan-data.admin"), "640000", "data", "r"
            ),
        )
    assert "authority_designated" in _audit_kinds(directory)


def test_a_review_seat_moves_to_exactly_one_holder(directory, clock):
    run(directory, lambda s: admin.assign_duty(s, clock, None, "project_review:drc", "stats"))
    seats = {r.duty: r for r in run(directory, lambda s: admin.seats(s, None))}
    assert [h.value for h in seats["project_review:drc"].holders] == ["stats"]
    assert str(seats["project_review:drc"].label) == "Project review: development and reform"
    with pytest.raises(ValidationFailed):
        run(
            directory,
            lambda s: admin.assign_duty(s, clock, None, "project_review:drc", "yinchuan-data"),
        )
    with pytest.raises(ValidationFailed):
        run(
            directory,
            lambda s: admin.assign_duty(
                s, clock, None, "project_review:drc", "stats", release=True
            ),
        )
    run(directory, lambda s: admin.assign_duty(s, clock, None, "thematic:health", "stats"))
    seats = {r.duty: r for r in run(directory, lambda s: admin.seats(s, None))}
    assert len(seats["thematic:health"].holders) == 3


# -- import -------------------------------------------------------------------------------------
CSV = """slug,name,name_en,division,duties
demo-data,示范区数据共享主管部门,Demo District data-sharing authority,640199,
demo-civil,示范区民政局,Demo District Civil Affairs Bureau,640199,
"""
CSV2 = """slug,name,name_en,division,duties
demo-data,示范区数据局,Demo District Data Bureau,640199,
demo-health,示范区卫生健康局,Demo District Health Bureau,640199,thematic:health
"""


def _district(factory, clock):
    run(
        factory,
        lambda s: admin.create_division(
            s, clock, None, "640199", "示范区", "Demo District", "county", "640100"
        ),
    )


def test_import_shows_a_dry_run_diff_then_applies_all_of_it(directory, clock):
    _district(directory, clock)
    diff = run(directory, lambda s: import_directory(s, clock, None, CSV.encode(), "csv"))
    assert [r.slug for r in diff.added] == ["demo-data", "demo-civil"] and not diff.removed
    assert not run(directory, lambda s: admin.list_departments(s, None, division="640199").rows)
    run(directory, lambda s: import_directory(s, clock, None, CSV.encode(), "csv", dry_run=False))
    diff = run(directory, lambda s: import_directory(s, clock, None, CSV2.encode(), "csv"))
    assert [r.slug for r in diff.added] == ["demo-health"]
    assert [(r.slug, [str(c.field) for c in r.changes]) for r in diff.changed] == [
        ("demo-data", ["Name"])
    ]
    assert [r.slug for r in diff.removed] == ["demo-civil"]  # removal = deactivation
    run(
        directory,
        lambda s: import_directory(
            s, clock, None, CSV2.encode(), "csv", dry_run=False, source="x.csv"
        ),
    )
    page = run(
        directory, lambda s: admin.list_departments(s, None, division="640199", show_inactive=True)
    )
    state = {r.slug: (r.active, r.label.zh) for r in page.rows}
    assert state == {
        "demo-data": (True, "示范区数据局"),
        "demo-civil": (False, "示范区民政局"),
        "demo-health": (True, "示范区卫生健康局"),
    }
    assert run(directory, lambda s: admin.department_detail(s, None, "demo-data")).history
    assert "department_deactivated" in _audit_kinds(directory)


def test_a_bad_row_refuses_the_whole_file_with_row_number_and_label(directory, clock):
    _district(directory, clock)
    bad = CSV + "BAD slug,,X,999999,nonsense\n"
    with pytest.raises(ValidationFailed) as err:
        run(
            directory,
            lambda s: import_directory(s, clock, None, bad.encode(), "csv", dry_run=False),
        )
    labels = [str(d["label"]) for d in err.value.details]
    assert "Row 4: Short name" in labels and "Row 4: Chinese name" in labels
    assert "Row 4: Duties" in labels
    assert not run(directory, lambda s: admin.list_departments(s, None, division="640199").rows)


def test_import_applies_added_changed_and_deactivates_removed(directory, clock):
    rows = [
        {
            "slug": "yinchuan-data",
            "name": "银川市数据局",
            "name_en": "Yinchuan Data Bureau",
            "division": "640100",
            "duties": ["authority"],
        },
        {
            "slug": "yinchuan-bigdata",
            "name": "银川市大数据中心",
            "name_en": "Yinchuan Big Data Centre",
            "division": "640100",
        },
    ]
    data = json.dumps({"departments": rows}, ensure_ascii=False).encode()
    admin_user = lambda s: user_by_name(s, "yinchuan-data.admin")  # noqa: E731
    # the city's other departments hold officials: the file must not silently drop them
    with pytest.raises(ValidationFailed) as err:
        run(directory, lambda s: import_directory(s, clock, admin_user(s), data, "json"))
    assert "merge it instead" in str(err.value.details[0]["message"])
    ids = run(
        directory,
        lambda s: [r.slug for r in admin.list_departments(s, None, division="640100").rows],
    )
    keep = [
        {"slug": slug, "name": "x", "name_en": "x", "division": "640100"}
        for slug in ids
        if slug != "yinchuan-data"
    ]
    current = {
        r.slug: r
        for r in run(directory, lambda s: admin.list_departments(s, None, division="640100").rows)
    }
    for k in keep:
        k["name"], k["name_en"] = current[k["slug"]].label.zh, current[k["slug"]].label.en
    data = json.dumps({"departments": rows + keep}, ensure_ascii=False).encode()
    diff = run(
        directory, lambda s: import_directory(s, clock, admin_user(s), data, "json", dry_run=False)
    )
    assert diff.applied and [r.slug for r in diff.added] == ["yinchuan-bigdata"]
    assert [r.slug for r in diff.changed] == ["yinchuan-data"]
    detail = run(directory, lambda s: admin.department_detail(s, None, "yinchuan-data"))
    assert (
        detail.row.label.zh == "银川市数据局"
        and detail.history[0].old.zh == "银川市数据共享主管部门"
    )


def test_cli_directory_import_dry_run_and_merge(directory, clock, tmp_path, capsys, db_url):
    _district(directory, clock)
    path = tmp_path / "dir.csv"
    path.write_text(CSV, encoding="utf-8")
    main(["--database", db_url, "directory", "import", str(path), "--dry-run"])
    out = capsys.readouterr().out
    assert "demo-civil" in out and "Demo District Civil Affairs Bureau" in out
    assert not run(directory, lambda s: admin.list_departments(s, None, division="640199").rows)
    main(["--database", db_url, "directory", "merge", "civil", "--into", "justice", "--dry-run"])
    assert "Officials" in capsys.readouterr().out
    main(
        [
            "--database",
            db_url,
            "directory",
            "merge",
            "civil",
            "--into",
            "justice",
            "--reason",
            "合并",
        ]
    )
    assert not run(directory, lambda s: department_by_slug(s, "civil").active)
    with pytest.raises(SystemExit):
        main(
            [
                "--database",
                db_url,
                "directory",
                "rename",
                "justice",
                "--name",
                "",
                "--name-en",
                "x",
                "--reason",
                "r",
            ]
        )
    assert "Chinese name" in capsys.readouterr().err


# -- web ----------------------------------------------------------------------------------------
def test_pages_for_the_administrator_and_refusals(app, directory):  # noqa: F811
    b = Browser(app, "data.admin")
    for path in (
        "/admin/directory/",
        "/admin/directory/merge",
        "/admin/directory/duties",
        "/admin/directory/import",
        "/admin/directory/departments/pubsec",
    ):
        assert b.get(path).status_code == 200, path
    assert "组织目录" in b.get("/admin/").get_data(as_text=True)
    official = Browser(app, "pubsec.clerk")
    for path in (
        "/admin/directory/",
        "/admin/directory/merge",
        "/admin/directory/duties",
        "/admin/directory/import",
        "/admin/directory/departments/pubsec",
    ):
        assert official.get(path).status_code == 403, path
    city = Browser(app, "yinchuan-data.admin")
    assert city.get("/admin/directory/").status_code == 200
    assert city.get("/admin/directory/departments/pubsec").status_code == 403
    r = city.post(
        "/admin/directory/departments/pubsec/rename",
        {"name": "x", "name_en": "x", "reason": "r"},
        page="/admin/directory/",
    )
    assert r.status_code == 403


def test_the_administrator_previews_and_applies_a_merger_in_the_browser(app, directory, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    b = Browser(app, "data.admin")
    form = {"sources": "pubsec", "target": "stats", "reason": "机构改革", "action": "preview"}
    r = b.post("/admin/directory/merge", form)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and key in html and "待办任务" in html
    assert run(directory, lambda s: department_by_slug(s, "pubsec").active)
    token = html.split('name="token" value="')[1].split('"')[0]
    # applying without a reason is refused, and the preview stays on the page to fix it
    r = b.post("/admin/directory/merge", {**form, "reason": "", "action": "apply", "token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "原因" in html and key in html and 'value="apply"' in html
    assert run(directory, lambda s: department_by_slug(s, "pubsec").active)
    r = b.post("/admin/directory/merge", {**form, "action": "apply", "token": token})
    assert r.status_code == 302
    assert not run(directory, lambda s: department_by_slug(s, "pubsec").active)
    page = b.get("/admin/directory/departments/pubsec").get_data(as_text=True)
    assert "已并入自治区统计局" in page


def test_bad_input_on_the_pages_is_a_4xx_that_names_the_field(app, directory):  # noqa: F811
    b = Browser(app, "data.admin")
    r = b.post("/admin/directory/merge", {"target": "stats", "action": "preview"})
    assert r.status_code == 422 and "被合并部门" in r.get_data(as_text=True)
    r = b.post("/admin/directory/import", {"format": "csv", "content": "", "action": "preview"})
    html = r.get_data(as_text=True)
    assert (
        r.status_code == 422 and "名录文件：必填" in html and "slug" not in html.split("<main")[1]
    )
    r = b.post(
        "/admin/directory/import",
        {
            "format": "csv",
            "content": "slug,name,name_en,division\nBAD,,x,640000\n",
            "action": "apply",
        },
        page="/admin/directory/import",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "第2行：简称" in html and "第2行：中文名称" in html
    r = b.post(
        "/admin/directory/import", {"format": "xml", "content": "x"}, page="/admin/directory/import"
    )
    assert r.status_code == 422
    r = b.post(
        "/admin/directory/departments/stats/rename",
        {"name": "", "name_en": "x", "reason": ""},
        page="/admin/directory/departments/stats",
        follow_redirects=True,
    )
    assert "中文名称" in r.get_data(as_text=True)
    r = b.post(
        "/admin/directory/duties/seat",
        {"duty": "nonsense", "department": "stats"},
        page="/admin/directory/duties",
        follow_redirects=True,
    )
    assert r.status_code == 200 and "请选择所列职责之一" in r.get_data(as_text=True)
    assert b.get("/admin/directory/departments/no-such-dept").status_code == 404
    assert run(directory, lambda s: department_by_slug(s, "stats").name) == "自治区统计局"


def test_every_directory_form_changes_what_it_says_and_tells_the_administrator(app, directory):  # noqa: F811
    b = Browser(app, "data.admin")
    page = "/admin/directory/"

    def post(path, form, back=page):
        r = b.post(path, form, page=back, follow_redirects=True)
        assert r.status_code == 200, (path, r.status_code)
        return r.get_data(as_text=True)

    division = {"code": "640199", "name": "示范区", "name_en": "Demo District"}
    html = post("/admin/directory/divisions", {**division, "level": "county", "parent": "640100"})
    assert "行政区划已新建" in html
    html = post("/admin/directory/divisions/rename", {**division, "name": "示范新区"})
    assert "行政区划已更名" in html
    assert run(directory, lambda s: s.get(Division, "640199").name) == "示范新区"
    dept = {"slug": "demo-data", "name": "示范新区数据局", "name_en": "Demo Data Bureau"}
    html = post("/admin/directory/departments", {**dept, "division": "640199"})
    assert "部门已新建" in html and "示范新区数据局" in html
    demo = "/admin/directory/departments/demo-data"
    html = post(f"{demo}/rename", {**dept, "name": "示范新区数据管理局", "reason": "改革"}, demo)
    assert "部门已更名" in html and "示范新区数据局" in html  # the former name in the history
    html = post(f"{demo}/move", {"division": "640100", "reason": "区划调整"}, demo)
    assert "部门隶属已调整" in html
    assert run(directory, lambda s: department_by_slug(s, "demo-data").division_code) == "640100"
    duties = "/admin/directory/duties"
    html = post(
        "/admin/directory/duties/authority",
        {"division": "640100", "department": "demo-data", "reason": "2024年改革"},
        duties,
    )
    assert run(directory, lambda s: department_by_slug(s, "demo-data").is_authority)
    html = post(
        "/admin/directory/duties/seat", {"duty": "base:population", "department": ""}, duties
    )
    assert "请选择承担该职责的部门" in html  # nothing chosen: nothing given
    html = post(
        "/admin/directory/duties/seat", {"duty": "base:population", "department": "stats"}, duties
    )
    assert "职责已分配" in html
    assert "base:population" in run(directory, lambda s: department_by_slug(s, "stats").duties)
