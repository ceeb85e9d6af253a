"""catalog_update (art. 8): each affected department updates its catalog within 15 working days of
a law revision or change of function; overdue is a breach (art. 23 (1)) and the authority supervises."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.catalog.events import register_event
from engine.catalog.models import Resource, ResourceVersion
from engine.catalog.versions import save_draft, submit
from engine.errors import Forbidden, ValidationFailed
from engine.oversight.models import Breach
from engine.workflow.models import ProcessInstance
from tests.test_catalog import ENTRY


def _register(actors, day="2026-09-18", depts=("civil",)):
    def go(s):
        registered = register_event(
            s,
            actors.clock,
            actors.user(s, "data.coord"),
            "law_revision",
            day,
            "《宁夏回族自治区养老服务条例》修订",
            list(depts),
        )
        return registered.business_keys

    return actors.run(go)


def _publish_change(actors, code="BM-MZ/0099"):
    actors.run(
        lambda s: save_draft(
            s, actors.clock, actors.user(s, "civil.clerk"), {**ENTRY, "code": code}
        )
    )
    actors.run(
        lambda s: submit(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            s.scalar(select(Resource).where(Resource.code == code)),
        )
    )
    key = actors.run(
        lambda s: (
            s.get(
                ProcessInstance,
                s.scalar(
                    select(ResourceVersion.instance_id)
                    .where(ResourceVersion.instance_id.is_not(None))
                    .order_by(ResourceVersion.id.desc())
                    .limit(1)
                ),
            ).business_key
        )
    )
    actors.complete("data.coord", key, "review_catalog_change", catalog_decision="publish")


def test_due_date_spans_national_day_and_counts_both_make_up_days(actors):
    [key] = _register(actors)
    st = actors.status(key)
    task = [t for t in st["tasks"] if t["task"] == "update_catalog"][0]
    # 15 working days after Friday 2026-09-18: 09-20 (make-up Sunday) … 09-30, National Day off, 10-08, 10-09, 10-10 (make-up Saturday) … 10-15
    assert task["due_at"] == "2026-10-15T16:00:00+00:00"
    assert task["department"].zh == "自治区民政厅"


def test_update_task_completes_only_after_a_publication_since_the_event(actors, clock):
    [key] = _register(actors)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "civil.clerk",
            key,
            "update_catalog",
            update_choice="updated",
            update_note="已更新养老服务相关目录",
        )
    assert "No catalog version of your department was published since 2026-09-18" in str(err.value)
    clock.set("2026-10-09T10:00:00+08:00")
    _publish_change(actors)
    actors.complete(
        "civil.clerk",
        key,
        "update_catalog",
        update_choice="updated",
        update_note="已新增养老服务机构信息目录",
    )
    st = actors.status(key)
    assert (
        st["status"] == "completed"
        and st["summary"]["decision"] == "updated"
        and st["breaches"] == []
    )


def test_a_publication_before_the_event_does_not_count(actors, clock):
    clock.set("2026-09-10T10:00:00+08:00")
    _publish_change(actors)
    clock.set("2026-09-18T10:00:00+08:00")
    [key] = _register(actors)
    with pytest.raises(ValidationFailed):
        actors.complete(
            "civil.clerk", key, "update_catalog", update_choice="updated", update_note="此前已更新"
        )


def test_overdue_update_is_a_breach_and_the_authority_supervises(actors, clock):
    [key] = _register(actors)
    clock.set("2026-10-15T23:59:00+08:00")
    assert actors.sweep() == 1  # the reminder, two working days before the due date
    assert actors.sweep() == 0
    clock.set("2026-10-16T00:00:01+08:00")
    assert actors.sweep() == 1
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert sorted(t["task"] for t in st["tasks"] if t["state"] == "open") == [
        "supervise_update",
        "update_catalog",
    ]
    assert [(b["department"].zh, b["kind"], b["article"]) for b in st["breaches"]] == [
        ("自治区民政厅", "catalog_update_overdue", "第二十三条（一）")
    ]
    evidence = actors.run(lambda s: s.scalars(select(Breach)).one().evidence)
    assert evidence["deadline"]["due_date"] == "2026-10-15"
    assert [d for d, _ in evidence["deadline"]["make_up_days"]] == ["2026-09-20", "2026-10-10"]
    # the department can still complete its update late
    _publish_change(actors)
    actors.complete(
        "civil.clerk", key, "update_catalog", update_choice="updated", update_note="逾期完成更新"
    )
    actors.complete(
        "data.coord", key, "supervise_update", supervision_action="urged", supervision_note="已督促"
    )
    assert actors.status(key)["status"] == "completed"


def test_one_task_per_affected_department_with_its_own_authority(actors):
    keys = _register(actors, depts=("civil", "yinchuan-civil"))
    departments = sorted(actors.status(k)["tasks"][0]["department"].zh for k in keys)
    assert departments == ["自治区民政厅", "银川市民政局"]


def test_bad_event_is_refused_with_every_field(actors):
    with pytest.raises(ValidationFailed) as err:
        actors.run(
            lambda s: register_event(
                s,
                actors.clock,
                actors.user(s, "data.coord"),
                "rumour",
                "2026-02-30",
                " ",
                ["nobody"],
            )
        )
    assert sorted(d["field"] for d in err.value.details) == [
        "departments",
        "kind",
        "occurred_on",
        "reference",
    ]


# -- who registers change events, for whom, and which dates (issue 12, item 5) ---------------------
def _try_register(actors, user="data.coord", day="2026-09-18", depts=("civil",), **kw):
    return actors.run(
        lambda s: register_event(
            s,
            actors.clock,
            actors.user(s, user),
            "law_revision",
            day,
            "《宁夏回族自治区养老服务条例》修订",
            list(depts),
            **kw,
        )
    )


def _count_updates(actors):
    return actors.run(
        lambda s: len(
            s.scalars(
                select(ProcessInstance.id).where(ProcessInstance.process_id == "catalog_update")
            ).all()
        )
    )


@pytest.mark.parametrize("user", ["data.clerk", "civil.clerk", "civil.lead"])
def test_only_coordinators_of_an_authority_register_events(actors, user):
    with pytest.raises(Forbidden):
        _try_register(actors, user=user)
    assert _count_updates(actors) == 0


def test_a_city_coordinator_registers_for_its_levels_never_for_the_region(actors):
    with pytest.raises(ValidationFailed) as err:
        _try_register(actors, user="yinchuan-data.coord", depts=("civil",))
    assert [d["field"] for d in err.value.details] == ["departments"]
    assert "自治区民政厅" in str(err.value.details[0]["message"])
    assert _count_updates(actors) == 0
    # its own city's department and a county's below it are its to oblige
    keys = _try_register(
        actors, user="yinchuan-data.coord", depts=("yinchuan-civil", "xingqing-civil")
    ).business_keys
    assert len(keys) == 2
    # the region's coordinator may oblige any level below it
    assert len(_try_register(actors, depts=("civil", "yinchuan-civil")).business_keys) == 2


@pytest.mark.parametrize(
    ("day", "words"),
    [("2026-09-19", "future"), ("2018-10-31", "2018-11-01"), ("0001-01-01", "")],
)
def test_a_change_in_the_future_or_before_the_measures_is_refused(actors, day, words):
    with pytest.raises(ValidationFailed) as err:
        _try_register(actors, day=day)
    assert [d["field"] for d in err.value.details] == ["occurred_on"]
    assert words in str(err.value.details[0]["message"])
    assert _count_updates(actors) == 0


def test_an_event_whose_period_ran_out_needs_confirmation_and_runs_from_registration(actors):
    # 2026-08-20 + 15 working days = 2026-09-10, before "today" (2026-09-18): no breach at once
    with pytest.raises(ValidationFailed) as err:
        _try_register(actors, day="2026-08-20")
    assert [d["field"] for d in err.value.details] == ["confirm_late"]
    assert _count_updates(actors) == 0
    [key] = _try_register(actors, day="2026-08-20", confirm_late=True).business_keys
    st = actors.status(key)
    # 15 working days from the registration on 2026-09-18, across National Day
    assert [t["due_at"][:10] for t in st["tasks"] if t["state"] == "open"] == ["2026-10-15"]
    actors.sweep()
    assert actors.run(lambda s: s.scalars(select(Breach)).all()) == []


def test_the_event_form_offers_only_departments_of_the_coordinators_levels(actors):
    from engine.catalog.events import affected_candidates

    names = actors.run(
        lambda s: [d.name.zh for d in affected_candidates(s, actors.user(s, "yinchuan-data.coord"))]
    )
    assert "银川市民政局" in names and "兴庆区民政局" in names
    assert not any(n.startswith("自治区") for n in names)


def test_versions_the_seed_loaded_after_the_change_are_no_update(actors):
    # the catalog was seeded on 2026-01-05, after a change on 2026-01-02: nothing an official did
    [key] = _try_register(actors, day="2026-01-02", confirm_late=True).business_keys
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "civil.clerk",
            key,
            "update_catalog",
            update_choice="updated",
            update_note="目录早已载入",
        )
    assert "No catalog version of your department was published since 2026-01-02" in str(err.value)
    _publish_change(actors)  # an official's change, published now, is the update
    actors.complete(
        "civil.clerk",
        key,
        "update_catalog",
        update_choice="updated",
        update_note="已新增养老服务机构信息目录",
    )
    assert actors.status(key)["status"] == "completed"
