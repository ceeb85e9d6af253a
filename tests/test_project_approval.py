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
from tests.test_catalog import ENTRY
from tests.test_share_request_process import open_tasks

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
