"""English pages name departments, divisions and officials in English (issue 12, item 10).

The crawl reads every main page of every procedure, with data in every state, as English readers
while the server's own language (``GOVSHARE_LANG``, what ``str()`` of a name falls back to) is
Chinese: a page that printed a name without rendering it in the reader's language would show the
Chinese name and fail here.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.directory.models import Department, User
from engine.seed import short_name_en
from tests.test_labels import MAIN_PAGES, USERS, _task_links, every_state, visible_text  # noqa: F401
from tests.test_web import Browser, app  # noqa: F401

EXTRA_PAGES = [
    "/requests/",
    "/requests/?scope=level",
    "/search/?q=GX",
    "/search/?q=Public%20Security",
    "/search/?q=JC-RK",
]
EXPORTS = ["/requests/?format=csv", "/requests/?format=csv&scope=level", "/breaches/?format=csv"]


@pytest.fixture
def server_speaks_chinese(monkeypatch):
    monkeypatch.setenv("GOVSHARE_LANG", "zh_CN")


def _chinese_names(actors) -> dict[str, str]:
    """Every Chinese department and official name that has a different English one."""

    def read(s):
        names = {d.name: d.name_en for d in s.scalars(select(Department)) if d.name_en != d.name}
        names.update(
            {
                u.display_name: u.display_name_en
                for u in s.scalars(select(User))
                if u.display_name_en
            }
        )
        return names

    return actors.run(read)


def test_demo_officials_have_english_names_from_department_and_role(actors):
    def names(s):
        return {
            u.username: u.display_name_en
            for u in s.scalars(select(User))
            if u.username in ("civil.clerk", "pubsec.lead", "data.coord", "data.admin", "gov.coord")
        }

    assert actors.run(names) == {
        "civil.clerk": "Civil Affairs Clerk",
        "pubsec.lead": "Public Security Head",
        "data.coord": "Region Data-sharing Authority Coordinator",
        "data.admin": "Region Data-sharing Authority System Administrator",
        "gov.coord": "General Office Coordinator",
    }
    assert short_name_en("Yinchuan Civil Affairs Bureau") == "Yinchuan Civil Affairs"
    assert short_name_en("Ningxia Tax Service (vertically managed)") == "Ningxia Tax Service"


def test_an_official_without_an_english_name_reads_in_chinese_on_english_pages(app, actors):  # noqa: F811
    def name(value):
        def go(s):
            s.scalar(select(User).where(User.username == "civil.clerk")).display_name_en = value
            s.commit()

        actors.run(go)

    name("")  # as an account made before English names, or by an administrator without one
    try:
        browser = Browser(app, "civil.clerk")
        browser.client.set_cookie("lang", "en")
        html = browser.get("/inbox/mine").get_data(as_text=True)
        header = re.search(r'<summary class="who".*?</summary>', html).group(0)
        assert "自治区民政厅经办人" in header and "Department of Civil Affairs" in header
    finally:
        name("Civil Affairs Clerk")


def test_english_pages_show_no_chinese_department_or_official_name(
    app,  # noqa: F811
    every_state,  # noqa: F811
    actors,
    server_speaks_chinese,
):
    keys, breach_id, project_id = every_state
    chinese = _chinese_names(actors)
    pages = [*MAIN_PAGES, *EXTRA_PAGES, f"/breaches/{breach_id}", f"/projects/{project_id}"]
    pages += [f"/requests/{k}" for k in keys.values()]
    pages += [f"/disputes/{keys['coordination']}"]
    found: dict[tuple[str, str], set[str]] = {}
    crawled = 0
    for username in USERS:
        browser = Browser(app, username)
        browser.client.set_cookie("lang", "en")
        seen = list(pages)
        for view in ("mine", "queue", "done"):
            seen += sorted(_task_links(browser.get(f"/inbox/{view}").get_data(as_text=True)))
        for path in seen + EXPORTS:
            r = browser.get(path)
            if r.status_code in (403, 404):
                continue
            assert r.status_code == 200, (username, path, r.status_code)
            crawled += 1
            body = r.get_data(as_text=True)
            text = body if path in EXPORTS else visible_text(body)
            for name, english in chinese.items():
                at = text.find(name)
                if at >= 0:
                    context = " ".join(text[max(0, at - 50) : at + 50].split())
                    found.setdefault((username, path), set()).add(
                        f"{name} (English: {english}) in “{context}”"
                    )
    assert crawled > 100
    assert not found, "\n".join(f"{k}: {sorted(v)}" for k, v in found.items())


def test_chinese_pages_keep_the_chinese_names(app, every_state):  # noqa: F811
    keys, _breach_id, _project_id = every_state
    browser = Browser(app, "civil.clerk")
    text = visible_text(browser.get(f"/requests/{keys['granted']}").get_data(as_text=True))
    assert "自治区公安厅" in text and "自治区民政厅经办人" in text
    assert "Public Security Department" not in text


def test_the_api_names_departments_in_the_readers_language(app, every_state, actors):  # noqa: F811
    keys, _breach_id, _project_id = every_state
    client = app.test_client()
    auth = {"Authorization": "Bearer demo-civil.clerk"}
    en = client.get(f"/api/v1/requests/{keys['granted']}?lang=en", headers=auth).get_json()
    zh = client.get(f"/api/v1/requests/{keys['granted']}?lang=zh_CN", headers=auth).get_json()
    assert en["summary"]["provider_name"] == "Public Security Department"
    assert zh["summary"]["provider_name"] == "自治区公安厅"
    assert {t["department"] for t in en["tasks"]} == {"Public Security Department"}
