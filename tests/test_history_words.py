"""A request's history says in words what happened: every domain action a process performs
(``perform(name, …)``) has a label, and an action that records its own event (a deadline
reminder) is read once, as that event (issue 12, item 10)."""

from __future__ import annotations

import re

from engine.app import build_engine
from engine.i18n import Message
from engine.workflow.deployment import default_processes_dir
from tests.test_coordination import to_coordination
from tests.test_labels import visible_text
from tests.test_sharing_deadlines import SECOND, due, pass_to, refused
from tests.test_web import Browser, app  # noqa: F401


def test_every_action_of_every_area_and_process_has_words():
    handlers = build_engine().handlers
    performed = {
        name
        for path in default_processes_dir().glob("*.bpmn")
        for name in re.findall(r"perform\('(\w+)'", path.read_text(encoding="utf-8"))
    }
    assert performed and performed <= set(handlers.actions)
    for name in handlers.actions:
        assert name in handlers.action_labels, f"action {name} has no words for the history"
        label = handlers.action_labels[name]
        assert label is None or isinstance(label, Message)


def test_the_history_names_the_coordinators_filing_in_words(app, actors):  # noqa: F811
    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="provider",
        info_question="请说明拒绝共享的法律依据",
        info_days="5",
    )
    actions = [e for e in actors.status(key)["timeline"] if e["kind"] == "action"]
    assert actions and {str(e["what"]) for e in actions} == {"Coordination dossier filed"}
    for username, lang, words in (
        ("civil.clerk", "en", "Coordination dossier filed"),
        ("civil.clerk", "zh_CN", "协调卷宗已建立"),
    ):
        browser = Browser(app, username)
        browser.client.set_cookie("lang", lang)
        text = visible_text(browser.get(f"/requests/{key}").get_data(as_text=True))
        assert words in text
        assert "Step recorded" not in text and "已记录一个步骤" not in text
        assert "file_dossier" not in text


def test_a_deadline_reminder_is_in_the_history_once(actors, clock):
    key = refused(actors)
    assert pass_to(actors, clock, due(actors.status(key), "after_refusal") - SECOND) == 1
    timeline = actors.status(key)["timeline"]
    assert [e["kind"] for e in timeline].count("deadline_reminder") == 1
    assert not [e for e in timeline if e["kind"] == "action"]  # note_deadline: shown as itself


def test_a_claimed_task_is_named_in_the_readers_language(app, actors, clock):  # noqa: F811
    from engine.directory import user_by_name
    from engine.workflow import tasks as task_service
    from tests.conftest import HUKOU

    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    browser = Browser(app, "civil.clerk")
    browser.client.set_cookie("lang", "en")
    text = visible_text(browser.get(f"/requests/{key}").get_data(as_text=True))
    assert "Review the sharing request" in text and "审核共享申请" not in text
