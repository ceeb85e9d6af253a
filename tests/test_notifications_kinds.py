"""A test per message kind (issue 13, must show): every kind is rendered in both languages, from
its own template, reaches the right people with the link to the page that acts on it, and shows
no internal identifier.

Process kinds are checked on one share request whose provider's step is claimed: a message the
process addresses to the provider reaches the holder (催办 adds the leader); to the requester,
whose department has no open step, the official who applied (催办 adds its leader); to the
authority, its coordinators. The service events are checked through the commands that write them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.calendar import load_calendar
from engine.directory import user_by_id, user_by_name
from engine.oversight import breaches
from engine.workflow import tasks as task_service
from engine.workflow.models import OutboxMessage, ProcessInstance
from notifications import inapp
from notifications.external import rendered_for
from notifications.fanout import fan_out
from notifications.kinds import KINDS
from notifications.models import Notification
from notifications.render import template_names
from tests.conftest import HUKOU

ROOT = Path(__file__).resolve().parent.parent
PROCESS_KINDS = {}  # template -> the roles the processes address it to
for path in (ROOT / "processes").glob("*.bpmn"):
    for role, name in re.findall(r"notify\('([a-z_]+)', '([a-z_]+)'", path.read_text("utf-8")):
        PROCESS_KINDS.setdefault(name, set()).add(role)
# lanes of the review seats are addressed like the provider here (one case, one claimed step)
DEPARTMENT_OF = {"requester": "civil", "authority": "data", "supervisor": "data"}
IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # form keys, kinds, lanes: snake_case
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_kind_has_one_template_and_every_process_template_a_kind():
    assert set(template_names()) == set(KINDS)
    assert set(PROCESS_KINDS) <= {k for k, kind in KINDS.items() if kind.source == "process"}
    assert {k for k, kind in KINDS.items() if kind.source == "process"} == set(PROCESS_KINDS)


def test_the_docs_list_every_kind():
    docs = (ROOT / "docs" / "notifications.md").read_text("utf-8")
    assert [k for k in KINDS if f"| `{k}` |" not in docs] == []


@pytest.fixture
def case(actors, clock):
    """A share request whose provider's step is claimed by pubsec.clerk; outbox drained."""
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    actors.run(lambda s: fan_out(s, clock))
    return key, task_id


def _department_id(session, slug):
    return user_by_name(session, f"{slug}.clerk" if slug != "data" else "data.coord").department_id


def _tell(actors, key, kind, slug, **payload):
    """An outbox row as the process writes it, then the worker's fan-out."""

    def go(s):
        inst = s.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))
        s.add(
            OutboxMessage(
                instance_id=inst.id,
                department_id=_department_id(s, slug),
                template=kind,
                payload={**payload, "business_key": key},
                created_at=actors.clock.now(),
            )
        )

    actors.run(go)
    actors.run(lambda s: fan_out(s, actors.clock))


def _told(actors, kind):
    """{user name: (link, zh (subject, text), en (subject, text))} of one kind."""

    def go(s):
        out = {}
        for n in s.scalars(select(Notification).where(Notification.kind == kind)):
            u = user_by_id(s, n.user_id)
            texts = {}
            for lang in ("zh", "en"):  # as e-mail and messages carry it, with the link
                message = rendered_for(n, lang, actors.clock.now(), load_calendar(s))
                texts[lang] = (message.subject, message.text)
                [item] = [i for i in inapp.page(s, actors.clock, u, lang).items if i.id == n.id]
                assert item.subject == message.subject and item.link == n.link
            out[u.username] = (n.link, texts["zh"], texts["en"])
        return out

    return actors.run(go)


def _expected(kind, slug, task_id, key):
    family = KINDS[kind].family
    if slug == "pubsec":
        people = {"pubsec.clerk"} | ({"pubsec.lead"} if family == "urgent" else set())
        link = f"/tasks/{task_id}"
    elif slug == "civil":
        people = {"civil.clerk"} | ({"civil.lead"} if family == "urgent" else set())
        link = f"/requests/{key}"
    else:
        people, link = {"data.coord"}, f"/requests/{key}"
    return people, link


def _check_text(kind, told, key, names=()):
    """Both languages rendered, the link shown, no identifier; ``names`` (officials' names,
    which the directory holds in Chinese only) may appear in English text."""
    for link, zh, en in told.values():
        for lang, (subject, text) in (("zh", zh), ("en", en)):
            assert subject and key in subject, (kind, lang, subject)
            assert f"Open: {link}" in text if lang == "en" else f"办理：{link}" in text
            visible = (subject + "\n" + text).replace(link, "")
            assert not IDENTIFIER.search(visible), (kind, lang, visible)
        assert CJK.search(zh[0]), (kind, zh[0])  # the Chinese subject is Chinese
        english = en[0]
        for name in names:
            english = english.replace(name, "")
        assert not CJK.search(english), (kind, en[0])  # the English one English
        assert zh[0] != en[0]


@pytest.mark.parametrize("kind", sorted(PROCESS_KINDS))
def test_process_kind_reaches_the_right_people_with_its_link_in_both_languages(kind, actors, case):
    key, task_id = case
    role = sorted(PROCESS_KINDS[kind])[0]
    slug = DEPARTMENT_OF.get(role, "pubsec")
    _tell(
        actors,
        key,
        kind,
        slug,
        due="2026-10-09T16:00:00+00:00",
        party="provider",
        reason="超出范围",
        year=2026,
    )
    told = _told(actors, kind)
    people, link = _expected(kind, slug, task_id, key)
    assert set(told) == people
    assert {v[0] for v in told.values()} == {link}
    _check_text(kind, told, key)
    en_text = next(iter(told.values()))[2][1]
    assert "Deadline: 2026-10-09 24:00, 10 working day(s) left." in en_text
    zh_text = next(iter(told.values()))[1][1]
    assert "办理期限：2026-10-09 24:00，还剩 10 个工作日。" in zh_text


def test_task_offered_tells_the_queue_with_the_task_link(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, clock))
    task_id = actors.open_task(key, "provider_review")
    told = _told(actors, "task_offered")
    assert set(told) == {"pubsec.clerk", "pubsec.lead"}
    assert {v[0] for v in told.values()} == {f"/tasks/{task_id}"}
    _check_text("task_offered", told, key)
    assert told["pubsec.clerk"][1][0] == f"新待办：审核共享申请（{key}）"


def test_task_claimed_tells_the_leader_but_not_the_claimant(actors, case):
    key, task_id = case
    told = _told(actors, "task_claimed")
    assert set(told) == {"pubsec.lead"}
    assert told["pubsec.lead"][0] == f"/tasks/{task_id}"
    _check_text("task_claimed", told, key, names=("自治区公安厅经办人",))
    assert "经办人" in told["pubsec.lead"][1][0]  # who claimed it, by name


def test_task_handed_to_an_official_tells_them(actors, case, clock):
    key, task_id = case
    actors.run(
        lambda s: task_service.reassign(
            s, clock, task_id, user_by_name(s, "pubsec.lead"), user_by_name(s, "pubsec.clerk")
        )
    )
    actors.run(lambda s: fan_out(s, clock))
    told = _told(actors, "task_assigned")
    assert set(told) == {"pubsec.clerk"} and told["pubsec.clerk"][0] == f"/tasks/{task_id}"
    _check_text("task_assigned", told, key)
    assert "Review the sharing request (handed to you)" in told["pubsec.clerk"][2][0]


def test_task_back_in_the_queue_tells_the_others(actors, case, clock):
    key, task_id = case
    actors.run(lambda s: task_service.unclaim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    actors.run(lambda s: fan_out(s, clock))
    told = _told(actors, "task_unclaimed")
    assert set(told) == {"pubsec.lead"} and told["pubsec.lead"][0] == f"/tasks/{task_id}"
    _check_text("task_unclaimed", told, key)


def test_a_breach_and_its_appeal_reach_the_department_with_the_ledger_link(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-10T10:00:00+08:00")  # the provider never answered: art. 23 breach
    actors.sweep()
    actors.run(lambda s: fan_out(s, clock))
    told = _told(actors, "breach_recorded")
    [breach_id] = {int(v[0].rsplit("/", 1)[1]) for v in told.values()}
    assert set(told) == {"pubsec.clerk", "pubsec.lead"}
    assert {v[0] for v in told.values()} == {f"/breaches/{breach_id}"}
    _check_text("breach_recorded", told, key)
    assert "违反条款：第二十三条（二）" in told["pubsec.clerk"][1][1]
    actors.run(
        lambda s: breaches.appeal(s, clock, user_by_name(s, "pubsec.clerk"), breach_id, "已答复")
    )
    actors.run(
        lambda s: breaches.decide_appeal(
            s, clock, user_by_name(s, "data.coord"), breach_id, False, "未在期限内答复"
        )
    )
    actors.run(lambda s: fan_out(s, clock))
    told = _told(actors, "appeal_decided")
    assert set(told) == {"pubsec.clerk", "pubsec.lead"}
    _check_text("appeal_decided", told, key)
    assert "Decision: Appeal rejected; the entry stands" in told["pubsec.lead"][2][1]
    assert "理由：未在期限内答复" in told["pubsec.lead"][1][1]


def test_a_grant_in_part_is_told_as_granted_in_part(actors, case):
    key, _task_id = case
    _tell(actors, key, "request_granted", "civil", decision="granted_in_part")
    told = _told(actors, "request_granted")
    (zh_subject, _), (en_subject, _) = next(iter(told.values()))[1:]
    assert zh_subject.startswith("共享申请已获部分授权")
    assert en_subject.startswith("Data-sharing request granted in part")
