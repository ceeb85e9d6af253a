"""The second way to end a catalog update duty (art. 8): the department declares, with reasons,
that the change needs no update of its catalog; the same-level data-sharing authority accepts
(the duty ends) or returns it with reasons (back to the department's update task). The update
period runs from the event throughout; a department that declared in time is not answerable for
the time the authority takes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.audit import AuditEvent
from engine.errors import Forbidden, ValidationFailed
from engine.oversight.models import Breach
from engine.workflow.models import OutboxMessage, ProcessFact
from tests.test_catalog_update_process import _publish_change, _register

REASONS = "本次条例修订仅调整养老机构补贴标准，不涉及本部门目录所列信息资源"
RETURNED = "条例新增养老机构等级评定信息，须在目录中增加相应信息项"
ORIGINAL_DUE = "2026-10-15T16:00:00+00:00"  # 15 working days after the event on 2026-09-18


def declare(actors, key, reasons=REASONS):
    actors.complete(
        "civil.clerk", key, "update_catalog", update_choice="no_change", no_change_reasons=reasons
    )


def rule(actors, key, decision, comment=None, user="data.coord"):
    data = {"declaration_decision": decision}
    if comment:
        data["declaration_comment"] = comment
    actors.complete(user, key, "declaration_review", **data)


def open_tasks(st):
    return sorted((t["task"], t["due_at"]) for t in st["tasks"] if t["state"] == "open")


def notices(actors, template):
    return actors.run(
        lambda s: [
            (m.department_id, m.payload)
            for m in s.scalars(select(OutboxMessage).where(OutboxMessage.template == template))
        ]
    )


def breaches(actors):
    return actors.run(lambda s: [(b.kind, b.article) for b in s.scalars(select(Breach))])


def done_fact(actors):
    return actors.run(
        lambda s: [
            (f.decision, f.met)
            for f in s.scalars(select(ProcessFact).where(ProcessFact.kind == "catalog_update_done"))
        ]
    )


def test_accepted_declaration_ends_the_duty_as_declared_no_change(actors, clock):
    [key] = _register(actors)
    clock.set("2026-09-22T10:00:00+08:00")
    declare(actors, key)
    st = actors.status(key)
    assert st["status"] == "running"
    # a declaration is not yet the end of the duty: the authority's coordinators review it
    assert open_tasks(st) == [("declaration_review", "2026-09-30T16:00:00+00:00")]
    review = next(t for t in st["tasks"] if t["task"] == "declaration_review")
    assert review["department"].zh == "自治区数据共享主管部门"
    assert st["summary"]["declaration_reasons"] == REASONS
    assert st["summary"]["declaration_ruling"] == "pending"
    assert [(d["reasons"], d["in_time"], d["ruling"]) for d in st["declarations"]] == [
        (REASONS, True, None)
    ]
    assert len(notices(actors, "catalog_declaration_submitted")) == 1

    clock.set("2026-09-24T10:00:00+08:00")
    rule(actors, key, "accept")
    st = actors.status(key)
    assert st["status"] == "completed"
    assert st["summary"]["decision"] == "no_change_declared"
    assert st["breaches"] == []
    [declaration] = st["declarations"]
    assert declaration["ruling"]["decision"] == "accepted"
    assert declaration["ruling"]["decided_by"]["department"].zh == "自治区数据共享主管部门"
    assert declaration["declared_by"]["department"].zh == "自治区民政厅"
    assert done_fact(actors) == [("no_change_declared", True)]
    assert len(notices(actors, "catalog_declaration_accepted")) == 1
    kinds = actors.run(
        lambda s: [
            (e.kind, e.object_type)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.kind.like("catalog_declaration%"))
                .order_by(AuditEvent.id)
            )
        ]
    )
    assert kinds == [
        ("catalog_declaration_filed", "catalog_event"),
        ("catalog_declaration_accepted", "catalog_event"),
    ]


def test_a_declaration_needs_reasons_and_a_return_needs_reasons(actors):
    [key] = _register(actors)
    with pytest.raises(ValidationFailed) as err:
        actors.complete("civil.clerk", key, "update_catalog", update_choice="no_change")
    assert [d["field"] for d in err.value.details] == ["no_change_reasons"]
    with pytest.raises(ValidationFailed) as err:
        actors.complete("civil.clerk", key, "update_catalog", update_note="没有选择办理结果")
    assert "update_choice" in [d["field"] for d in err.value.details]
    declare(actors, key)
    with pytest.raises(ValidationFailed) as err:
        rule(actors, key, "return")
    assert [d["field"] for d in err.value.details] == ["declaration_comment"]
    assert open_tasks(actors.status(key))[0][0] == "declaration_review"


@pytest.mark.parametrize("user", ["data.clerk", "yinchuan-data.coord", "civil.clerk"])
def test_only_the_same_level_authoritys_coordinators_rule_on_a_declaration(actors, user):
    [key] = _register(actors)
    declare(actors, key)
    with pytest.raises(Forbidden):
        rule(actors, key, "accept", user=user)
    assert actors.status(key)["status"] == "running"


def test_a_returned_declaration_reopens_the_update_with_its_reasons_and_the_original_deadline(
    actors, clock
):
    [key] = _register(actors)
    clock.set("2026-09-22T10:00:00+08:00")
    declare(actors, key)
    clock.set("2026-09-24T10:00:00+08:00")
    rule(actors, key, "return", RETURNED)
    st = actors.status(key)
    # back to the department, due when it always was: the statutory period is not re-armed
    assert open_tasks(st) == [("update_catalog", ORIGINAL_DUE)]
    assert st["summary"]["return_reasons"] == RETURNED
    assert st["summary"]["declaration_ruling"] == "returned"
    assert st["declarations"][0]["ruling"]["decision"] == "returned"
    assert st["declarations"][0]["ruling"]["reasons"] == RETURNED
    [(_dept, payload)] = notices(actors, "catalog_declaration_returned")
    assert payload["comment"] == RETURNED
    # the department now has to update: a claim of an update still needs a publication
    with pytest.raises(ValidationFailed):
        actors.complete(
            "civil.clerk", key, "update_catalog", update_choice="updated", update_note="已更新"
        )
    clock.set("2026-10-09T10:00:00+08:00")
    _publish_change(actors)
    actors.complete(
        "civil.clerk",
        key,
        "update_catalog",
        update_choice="updated",
        update_note="已增加等级评定信息项",
    )
    st = actors.status(key)
    assert st["status"] == "completed" and st["summary"]["decision"] == "updated"
    assert st["summary"]["return_reasons"] == ""
    assert st["breaches"] == []
    assert done_fact(actors) == [("updated", True)]


def test_after_a_return_the_original_deadline_passing_is_a_breach(actors, clock):
    [key] = _register(actors)
    clock.set("2026-09-22T10:00:00+08:00")
    declare(actors, key)
    rule(actors, key, "return", RETURNED)
    clock.set("2026-10-16T00:00:01+08:00")
    actors.sweep()
    st = actors.status(key)
    assert st["summary"]["overdue"] is True
    assert [(b["kind"], b["article"]) for b in st["breaches"]] == [
        ("catalog_update_overdue", "第二十三条（一）")
    ]
    assert sorted(t for t, _ in open_tasks(st)) == ["supervise_update", "update_catalog"]


def test_declaration_review_reminder_overdue_and_supervision(actors, clock):
    [key] = _register(actors)
    clock.set("2026-09-22T10:00:00+08:00")
    declare(actors, key)  # the authority has until 2026-09-30 24:00 (5 working days)
    clock.set("2026-09-29T00:00:01+08:00")
    assert actors.sweep() == 1  # the reminder, two working days before
    assert len(notices(actors, "catalog_declaration_reminder")) == 1
    assert actors.status(key)["summary"]["declaration_overdue"] is False
    clock.set("2026-10-01T00:00:01+08:00")
    assert actors.sweep() == 1
    st = actors.status(key)
    assert st["summary"]["declaration_overdue"] is True
    assert open_tasks(st) == [
        ("declaration_review", "2026-09-30T16:00:00+00:00"),
        ("supervise_declaration", "2026-10-13T16:00:00+00:00"),
    ]
    supervision = next(t for t in st["tasks"] if t["task"] == "supervise_declaration")
    assert supervision["department"].zh == "自治区数据共享主管部门"
    assert len(notices(actors, "catalog_declaration_overdue")) == 1
    assert len(notices(actors, "supervision_opened")) == 1
    clock.set("2026-10-14T00:00:01+08:00")
    assert actors.sweep() == 1
    assert actors.status(key)["summary"]["supervision_overdue"] is True
    assert len(notices(actors, "supervision_overdue")) == 1
    # the authority's delay is no breach of anyone's; the department's deadline has not passed
    assert breaches(actors) == []
    rule(actors, key, "accept")
    actors.complete(
        "data.coord",
        key,
        "supervise_declaration",
        supervision_action="urged",
        supervision_note="已督促审核",
    )
    st = actors.status(key)
    assert st["status"] == "completed" and st["summary"]["decision"] == "no_change_declared"


def test_the_deadline_passing_while_the_declaration_waits_is_no_breach(actors, clock):
    [key] = _register(actors)
    clock.set("2026-10-13T10:00:00+08:00")
    declare(actors, key)  # in time: the update is due 2026-10-15 24:00
    clock.set("2026-10-16T00:00:01+08:00")
    actors.sweep()
    st = actors.status(key)
    assert st["summary"]["overdue"] is False
    assert st["breaches"] == []
    assert [t for t, _ in open_tasks(st)] == ["declaration_review"]
    clock.set("2026-10-22T10:00:00+08:00")  # the authority decides late (its due: 10-20)
    actors.sweep()
    rule(actors, key, "accept")
    st = actors.status(key)
    assert st["summary"]["decision"] == "no_change_declared"
    assert breaches(actors) == []
    # the department acted in time: the duty counts as met on time in the yearly figures
    assert done_fact(actors) == [("no_change_declared", True)]


def test_a_return_after_the_deadline_passed_in_review_gives_the_revision_period(actors, clock):
    [key] = _register(actors)
    clock.set("2026-10-13T10:00:00+08:00")
    declare(actors, key)
    clock.set("2026-10-22T10:00:00+08:00")
    actors.sweep()
    rule(actors, key, "return", RETURNED)
    st = actors.status(key)
    # not overdue at once: 10 working days (catalog_revision) from the return, 2026-11-05
    assert open_tasks(st) == [
        ("supervise_declaration", "2026-10-29T16:00:00+00:00"),  # the authority was late
        ("update_catalog", "2026-11-05T16:00:00+00:00"),
    ]
    assert st["summary"]["update_due"].startswith("2026-11-06T00:00:00+08:00")
    assert st["summary"]["overdue"] is False
    assert breaches(actors) == []
    clock.set("2026-11-06T00:00:01+08:00")
    actors.sweep()
    st = actors.status(key)
    assert [(b["kind"], b["department"].zh) for b in st["breaches"]] == [
        ("catalog_update_overdue", "自治区民政厅")
    ]
    evidence = actors.run(lambda s: s.scalars(select(Breach)).one().evidence)
    assert evidence["deadline"]["due_date"] == "2026-11-05"


def test_a_late_declaration_returned_records_no_second_breach(actors, clock):
    [key] = _register(actors)
    clock.set("2026-10-16T00:00:01+08:00")
    actors.sweep()  # the reminder and the deadline: a breach, supervision opened
    assert breaches(actors) == [("catalog_update_overdue", "第二十三条（一）")]
    clock.set("2026-10-19T10:00:00+08:00")
    declare(actors, key)
    st = actors.status(key)
    assert st["declarations"][0]["in_time"] is False
    rule(actors, key, "return", RETURNED)
    st = actors.status(key)
    # back overdue, with its original due date; the department is urged again, not fined again
    assert ("update_catalog", ORIGINAL_DUE) in open_tasks(st)
    assert breaches(actors) == [("catalog_update_overdue", "第二十三条（一）")]
    assert [t for t, _ in open_tasks(st)].count("supervise_update") == 1
    assert len(notices(actors, "catalog_update_still_overdue")) == 1
    declare(actors, key, reasons="补充说明：等级评定信息由卫生健康部门提供，不属于本部门目录")
    rule(actors, key, "accept")
    st = actors.status(key)
    assert st["summary"]["decision"] == "no_change_declared"
    assert done_fact(actors) == [("no_change_declared", False)]  # late: not on time
    assert len(st["declarations"]) == 2


def test_a_seeded_version_does_not_satisfy_an_update_claim_but_a_declaration_may_be_made(
    actors,
):
    # the catalog was seeded on 2026-01-05, after a change on 2026-01-02
    from tests.test_catalog_update_process import _try_register

    [key] = _try_register(actors, day="2026-01-02", confirm_late=True).business_keys
    with pytest.raises(ValidationFailed):
        actors.complete(
            "civil.clerk",
            key,
            "update_catalog",
            update_choice="updated",
            update_note="目录早已载入",
        )
    declare(actors, key)
    rule(actors, key, "accept")
    assert actors.status(key)["summary"]["decision"] == "no_change_declared"


def test_a_return_after_the_reminder_date_reminds_again_at_once(actors, clock):
    [key] = _register(actors)
    clock.set("2026-10-14T10:00:00+08:00")  # after the reminder (10-13 24:00), before the due date
    declare(actors, key)
    rule(actors, key, "return", RETURNED)
    assert len(notices(actors, "catalog_update_reminder")) == 1
    assert open_tasks(actors.status(key)) == [("update_catalog", ORIGINAL_DUE)]
    assert breaches(actors) == []


def test_the_api_status_of_the_duty_carries_the_declaration_and_its_ruling(actors, db_url, clock):
    from web import create_app

    [key] = _register(actors)
    declare(actors, key)
    rule(actors, key, "return", RETURNED)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "TESTING": True,
            "SECRET_KEY": "t",
        }
    )
    with app.test_client() as client:
        body = client.get(
            f"/api/v1/requests/{key}", headers={"Authorization": "Bearer demo-civil.clerk"}
        ).get_json()
    [declaration] = body["declarations"]
    assert declaration["reasons"] == REASONS and declaration["in_time"] is True
    assert declaration["ruling"]["decision"] == "returned"
    assert declaration["ruling"]["reasons"] == RETURNED
    assert body["summary"]["return_reasons"] == RETURNED
