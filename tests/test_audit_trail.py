"""Every change of state leaves an audit event naming its actor, time, object and, where it means
something, the values before and after (issue 11, item 7). Deploys and activations: tests/test_deployment.py."""

from __future__ import annotations

import io

from sqlalchemy import select

from engine.audit import AuditEvent, events_for
from engine.calendar import add_days
from engine.catalog import mark_connected
from engine.catalog.events import register_event
from engine.catalog.versions import save_draft
from engine.oversight import breaches, projects
from engine.workflow import attachments
from engine.workflow import tasks as task_service
from tests.conftest import HUKOU
from tests.test_breaches import overdue_breach
from tests.test_catalog import ENTRY
from tests.test_project_approval import ENTRY as PROJECT_ENTRY


def _events(actors, object_type, ref):
    return actors.run(
        lambda s: [
            (e.kind, e.actor_id, e.at, dict(e.detail)) for e in events_for(s, object_type, ref)
        ]
    )


def _user_id(actors, name):
    return actors.run(lambda s: actors.user(s, name).id)


def _first_task(actors, key):
    return actors.open_task(key, "provider_review")


def test_claim_unclaim_and_reassign_name_who_held_the_task_before_and_after(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = _first_task(actors, key)
    actors.run(
        lambda s: task_service.claim(s, actors.clock, task_id, actors.user(s, "pubsec.clerk"))
    )
    actors.run(
        lambda s: task_service.reassign(
            s,
            actors.clock,
            task_id,
            actors.user(s, "pubsec.lead"),
            actors.user(s, "pubsec.lead"),
        )
    )
    actors.run(
        lambda s: task_service.unclaim(s, actors.clock, task_id, actors.user(s, "pubsec.lead"))
    )
    events = list(reversed(_events(actors, "task", str(task_id))))
    assert [(k, d.get("before"), d.get("after")) for k, _, _, d in events] == [
        ("task_claimed", None, "pubsec.clerk"),
        ("task_reassigned", "pubsec.clerk", "pubsec.lead"),
        ("task_unclaimed", "pubsec.lead", None),
    ]
    assert [a for _, a, _, _ in events] == [
        _user_id(actors, "pubsec.clerk"),
        _user_id(actors, "pubsec.lead"),
        _user_id(actors, "pubsec.lead"),
    ]
    assert all(at == clock.now() for _, _, at, _ in events)


def test_a_refused_claim_leaves_no_event(actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = _first_task(actors, key)
    try:
        actors.run(
            lambda s: task_service.claim(s, actors.clock, task_id, actors.user(s, "civil.clerk"))
        )
    except Exception:  # noqa: BLE001 - Forbidden; the point is what was written
        pass
    assert _events(actors, "task", str(task_id)) == []


def test_appeal_and_its_decision_are_audited_with_the_status_before_and_after(actors, clock):
    bid = overdue_breach(actors, clock)
    actors.run(
        lambda s: breaches.appeal(s, actors.clock, actors.user(s, "pubsec.clerk"), bid, "停机")
    )
    actors.run(
        lambda s: breaches.decide_appeal(
            s, actors.clock, actors.user(s, "data.coord"), bid, True, "停机有据可查"
        )
    )
    decided, appealed = _events(actors, "breach", str(bid))
    assert appealed[0] == "breach_appealed" and appealed[3]["after"] == {"reason": "停机"}
    assert decided[0] == "breach_appeal_decided"
    assert decided[1] == _user_id(actors, "data.coord")
    assert decided[3]["before"] == {"appeal_status": "pending", "status": "recorded"}
    assert decided[3]["after"]["status"] == "withdrawn"


def test_project_creation_catalog_and_connection_marks_are_audited(actors):
    def go(s):
        user = actors.user(s, "civil.clerk")
        p = projects.create(s, actors.clock, user, "智慧养老", "监管", [])
        projects.set_catalog(s, actors.clock, user, p, [PROJECT_ENTRY])
        return p.id

    pid = actors.run(go)
    kinds = [(k, d.get("after")) for k, _, _, d in reversed(_events(actors, "project", str(pid)))]
    assert kinds[0] == ("project_created", {"name": "智慧养老"})
    assert kinds[1][0] == "project_catalog_set" and kinds[1][1]["entries"] == 1

    actors.run(
        lambda s: mark_connected(s, actors.clock, actors.user(s, "pubsec.clerk"), "JC-RK/0002")
    )
    ((kind, actor, _, detail),) = _events(actors, "catalog_entry", "JC-RK/0002")
    assert (kind, actor, detail["before"], detail["after"]) == (
        "catalog_connection_marked",
        _user_id(actors, "pubsec.clerk"),
        False,
        True,
    )


def test_catalog_drafts_and_change_events_are_audited(actors):
    actors.run(lambda s: save_draft(s, actors.clock, actors.user(s, "civil.clerk"), ENTRY))
    ((kind, _, _, detail),) = _events(actors, "catalog_entry", ENTRY["code"])
    assert kind == "catalog_draft_saved" and detail["version"] == 1

    registered = actors.run(
        lambda s: register_event(
            s,
            actors.clock,
            actors.user(s, "data.coord"),
            "law_revision",
            "2026-09-18",
            "《宁夏回族自治区养老服务条例》修订",
            ["civil"],
        )
    )
    ((kind, actor, _, detail),) = _events(actors, "catalog_event", str(registered.id))
    assert kind == "catalog_event_registered" and actor == _user_id(actors, "data.coord")
    assert detail["after"]["business_keys"] == registered.business_keys
    assert detail["after"]["departments"] == ["civil"]


def test_calendar_entries_and_attachments_are_audited(actors, tmp_path):
    actors.run(
        lambda s: add_days(
            s,
            actors.clock,
            ["2027-03-10"],
            "holiday",
            "regional",
            "开斋节",
            "宁政办发〔2026〕1号",
            actor_id=actors.user(s, "data.admin").id,
        )
    )
    ((kind, actor, _, detail),) = _events(actors, "calendar_day", "2027-03-10")
    assert (kind, actor, detail["after"]["name"]) == (
        "calendar_day_entered",
        _user_id(actors, "data.admin"),
        "开斋节",
    )

    key = actors.request("civil.clerk", **HUKOU)

    def upload(s):
        instance_id = s.scalar(
            select(AuditEvent.instance_id)
            .where(AuditEvent.kind == "started")
            .order_by(AuditEvent.id)
            .limit(1)
        )
        return attachments.store(
            s,
            actors.clock,
            str(tmp_path),
            instance_id,
            None,
            actors.user(s, "civil.clerk").id,
            "依据.txt",
            "text/plain",
            io.BytesIO("社会救助暂行办法".encode()),
        )

    info = actors.run(upload)
    assert key and info.filename == "依据.txt"
    ((kind, _, _, detail),) = _events(actors, "attachment", str(info.id))
    assert (kind, detail["filename"], detail["size"]) == ("attachment_added", "依据.txt", 24)
