"""What officials read: no internal identifier (a form key, an enum value, a lane key) appears as
visible text on the main pages of any procedure, in Chinese or English, with data in every state."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from lxml import etree

from engine.catalog import events as catalog_events
from engine.catalog import rules as catalog_rules
from engine.oversight import breaches, projects
from engine.quality import verification
from engine.workflow.deployment import default_processes_dir
from engine.workflow.roles import ROLE_LABELS
from tests.conftest import HUKOU
from tests.test_catalog import ENTRY
from tests.test_catalog_update_process import _register
from tests.test_coordination import to_coordination
from tests.test_evaluation import report_task, start
from tests.test_project_approval import new_project
from tests.test_share_request_process import REFUSE, SCOPE
from tests.test_verification import REPORT
from tests.test_web import Browser, app  # noqa: F401
from web import templating

PROCESSES = default_processes_dir()
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
RECORDED = r"\b(?:decision|outcome|status|negotiation_outcome)\s*=\s*'(\w+)'"


def vocabulary() -> set[str]:
    """Every key a page must translate: the forms' field names and enum values, the lanes of the
    processes, and the keys of the web's label tables (statuses, kinds, decisions, events…)."""
    words: set[str] = set()
    for path in (PROCESSES / "forms").glob("*.schema.json"):
        for name, node in json.loads(path.read_text("utf-8")).get("properties", {}).items():
            words.add(name)
            words.update(node.get("enum", []))
            words.update((node.get("items") or {}).get("enum", []))
    for path in PROCESSES.glob("*.bpmn"):
        words.update(el.get("name") for el in etree.parse(str(path)).iter(f"{BPMN}lane"))
        # what scripts record in an instance's summary for pages to show
        words.update(re.findall(RECORDED, path.read_text("utf-8")))
    words.update(ROLE_LABELS)
    words.update(catalog_rules.LABELS, catalog_events.KINDS, catalog_events.FIELD_LABELS)
    words.update(verification.REPORT_FIELDS, catalog_rules.SHARE_TYPES, projects.SEATS)
    for name in dir(templating):
        table = getattr(templating, name)
        if name.endswith("_LABELS") and isinstance(table, dict):
            words.update(table)
    return {w for w in words if w and w[0].isalpha()}


class _Text(HTMLParser):
    """The text a reader sees: no tags, attribute values, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def leaks(text: str, words: set[str], lang: str) -> set[str]:
    """Keys found as words in ``text``. In English, plain words ("open", "file", "provider")
    are ordinary English, so only keys written as identifiers (with "_") count there."""
    candidates = words if lang == "zh_CN" else {w for w in words if "_" in w}
    found = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text))
    return found & candidates


@pytest.fixture
def every_state(actors, clock):
    """Requests granted, refused, in negotiation, in coordination and overdue (a breach with a
    rectification); a data error under verification; an IT project in review; a catalog event;
    an annual report."""
    keys = {}
    keys["granted"] = actors.request("civil.clerk", **HUKOU)
    actors.complete(
        "pubsec.clerk", keys["granted"], "provider_review", review_decision="approve", **SCOPE
    )
    keys["refused"] = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", keys["refused"], "provider_review", **REFUSE)
    keys["coordination"] = to_coordination(actors)
    keys["verification"] = actors.run(
        lambda s: (
            verification.report_error(
                s, actors.clock, actors.user(s, "civil.clerk"), dict(REPORT)
            ).business_key
        )
    )
    _pid, keys["project"] = new_project(actors, [ENTRY])
    keys["event"] = _register(actors)[0]
    keys["pending"] = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-10T00:00:01+08:00")
    actors.sweep()  # the pending request is overdue: a breach
    rows = actors.run(
        lambda s: breaches.ledger(s, actors.user(s, "data.coord"), breaches.Filters()).rows
    )
    breach_id = rows[0].id
    keys["rectification"] = actors.run(
        lambda s: (
            breaches.open_rectification(
                s, actors.clock, actors.user(s, "data.coord"), breach_id
            ).business_key
        )
    )
    clock.set("2027-01-02T08:00:00+08:00")
    start(actors)
    keys["annual"] = report_task(actors, "pubsec")
    return keys, breach_id, _pid


MAIN_PAGES = [
    "/inbox/mine",
    "/inbox/queue",
    "/inbox/overdue",
    "/inbox/done",
    "/inbox/coordination",
    "/requests/new",
    "/requests/new?resource=JC-RK/0002",
    "/catalog/",
    "/catalog/entry/JC-RK/0002",
    "/catalog/edit",
    "/catalog/events/new",
    "/catalog/links",
    "/catalog/import",
    "/verifications/check",
    "/verifications/new",
    "/verifications/quality",
    "/breaches/",
    "/projects/",
    "/projects/new",
    "/disputes/",
    "/reports/annual/2026",
    "/admin/incidents/",
    "/account/password",
    "/public/",
]
USERS = ["civil.clerk", "pubsec.clerk", "data.coord", "data.admin", "drc.clerk", "civil.lead"]


def _task_links(html: str) -> set[str]:
    return set(re.findall(r'href="(/tasks/\d+)"', html))


def test_no_form_key_enum_value_or_lane_key_is_visible_text(app, every_state):  # noqa: F811
    keys, breach_id, project_id = every_state
    words = vocabulary()
    pages = [*MAIN_PAGES, f"/breaches/{breach_id}", f"/projects/{project_id}"]
    pages += [f"/requests/{k}" for k in keys.values()]
    pages += [f"/disputes/{keys['coordination']}"]
    found: dict[tuple[str, str, str], set[str]] = {}  # page -> keys with where they stand
    crawled = tasks = 0
    for username in USERS:
        browser = Browser(app, username)
        for lang in ("zh_CN", "en"):
            browser.client.set_cookie("lang", lang)
            seen = list(pages)
            for view in ("mine", "queue", "done"):
                links = _task_links(browser.get(f"/inbox/{view}").get_data(as_text=True))
                tasks += len(links)
                seen += sorted(links)
            for path in seen:
                r = browser.get(path)
                if r.status_code in (403, 404):
                    continue
                assert r.status_code == 200, (username, path, r.status_code)
                crawled += 1
                text = visible_text(r.get_data(as_text=True))
                for word in leaks(text, words, lang):
                    at = re.search(rf"\b{word}\b", text)
                    context = " ".join(text[max(0, at.start() - 40) : at.end() + 40].split())
                    found.setdefault((username, lang, path), set()).add(f"{word} in “{context}”")
    assert crawled > 150 and tasks > 10
    assert not found, "\n".join(f"{k}: {sorted(v)}" for k, v in found.items())


def test_an_invalid_task_form_names_its_fields_by_label_in_the_readers_language(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    pubsec = Browser(app, "pubsec.clerk")
    task = actors.open_task(key, "provider_review")
    for lang, label in (("zh_CN", "理由"), ("en", "Reasons")):
        pubsec.client.set_cookie("lang", lang)
        r = pubsec.post(f"/tasks/{task}", {"review_decision": "refuse"})
        text = visible_text(r.get_data(as_text=True))
        assert r.status_code == 422 and label in text and "review_reason" not in text


def test_an_api_error_names_the_field_by_its_label(app, actors):  # noqa: F811
    client = app.test_client()
    r = client.post(
        "/api/v1/requests",
        json={**HUKOU, "purpose": ""},
        headers={"Authorization": "Bearer demo-civil.clerk"},
    )
    details = r.get_json()["details"]
    assert r.status_code == 422
    assert any(d.get("label") in ("使用用途", "Purpose of use") for d in details)


def test_vocabulary_holds_the_keys_the_issue_names():
    words = vocabulary()
    assert {"record_id", "value_seen", "law_revision", "function_change", "requester"} <= words


def test_crawler_sees_only_visible_text():
    html = '<p title="review_reason">理由<script>var review_reason</script></p><style>x{}</style>'
    assert visible_text(html).strip() == "理由"
    assert leaks("需要 requester 填写", {"requester"}, "zh_CN") == {"requester"}
    assert leaks("the requester", {"requester"}, "en") == set()
    assert Path(PROCESSES).is_dir()
