"""Every page works under the Content-Security-Policy: no inline script or style is refused, the
bpmn-js diagrams draw, and the queue's "select all" (moved out of an onclick) still works."""

from __future__ import annotations

from tests.conftest import HUKOU

PAGES = [
    "/inbox/mine",
    "/inbox/queue",
    "/catalog/",
    "/requests/new",
    "/verifications/check",
    "/verifications/new",
    "/breaches/",
    "/projects/",
    "/public/",
    "/account/password",
]


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_pages_diagrams_and_scripts_work_under_the_csp(official, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    o = official("pubsec.clerk", "en")
    problems = _watch(o.page)
    for path in PAGES:
        o.go(path)
    page = o.go("/inbox/queue")
    page.check("input[data-select-all]")
    boxes = page.locator("input[name=task_id]")
    assert boxes.count() >= 1
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page = o.go(f"/requests/{key}")
    page.wait_for_selector(".diagram[data-ready=true]")
    page = o.go(f"/tasks/{task_id}")
    page.click("button[type=submit] >> nth=0")  # claim: form.js and the task form load
    o.go(f"/tasks/{task_id}")
    coord = official("data.coord", "en")
    problems += _watch(coord.page)
    coord.go("/disputes/")
    assert problems == [], problems
