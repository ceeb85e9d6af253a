"""Delegation and leave cover (issue 14, item 5): the deputy sees and completes the absent
official's task, the history reads "on behalf of", notifications reach the deputy, and the cover
ends by itself after its last day (a fake clock)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import cli
from engine.directory import accounts, delegation, user_by_name
from engine.directory.models import User
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.workflow import inbox
from engine.workflow import tasks as task_service
from engine.workflow.history import task_info, tasks_of
from engine.workflow.models import OutboxMessage
from notifications.fanout import fan_out
from notifications.models import Notification
from tests.accounts_fixtures import restore_accounts  # noqa: F401 - a fixture
from tests.conftest import HUKOU

pytestmark = pytest.mark.usefixtures("restore_accounts")

# the clock of the tests is 2026-09-18 (a Friday) 10:00 Asia/Shanghai
FROM, UNTIL = "2026-09-18", "2026-09-21"
DEPUTY = "pubsec.deputy"
SCOPE = dict(
    review_decision="approve",
    granted_items=["公民身份号码", "变动类型"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定城乡低保对象户籍状况",
)


@pytest.fixture
def deputy(actors, clock):
    form = {
        "username": DEPUTY,
        "display_name": "公安代理人",
        "display_name_en": "Deputy Officer",
        "department": "pubsec",
        "roles": ["official"],
    }
    actors.run(lambda s: accounts.create_account(s, clock, None, form))
    return DEPUTY


def _ids(actors, clock, who, view):
    return actors.run(
        lambda s: [r.id for r in inbox.list_view(s, user_by_name(s, who), clock, view).rows]
    )


def _cover(actors, clock, by="pubsec.clerk", first=FROM, last=UNTIL, deputy=DEPUTY):
    return actors.run(
        lambda s: delegation.delegate(
            s, clock, user_by_name(s, by), "pubsec.clerk", deputy, first, last
        )
    )


def test_the_deputy_sees_and_completes_the_task_on_behalf_of_the_absent(actors, clock, deputy):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    assert task_id not in _ids(actors, clock, DEPUTY, "mine")
    _cover(actors, clock)
    assert task_id in _ids(actors, clock, DEPUTY, "mine")
    actors.run(lambda s: task_service.task_page(s, clock, user_by_name(s, DEPUTY), task_id))
    actors.run(
        lambda s: task_service.complete(s, clock, task_id, user_by_name(s, DEPUTY), dict(SCOPE))
    )
    info = actors.run(
        lambda s: [task_info(t) for t in tasks_of(s, _instance_of(s, task_id)) if t.id == task_id][
            0
        ]
    )
    assert str(info.completed_by) == "Deputy Officer"
    assert str(info.on_behalf_of) == actors.run(
        lambda s: str(user_by_name(s, "pubsec.clerk").label)
    )
    audit = actors.run(lambda s: _completed_events(s, task_id))
    assert audit == [("pubsec.deputy", "pubsec.clerk")]


def _instance_of(s, task_id):
    return task_service.task_by_id(s, task_id).instance_id


def _completed_events(s, task_id):
    from engine.audit import AuditEvent

    row = task_service.task_by_id(s, task_id)
    return [
        (s.get(User, e.actor_id).username, e.detail.get("on_behalf_of"))
        for e in s.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == row.instance_id, AuditEvent.kind == "task_completed")
            .order_by(AuditEvent.id)
        )
    ]


def test_queue_tasks_offered_to_the_absent_reach_the_deputy_and_so_do_notifications(
    actors, clock, deputy
):
    _cover(actors, clock)
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    assert task_id in _ids(actors, clock, DEPUTY, "queue")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.lead")))
    actors.run(lambda s: fan_out(s, clock))
    # the leader gives it back: the queue (the absent clerk) is told, and so is the deputy
    actors.run(lambda s: task_service.unclaim(s, clock, task_id, user_by_name(s, "pubsec.lead")))
    actors.run(lambda s: fan_out(s, clock))
    told = actors.run(
        lambda s: sorted(
            s.get(User, n.user_id).username
            for n in s.scalars(select(Notification).where(Notification.kind == "task_unclaimed"))
        )
    )
    assert "pubsec.clerk" in told and DEPUTY in told


def test_the_cover_ends_by_itself_after_its_last_day(actors, clock, deputy):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    _cover(actors, clock)
    assert task_id in _ids(actors, clock, DEPUTY, "mine")
    clock.set("2026-09-21T23:59:00+08:00")  # 2026-09-21 23:59 local: still on
    assert task_id in _ids(actors, clock, DEPUTY, "mine")
    clock.set("2026-09-22T00:00:00+08:00")  # 2026-09-22 00:00: over
    assert task_id not in _ids(actors, clock, DEPUTY, "mine")
    with pytest.raises(Conflict, match="claimed by"):
        actors.run(
            lambda s: task_service.complete(s, clock, task_id, user_by_name(s, DEPUTY), dict(SCOPE))
        )


def test_ending_early_stops_the_routing(actors, clock, deputy):
    info = _cover(actors, clock)
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    assert task_id in _ids(actors, clock, DEPUTY, "mine")
    ended = actors.run(
        lambda s: delegation.end_delegation(s, clock, user_by_name(s, "pubsec.lead"), info.id)
    )
    assert ended.state == "ended"
    assert task_id not in _ids(actors, clock, DEPUTY, "mine")
    with pytest.raises(Conflict):
        actors.run(lambda s: delegation.end_delegation(s, clock, None, info.id))


def test_refusals_name_the_field(actors, clock, deputy):
    with pytest.raises(ValidationFailed) as err:
        _cover(actors, clock, deputy="civil.clerk", first="2026-09-30", last="2026-09-20")
    assert {str(p["label"]) for p in err.value.details} == {"Deputy", "Until"}
    with pytest.raises(ValidationFailed) as err:
        _cover(actors, clock, first="2026-09-01", last="2026-09-10")
    assert "must not be in the past" in str(err.value.message)
    with pytest.raises(Forbidden):
        _cover(actors, clock, by="civil.clerk")
    with pytest.raises(Forbidden):  # a colleague who is not a leader
        _cover(actors, clock, by=DEPUTY, deputy="pubsec.lead")
    _cover(actors, clock, by="pubsec.lead")  # a leader of the department may
    with pytest.raises(ValidationFailed) as err:  # overlapping the cover just arranged
        _cover(actors, clock, first="2026-09-20", last="2026-09-25")
    assert [p["field"] for p in err.value.details] == ["from"]
    assert "overlaps" in str(err.value.details[0]["message"])
    with pytest.raises(ValidationFailed) as err:  # ten years is not a leave
        _cover(actors, clock, first="2027-01-04", last="2036-12-03")
    assert [p["field"] for p in err.value.details] == ["until"]


def test_the_banner_and_the_pages(actors, clock, deputy):
    _cover(actors, clock)
    cover = actors.run(lambda s: delegation.cover_of(s, clock, user_by_name(s, DEPUTY)))
    assert [(str(n), d.isoformat()) for n, d in cover.standing_in_for] == [
        (actors.run(lambda s: str(user_by_name(s, "pubsec.clerk").label)), UNTIL)
    ]
    absent = actors.run(lambda s: delegation.cover_of(s, clock, user_by_name(s, "pubsec.clerk")))
    assert [str(n) for n, _ in absent.covered_by] == ["Deputy Officer"]
    page = actors.run(
        lambda s: delegation.delegation_page(s, clock, user_by_name(s, "pubsec.lead"), True)
    )
    assert [r.deputy_username for r in page.rows] == [DEPUTY]
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: delegation.delegation_page(s, clock, user_by_name(s, "pubsec.clerk"), True)
        )


def test_cli_delegate(actors, db_url, deputy, capsys):
    cli.main(
        [
            "--database",
            db_url,
            "--now",
            "2026-09-18T10:00:00+08:00",
            "users",
            "delegate",
            "pubsec.clerk",
            "--to",
            DEPUTY,
            "--from",
            FROM,
            "--until",
            UNTIL,
        ]
    )
    out = capsys.readouterr().out
    assert "Deputy Officer stands in for" in out and UNTIL in out
    assert actors.run(lambda s: s.scalar(select(OutboxMessage.id).limit(1))) is None


def test_the_process_reminder_and_the_daily_urgent_message_reach_the_deputy(actors, clock, deputy):
    from notifications.ladder import due_today

    key = actors.request("civil.clerk", **HUKOU)  # the provider's reply is due 2026-10-09 24:00
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    actors.run(lambda s: fan_out(s, clock))
    _cover(actors, clock, first="2026-10-05", last="2026-10-12")

    def told(kind):
        return actors.run(
            lambda s: sorted(
                s.get(User, n.user_id).username
                for n in s.scalars(select(Notification).where(Notification.kind == kind))
            )
        )

    clock.set("2026-10-08T09:00:00+08:00")
    actors.sweep()
    actors.run(lambda s: fan_out(s, clock))
    assert told("reply_reminder") == ["pubsec.clerk", DEPUTY]
    clock.set("2026-10-09T09:00:00+08:00")
    actors.run(lambda s: due_today(s, clock))
    assert told("task_due_today") == ["pubsec.clerk", DEPUTY, "pubsec.lead"]
