"""Issue 12: returns become work, every waiting step has a deadline (reminder, overdue,
supervision), no seat reviews its own project, authority staff see their level and below."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.catalog.models import Resource, ResourceVersion
from engine.catalog.versions import save_draft, submit
from engine.errors import Forbidden, ValidationFailed
from engine.oversight import projects
from engine.workflow import inbox
from engine.workflow.models import OutboxMessage, ProcessInstance
from tests.test_catalog import ENTRY
from tests.test_share_request_process import open_tasks, outbox

FIXED = {
    **ENTRY,
    "info_items": ENTRY["info_items"]
    + [{"name": "机构等级", "data_type": "字符型", "share_type": "conditional"}],
}


def _submitted_entry(actors, entry=ENTRY):
    actors.run(lambda s: save_draft(s, actors.clock, actors.user(s, "civil.clerk"), entry))
    return actors.run(
        lambda s: (
            s.get(
                ProcessInstance,
                submit(
                    s,
                    actors.clock,
                    actors.user(s, "civil.clerk"),
                    s.scalar(select(Resource).where(Resource.code == entry["code"])),
                ).id,
            ).business_key
        )
    )


def _inbox(actors, username):
    return actors.run(
        lambda s: inbox.list_view(s, actors.user(s, username), actors.clock, "queue").rows
    )


def test_a_returned_catalog_entry_is_a_task_of_the_department_with_the_reasons(actors):
    key = _submitted_entry(actors)
    actors.complete(
        "data.coord",
        key,
        "review_catalog_change",
        catalog_decision="return",
        review_comment="请补充机构等级信息项",
    )
    assert open_tasks(actors.status(key)) == ["revise_change"]
    [row] = [r for r in _inbox(actors, "civil.clerk") if r.business_key == key]
    assert (row.task_name, row.reasons) == ("revise_change", "请补充机构等级信息项")
    assert row.deadline is not None  # catalog_revision: 10 working days
    # resubmitting needs a revised draft
    with pytest.raises(ValidationFailed) as err:
        actors.complete("civil.clerk", key, "revise_change", revision_choice="resubmit")
    assert "has not been revised" in str(err.value)
    # saving and submitting from the catalog goes on in the same procedure
    actors.run(
        lambda s: save_draft(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            FIXED,
            resource=s.scalar(select(Resource).where(Resource.code == ENTRY["code"])),
        )
    )
    again = _submitted_entry_again(actors)
    assert again == key
    assert open_tasks(actors.status(key)) == ["review_catalog_change"]
    actors.complete("data.coord", key, "review_catalog_change", catalog_decision="publish")
    st = actors.status(key)
    assert st["status"] == "completed" and st["summary"]["decision"] == "published"
    published = actors.run(
        lambda s: s.scalar(
            select(ResourceVersion.number)
            .where(ResourceVersion.status == "published")
            .join(Resource, Resource.id == ResourceVersion.resource_id)
            .where(Resource.code == ENTRY["code"])
        )
    )
    assert published == 2


def _submitted_entry_again(actors):
    def go(s):
        resource = s.scalar(select(Resource).where(Resource.code == ENTRY["code"]))
        return submit(s, actors.clock, actors.user(s, "civil.clerk"), resource).business_key

    return actors.run(go)


def test_a_returned_change_may_be_withdrawn(actors):
    key = _submitted_entry(actors)
    actors.complete(
        "data.coord", key, "review_catalog_change", catalog_decision="return", review_comment="重复"
    )
    actors.complete("civil.clerk", key, "revise_change", revision_choice="withdraw")
    st = actors.status(key)
    assert st["status"] == "completed" and st["summary"]["decision"] == "withdrawn"


def test_the_catalog_review_is_reminded_marked_overdue_and_supervised(actors, clock):
    key = _submitted_entry(actors)
    task = [t for t in actors.status(key)["tasks"] if t["task"] == "review_catalog_change"][0]
    due_day = task["due_at"][:10]  # 16:00 UTC is midnight in Yinchuan: the next day begins
    clock.set(f"{due_day}T10:00:00+08:00")  # the last working day: reminded already
    assert actors.sweep() == 1
    assert outbox(actors, key) == ["catalog_review_reminder"]
    assert actors.sweep() == 0
    clock.set(f"{due_day}T16:00:01+00:00")
    assert actors.sweep() == 1
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert open_tasks(st) == ["review_catalog_change", "review_supervise"]
    assert outbox(actors, key)[-2:] == ["catalog_review_overdue", "supervision_opened"]
    supervise = [t for t in st["tasks"] if t["task"] == "review_supervise"][0]
    assert supervise["due_at"] > task["due_at"]  # supervision: 5 working days
    # the supervision itself is not open-ended: when it passes, the coordinators are reminded
    clock.set(supervise["due_at"].replace("16:00:00+00:00", "16:00:01+00:00"))
    assert actors.sweep() == 1
    assert outbox(actors, key)[-1] == "supervision_overdue"
    actors.complete(
        "data.coord", key, "review_supervise", supervision_action="urged", supervision_note="已催办"
    )
    actors.complete("data.coord", key, "review_catalog_change", catalog_decision="publish")
    assert actors.status(key)["status"] == "completed"


def test_a_seat_never_reviews_its_own_departments_project(actors):
    def go(s):
        drc = actors.user(s, "drc.clerk")
        p = projects.create(s, actors.clock, drc, "投资项目在线审批监管平台", "", [])
        inst = projects.submit(s, actors.clock, drc, p)
        return dict(inst.bindings), drc.department_id

    bindings, drc_id = actors.run(go)
    data_id = actors.run(lambda s: actors.user(s, "data.clerk").department_id)
    assert bindings["drc"] == data_id != drc_id  # the data-sharing authority stands in
    assert bindings["provider"] == drc_id


def test_the_authority_applying_is_reviewed_by_the_development_and_reform_seat(actors):
    def go(s):
        data = actors.user(s, "data.clerk")
        p = projects.create(s, actors.clock, data, "共享平台升级", "", [])
        return dict(projects.submit(s, actors.clock, data, p).bindings)

    bindings = actors.run(go)
    drc_id = actors.run(lambda s: actors.user(s, "drc.clerk").department_id)
    assert bindings["data_sharing"] == drc_id


def test_city_authority_staff_do_not_see_region_projects(actors):
    pid = actors.run(
        lambda s: (
            projects.create(
                s, actors.clock, actors.user(s, "civil.clerk"), "智慧养老服务平台", "", []
            ).id
        )
    )
    with pytest.raises(Forbidden):
        actors.run(lambda s: projects.project_for(s, actors.user(s, "yinchuan-data.clerk"), pid))
    listed = actors.run(
        lambda s: [p.id for p in projects.projects_for(s, actors.user(s, "yinchuan-data.clerk"))]
    )
    assert pid not in listed
    assert (
        actors.run(lambda s: projects.project_for(s, actors.user(s, "data.clerk"), pid).id) == pid
    )


# -- IT projects (art. 20): the review seats and the applicant's (re)submission -----------------
def _project(actors):
    from tests.test_project_approval import new_project

    pid, key = new_project(actors, [ENTRY])
    actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    return pid, key


def _after(due_at: str) -> str:
    """One second after a due instant as the mirror stores it (24:00 Yinchuan is 16:00 UTC)."""
    return due_at.replace("16:00:00+00:00", "16:00:01+00:00")


def _departments(actors, key, template):
    return actors.run(
        lambda s: sorted(
            m.department_id
            for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if m.payload.get("business_key") == key and m.template == template
        )
    )


def test_project_reviews_are_reminded_marked_overdue_and_supervised(actors, clock):
    from tests.test_project_approval import SEATS

    _pid, key = _project(actors)
    st = actors.status(key)
    reviews = [t for t in st["tasks"] if t["task"].startswith("review_")]
    due_at = reviews[0]["due_at"]
    seat_departments = sorted(
        actors.run(lambda s: [actors.user(s, u).department_id for u in SEATS.values()])
    )
    # reminded (reminder_before = 2 working days) on the last working day, not yet overdue
    clock.set(f"{due_at[:10]}T10:00:00+08:00")
    assert actors.sweep() == 1
    assert outbox(actors, key)[-5:] == ["project_review_reminder"] * 5
    assert _departments(actors, key, "project_review_reminder") == seat_departments
    assert not actors.status(key)["summary"]["overdue"]
    # overdue the moment the period ends: marked, each seat notified, the authority supervises
    clock.set(_after(due_at))
    assert actors.sweep() == 1
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert open_tasks(st) == sorted(
        [f"review_{s}" for s in SEATS] + [f"review_{s}_supervise" for s in SEATS]
    )
    assert _departments(actors, key, "project_review_overdue") == seat_departments
    authority = actors.run(lambda s: actors.user(s, "data.coord").department.name)
    supervisions = [t for t in st["tasks"] if t["task"].endswith("_supervise")]
    assert {t["department"].zh for t in supervisions} == {authority}
    queue = [r.task_name for r in _inbox(actors, "data.coord") if r.business_key == key]
    assert sorted(t for t in queue if t.endswith("_supervise")) == sorted(
        f"review_{s}_supervise" for s in SEATS
    )
    overdue_reviews = actors.run(
        lambda s: inbox.list_view(s, actors.user(s, "finance.clerk"), actors.clock, "overdue").rows
    )
    assert [r.task_name for r in overdue_reviews if r.business_key == key] == ["review_finance"]
    # the supervision has its own period; when it passes, the coordinators are reminded
    supervise_due = supervisions[0]["due_at"]
    assert supervise_due > due_at
    clock.set(_after(supervise_due))
    assert actors.sweep() == 1
    assert outbox(actors, key)[-5:] == ["supervision_overdue"] * 5
    assert actors.status(key)["summary"]["supervision_overdue"] is True
    actors.complete(
        "data.coord",
        key,
        "review_finance_supervise",
        supervision_action="urged",
        supervision_note="已催办财政部门",
    )
    # once every seat has reviewed, the supervisions still open are withdrawn with the round
    for seat, user in SEATS.items():
        actors.complete(user, key, f"review_{seat}", **{f"{seat}_decision": "approve"})
    st = actors.status(key)
    assert open_tasks(st) == ["apply_acceptance"]
    history = [e["detail"] for e in st["timeline"] if e["kind"] == "task_withdrawn"]
    assert sorted(d["task"] for d in history) == sorted(
        f"review_{s}_supervise" for s in SEATS if s != "finance"
    )
    assert {d["returned_by"] for d in history} == {None}
    assert actors.sweep() == 0  # no timer of the joint review is left


def test_the_applicants_resubmission_is_reminded_marked_overdue_and_supervised(actors, clock):
    _pid, key = _project(actors)
    clock.set("2026-09-21T10:00:00+08:00")
    actors.complete("drc.clerk", key, "review_drc", drc_decision="return", drc_reasons="补充目录")
    task = [t for t in actors.status(key)["tasks"] if t["state"] == "open"][0]
    assert task["task"] == "submit_application"
    due_at = task["due_at"]
    assert due_at[:10] > "2026-10-01"  # project_application: 10 working days, National Day skipped
    civil = actors.run(lambda s: actors.user(s, "civil.clerk").department_id)
    clock.set(f"{due_at[:10]}T10:00:00+08:00")
    assert actors.sweep() == 1
    assert outbox(actors, key)[-1] == "project_application_reminder"
    assert _departments(actors, key, "project_application_reminder") == [civil]
    clock.set(_after(due_at))
    assert actors.sweep() == 1
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert open_tasks(st) == ["application_supervise", "submit_application"]
    assert outbox(actors, key)[-2:] == ["project_application_overdue", "supervision_opened"]
    [supervise] = [t for t in st["tasks"] if t["task"] == "application_supervise"]
    authority = actors.run(lambda s: actors.user(s, "data.coord").department.name)
    assert supervise["department"].zh == authority and supervise["due_at"] > due_at
    overdue = actors.run(
        lambda s: inbox.list_view(s, actors.user(s, "civil.clerk"), actors.clock, "overdue").rows
    )
    assert [r.task_name for r in overdue if r.business_key == key] == ["submit_application"]
    clock.set(_after(supervise["due_at"]))
    assert actors.sweep() == 1
    assert outbox(actors, key)[-1] == "supervision_overdue"
    # the late resubmission still goes to all five seats; the authority closes its supervision
    actors.complete("civil.clerk", key, "submit_application", application_note="已补充目录")
    st = actors.status(key)
    assert len([t for t in open_tasks(st) if t.startswith("review_")]) == 5
    assert st["summary"]["overdue"] is False
    actors.complete(
        "data.coord",
        key,
        "application_supervise",
        supervision_action="urged",
        supervision_note="已督促提交",
    )
    assert "application_supervise" not in open_tasks(actors.status(key))
