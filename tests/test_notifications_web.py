"""The bell on every page, the notification list, opening and marking read, the settings page
and the JSON API, through Flask's test client."""

from __future__ import annotations

import re

from notifications.fanout import fan_out
from tests.conftest import HUKOU
from tests.test_web import Browser, app  # noqa: F401 - the app fixture


def _bell(html: str) -> str:
    return re.search(r'id="bell-count"[^>]*>([^<]*)<', html).group(1)


def test_the_bell_shows_the_unread_count_on_every_page(app, actors):  # noqa: F811
    actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, actors.clock))
    pubsec = Browser(app, "pubsec.clerk")
    for path in ("/inbox/mine", "/catalog/", "/requests/", "/notifications/"):
        assert _bell(pubsec.get(path).get_data(as_text=True)) == "1", path
    assert _bell(Browser(app, "civil.clerk").get("/inbox/mine").get_data(as_text=True)) == "0"
    assert pubsec.get("/notifications/unread.json").get_json() == {"unread": 1}


def test_opening_a_notification_marks_it_read_and_goes_to_its_task(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, actors.clock))
    pubsec = Browser(app, "pubsec.clerk")
    html = pubsec.get("/notifications/").get_data(as_text=True)
    assert f"新待办：审核共享申请（{key}）" in html
    nid = re.search(r'href="/notifications/(\d+)"', html).group(1)
    r = pubsec.get(f"/notifications/{nid}")
    task_id = actors.open_task(key, "provider_review")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/tasks/{task_id}")
    assert pubsec.get("/notifications/unread.json").get_json() == {"unread": 0}
    # another official's notification is not found
    assert Browser(app, "civil.clerk").get(f"/notifications/{nid}").status_code == 404


def test_mark_all_read(app, actors):  # noqa: F811
    actors.request("civil.clerk", **HUKOU)
    actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, actors.clock))
    pubsec = Browser(app, "pubsec.lead")
    r = pubsec.post("/notifications/read-all", page="/notifications/")
    assert r.status_code == 302
    assert pubsec.get("/notifications/unread.json").get_json() == {"unread": 0}


def test_the_api_lists_notifications_in_the_users_language(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, actors.clock))
    client = app.test_client()
    headers = {"Authorization": "Bearer demo-pubsec.clerk"}
    body = client.get("/api/v1/notifications", headers=headers).get_json()
    assert body["unread"] == 1 and body["next_before"] is None
    [item] = body["items"]
    assert item["subject"] == f"新待办：审核共享申请（{key}）" and item["rung"] == "task"
    en = client.get("/api/v1/notifications?lang=en&unread=true", headers=headers).get_json()
    assert en["items"][0]["subject"] == f"New task: Review the sharing request ({key})"
    r = client.post(f"/api/v1/notifications/{item['id']}/read", headers=headers)
    assert r.status_code == 200 and r.get_json()["link"] == item["link"]
    assert client.get("/api/v1/notifications", headers=headers).get_json()["unread"] == 0
    other = {"Authorization": "Bearer demo-civil.clerk"}
    assert client.post(f"/api/v1/notifications/{item['id']}/read", headers=other).status_code == 404
