"""project_approval (art. 20): gate 1 (catalog before approval), a parallel joint review with
deadlines where any reviewer may return (the return reaches the applicant at once, the other open
reviews are withdrawn), gate 2 (published and connected before acceptance)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.catalog.models import ResourceVersion
from engine.catalog.versions import publish_version, save_draft
from engine.errors import ValidationFailed
from engine.oversight import projects
from engine.oversight.models import Project
from engine.workflow import inbox
from tests.test_catalog import ENTRY
from tests.test_share_request_process import open_tasks, outbox

SEATS = {
    "drc": "drc.clerk",
    "industry_it": "miit.clerk",
    "finance": "finance.clerk",
    "data_sharing": "data.clerk",
    "cyberspace": "cac.clerk",
}
ENTRY_2 = {
    **ENTRY,
    "code": "BM-MZ/0098",
    "name": "养老服务补贴发放信息",
    "info_items": [{"name": "补贴对象", "data_type": "字符型", "share_type": "conditional"}],
}

ENTRY_DRC = {**ENTRY, "code": "BM-FG/0099", "provider": "drc"}


def new_project(actors, catalog):
    def go(s):
        p = projects.create(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            "智慧养老服务平台",
            "养老服务机构监管与补贴发放",
            catalog,
        )
        return p.id, projects.submit(s, actors.clock, actors.user(s, "civil.clerk"), p).business_key

    return actors.run(go)


REASONS = "项目数据资源目录未覆盖补贴发放数据"


def review_all(actors, key, **decisions):
    """The seats review in order; a return ends the round (the later seats' reviews are
    withdrawn)."""
    for seat, user in SEATS.items():
        decision = decisions.get(seat, "approve")
        form = {f"{seat}_decision": decision}
        if decision == "return":
            form[f"{seat}_reasons"] = REASONS
        actors.complete(user, key, f"review_{seat}", **form)
        if decision == "return":
            return


def test_gate_1_refuses_an_application_without_a_valid_catalog(actors):
    _pid, key = new_project(actors, [])
    with pytest.raises(ValidationFailed) as err:
        actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    assert [str(d["message"]) for d in err.value.details] == [
        "The project has no data-resource catalog (art. 20)."
    ]
    _pid, key = new_project(actors, [{**ENTRY, "share_conditions": "", "code": "BM-MZ-0097"}])
    with pytest.raises(ValidationFailed) as err:
        actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    messages = [str(d["message"]) for d in err.value.details]
    assert any("share_conditions" in m for m in messages) and any("code" in m for m in messages)
    elig = actors.run(lambda s: projects.eligibility(s, s.get(Project, _pid)))
    assert elig["approval"] is False


def test_joint_review_runs_in_parallel_with_deadlines_and_a_return_goes_back(actors):
    pid, key = new_project(actors, [ENTRY])
    actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    st = actors.status(key)
    reviews = sorted(
        (t["task"], t["department"], t["due_at"]) for t in st["tasks"] if t["state"] == "open"
    )
    assert [r[0] for r in reviews] == sorted(f"review_{s}" for s in SEATS)
    assert {r[2] for r in reviews} == {
        "2026-10-09T16:00:00+00:00"
    }  # 10 working days, National Day skipped
    assert actors.run(lambda s: s.get(Project, pid).status) == "in_review"
    review_all(actors, key, finance="return")
    assert open_tasks(actors.status(key)) == ["submit_application"]
    assert actors.run(lambda s: s.get(Project, pid).status) == "returned"
    actors.run(
        lambda s: projects.set_catalog(
            s, actors.clock, actors.user(s, "civil.clerk"), s.get(Project, pid), [ENTRY, ENTRY_2]
        )
    )
    actors.complete("civil.clerk", key, "submit_application", application_note="已补充补贴发放数据")
    review_all(actors, key)
    assert open_tasks(actors.status(key)) == ["apply_acceptance"]
    assert actors.run(lambda s: s.get(Project, pid).status) == "approved"


def test_gate_2_needs_every_resource_published_and_connected(actors):
    pid, key = new_project(actors, [ENTRY])
    actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    review_all(actors, key)
    with pytest.raises(ValidationFailed) as err:
        actors.complete("civil.clerk", key, "apply_acceptance", acceptance_note="申请验收")
    assert [str(d["message"]) for d in err.value.details] == [
        "BM-MZ/0099 is not published in the catalog"
    ]
    assert actors.run(lambda s: projects.eligibility(s, s.get(Project, pid))["om_funding"]) is False

    def publish(s):
        v = save_draft(s, actors.clock, actors.user(s, "civil.clerk"), ENTRY)
        publish_version(
            s,
            actors.clock,
            s.scalar(select(ResourceVersion).where(ResourceVersion.id == v.id)),
            None,
        )

    actors.run(publish)
    with pytest.raises(ValidationFailed) as err:
        actors.complete("civil.clerk", key, "apply_acceptance", acceptance_note="申请验收")
    assert [str(d["message"]) for d in err.value.details] == [
        "BM-MZ/0099 is not connected to the sharing platform"
    ]
    actors.run(
        lambda s: projects.mark_connected(
            s, actors.clock, actors.user(s, "civil.clerk"), "BM-MZ/0099"
        )
    )
    actors.complete("civil.clerk", key, "apply_acceptance", acceptance_note="资源已发布并接入")
    assert actors.status(key)["status"] == "completed"
    assert actors.run(lambda s: projects.eligibility(s, s.get(Project, pid))) == {
        "approval": True,
        "approval_problems": [],
        "om_funding": True,
        "acceptance_problems": [],
    }


def test_reviewers_see_the_project_after_their_review(actors, db_url, clock):
    from tests.test_web import Browser
    from web import create_app

    _pid, key = new_project(actors, [ENTRY])
    actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_CLOCK": clock, "SECRET_KEY": "t"}
    )
    assert (
        Browser(app, "drc.clerk").get(f"/requests/{key}").status_code == 200
    )  # a review seat is bound to the instance
    assert Browser(app, "health.clerk").get(f"/requests/{key}").status_code == 403


def _submitted(actors):
    pid, key = new_project(actors, [ENTRY])
    actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    return pid, key


def _history(actors, key):
    return [(e["kind"], e["detail"]) for e in actors.status(key)["timeline"]]


def _page(actors, pid, username="civil.clerk"):
    return actors.run(lambda s: projects.project_page(s, actors.user(s, username), pid))


def test_a_seats_return_reaches_the_applicant_at_once_and_withdraws_the_open_reviews(actors):
    pid, key = _submitted(actors)
    actors.complete("finance.clerk", key, "review_finance", finance_decision="approve")
    actors.complete(
        "drc.clerk", key, "review_drc", drc_decision="return", drc_reasons="未编制项目数据资源目录"
    )
    st = actors.status(key)
    # the applicant has its task at once, although three seats have not reviewed
    assert open_tasks(st) == ["submit_application"]
    assert st["summary"]["returned_by"] == "drc"
    assert st["summary"]["return_reasons"] == "未编制项目数据资源目录"
    assert actors.run(lambda s: s.get(Project, pid).status) == "returned"
    states = {t["task"]: t["state"] for t in st["tasks"] if t["task"].startswith("review_")}
    assert states == {
        "review_drc": "completed",
        "review_finance": "completed",
        "review_industry_it": "cancelled",
        "review_data_sharing": "cancelled",
        "review_cyberspace": "cancelled",
    }
    withdrawn = [d for k, d in _history(actors, key) if k == "task_withdrawn"]
    assert sorted(d["task"] for d in withdrawn) == [
        "review_cyberspace",
        "review_data_sharing",
        "review_industry_it",
    ]
    assert {d["returned_by"] for d in withdrawn} == {"drc"}
    # the department's inbox shows the task with the returning seat's reasons
    rows = actors.run(
        lambda s: inbox.list_view(s, actors.user(s, "civil.clerk"), actors.clock, "queue").rows
    )
    [row] = [r for r in rows if r.business_key == key]
    assert (row.task_name, row.reasons) == ("submit_application", "未编制项目数据资源目录")
    assert "project_returned" in outbox(actors, key)


def test_the_project_page_keeps_the_reviews_given_and_shows_the_return(actors):
    pid, key = _submitted(actors)
    actors.complete("finance.clerk", key, "review_finance", finance_decision="approve")
    actors.complete(
        "drc.clerk", key, "review_drc", drc_decision="return", drc_reasons="未编制项目数据资源目录"
    )
    page = _page(actors, pid)
    assert page.returned is not None
    assert (page.returned.seat, page.returned.reasons) == ("drc", "未编制项目数据资源目录")
    assert page.returned.department.zh == actors.run(
        lambda s: actors.user(s, "drc.clerk").department.name
    )
    record = {r.seat: (r.round, r.task.state, r.task.data) for r in page.reviews}
    assert record["drc"] == (
        1,
        "completed",
        {"drc_decision": "return", "drc_reasons": "未编制项目数据资源目录"},
    )
    assert record["finance"] == (1, "completed", {"finance_decision": "approve"})
    assert record["cyberspace"] == (1, "cancelled", {})


def test_after_resubmission_all_five_seats_review_again(actors):
    pid, key = _submitted(actors)
    actors.complete("finance.clerk", key, "review_finance", finance_decision="approve")
    actors.complete("drc.clerk", key, "review_drc", drc_decision="return", drc_reasons="补充目录")
    actors.complete("civil.clerk", key, "submit_application", application_note="已补充")
    st = actors.status(key)
    # the earlier approval does not carry over: the application changed
    assert open_tasks(st) == sorted(f"review_{s}" for s in SEATS)
    assert st["summary"]["returned_by"] == "" and st["summary"]["return_reasons"] == ""
    assert _page(actors, pid).returned is None
    rounds = [(r.round, r.seat, r.task.state) for r in _page(actors, pid).reviews]
    assert rounds[:5] == [(2, s, "open") for s in SEATS]
    assert (1, "finance", "completed") in rounds and (1, "cyberspace", "cancelled") in rounds
    review_all(actors, key)
    assert open_tasks(actors.status(key)) == ["apply_acceptance"]
    assert actors.run(lambda s: s.get(Project, pid).status) == "approved"


def test_withdrawn_reviews_leave_no_timer_behind(actors, clock):
    _pid, key = _submitted(actors)
    review_due = actors.status(key)["summary"]["review_due"]
    clock.set("2026-09-24T10:00:00+08:00")
    actors.complete("drc.clerk", key, "review_drc", drc_decision="return", drc_reasons="补充目录")
    sent = outbox(actors, key)
    application_due = actors.status(key)["summary"]["application_due"]
    assert application_due > review_due
    # the reviews' reminders and deadlines went with them: nothing fires on the review due date
    clock.set(review_due.replace("T00:00:00+08:00", "T00:00:01+08:00"))
    assert actors.sweep() == 0
    assert outbox(actors, key) == sent
    assert open_tasks(actors.status(key)) == ["submit_application"]


def test_a_return_withdraws_the_supervision_of_an_overdue_review(actors, clock):
    _pid, key = _submitted(actors)
    due = actors.status(key)["summary"]["review_due"]
    clock.set(due.replace("T00:00:00+08:00", "T00:00:01+08:00"))
    actors.sweep()
    st = actors.status(key)
    assert "review_cyberspace_supervise" in open_tasks(st)
    actors.complete("drc.clerk", key, "review_drc", drc_decision="return", drc_reasons="补充目录")
    st = actors.status(key)
    assert open_tasks(st) == ["submit_application"]
    assert st["summary"]["overdue"] is False  # the applicant's new period has just begun
    withdrawn = {d["task"] for k, d in _history(actors, key) if k == "task_withdrawn"}
    assert "review_cyberspace_supervise" in withdrawn and "review_drc_supervise" in withdrawn


def test_a_recused_seat_is_reviewed_by_its_stand_in_after_a_return(actors):
    def go(s):
        drc = actors.user(s, "drc.clerk")
        p = projects.create(s, actors.clock, drc, "投资项目在线审批监管平台", "", [ENTRY_DRC])
        return projects.submit(s, actors.clock, drc, p).business_key

    key = actors.run(go)
    actors.complete("drc.clerk", key, "submit_application", application_note="申请立项")
    by_task = {t["task"]: t["department"] for t in actors.status(key)["tasks"]}
    data_dept = actors.run(lambda s: actors.user(s, "data.clerk").department.name)
    assert by_task["review_drc"].zh == data_dept  # the authority stands in for the applicant's seat
    actors.complete(
        "data.clerk", key, "review_drc", drc_decision="return", drc_reasons="目录不完整"
    )
    actors.complete("drc.clerk", key, "submit_application", application_note="已补充")
    again = [t for t in actors.status(key)["tasks"] if t["state"] == "open"]
    assert {t["department"].zh for t in again if t["task"] == "review_drc"} == {data_dept}
