"""Rules the services enforce for every caller (web, API, CLI, tests): who may mark a resource
connected to the sharing platform, who sees unpublished catalog entries and versions, and whose
data-quality figures a department sees."""

from __future__ import annotations

import pytest

from engine.catalog import mark_connected, resource_for
from engine.catalog.reading import entry_view
from engine.catalog.versions import publish_version, save_draft, submit_code
from engine.errors import Forbidden, NotFound
from engine.oversight import projects
from engine.quality.verification import quality_for
from tests.conftest import HUKOU
from tests.test_api import auth, client  # noqa: F401  (the client fixture)
from tests.test_bad_input import _cli
from tests.test_catalog import ENTRY
from tests.test_verification import granted, report
from tests.test_web import Browser, app  # noqa: F401  (the app fixture)

CODE = ENTRY["code"]  # a civil affairs entry; the region's data-sharing authority reviews it


def draft(actors, **changes):
    """civil.clerk saves a draft of ENTRY; returns the version's id."""
    return actors.run(
        lambda s: (
            save_draft(s, actors.clock, actors.user(s, "civil.clerk"), {**ENTRY, **changes}).id
        )
    )


def published(actors):
    """ENTRY published as version 1, then a draft version 2 nobody outside may see yet."""

    def publish(s):
        version = save_draft(s, actors.clock, actors.user(s, "civil.clerk"), ENTRY)
        publish_version(s, actors.clock, version, None)

    actors.run(publish)
    draft(actors, summary="养老服务机构备案、等级评定和星级信息。")


def connected(actors, username):
    def go(s):
        return mark_connected(s, actors.clock, actors.user(s, username), CODE).connected

    return actors.run(go)


# -- only the providing department marks a resource connected ----------------------------------
def test_the_providing_department_marks_its_resource_connected(actors):
    draft(actors)
    assert connected(actors, "civil.clerk") is True


@pytest.mark.parametrize("username", ["health.clerk", "data.coord", "drc.clerk"])
def test_no_other_department_marks_a_resource_connected(actors, username):
    draft(actors)
    with pytest.raises(Forbidden):
        connected(actors, username)
    assert actors.run(lambda s: resource_for(s, actors.user(s, "civil.clerk"), CODE).connected) is (
        False
    )


def test_a_project_reviewer_gets_403_marking_the_projects_resource_connected(app, actors):  # noqa: F811
    draft(actors)
    pid = actors.run(
        lambda s: (
            projects.create(
                s, actors.clock, actors.user(s, "civil.clerk"), "智慧养老服务平台", "", [ENTRY]
            ).id
        )
    )
    page = f"/projects/{pid}"
    drc = Browser(app, "drc.clerk")  # a joint-review seat: sees the project
    assert drc.get(page).status_code == 200
    assert drc.post(page, {"action": "connect", "code": CODE}).status_code == 403
    civil = Browser(app, "civil.clerk")
    assert civil.post(page, {"action": "connect", "code": CODE}).status_code == 302
    assert actors.run(lambda s: resource_for(s, actors.user(s, "civil.clerk"), CODE).connected)


# -- unpublished entries and versions: the provider and the reviewing authority --------------------
@pytest.mark.parametrize("username", ["civil.clerk", "data.coord"])
def test_a_draft_entry_is_seen_by_its_provider_and_the_reviewing_authority(actors, username):
    draft(actors)
    assert actors.run(lambda s: resource_for(s, actors.user(s, username), CODE).status) == "draft"


@pytest.mark.parametrize("username", ["health.clerk", "yinchuan-data.coord"])
def test_a_draft_entry_is_unknown_to_everyone_else(actors, username):
    draft(actors)
    with pytest.raises(NotFound):
        actors.run(lambda s: resource_for(s, actors.user(s, username), CODE))
    with pytest.raises(NotFound):
        actors.run(lambda s: submit_code(s, actors.clock, actors.user(s, username), CODE))


def test_unpublished_versions_of_a_published_entry_stay_inside(actors):
    published(actors)

    def versions(username):
        def go(s):
            view = entry_view(s, actors.user(s, username), CODE)
            return [v.number for v in view.versions], view.latest is not None

        return actors.run(go)

    assert versions("civil.clerk") == ([2, 1], True)
    assert versions("data.coord") == ([2, 1], True)
    assert versions("health.clerk") == ([1], False)
    assert versions("yinchuan-data.coord") == ([1], False)
    outsider = actors.run(lambda s: entry_view(s, actors.user(s, "health.clerk"), CODE, "2"))
    assert outsider.chosen is None and outsider.entry["summary"] == ENTRY["summary"]


def test_draft_pages_and_the_api_follow_the_rule(app, client, actors):  # noqa: F811
    draft(actors)
    page = f"/catalog/entry/{CODE}"
    assert Browser(app, "civil.clerk").get(page).status_code == 200
    assert Browser(app, "data.coord").get(page).status_code == 200
    assert Browser(app, "yinchuan-data.coord").get(page).status_code == 404
    assert Browser(app, "health.clerk").get(page).status_code == 404
    assert client.get(f"/api/v1/catalog/{CODE}", headers=auth("health.clerk")).status_code == 404


# -- data-quality figures: a provider its own, authorities every provider's -----------------------
def test_quality_figures_are_scoped_to_the_providing_department(actors):
    granted(actors)
    report(actors)

    def figures(username):
        def go(s):
            r = quality_for(s, actors.user(s, username))
            return [(row["provider"].zh, row["code"]) for row in r.rows], r.scope and r.scope.zh

        return actors.run(go)

    assert figures("pubsec.clerk") == ([("自治区公安厅", "JC-RK/0002")], "自治区公安厅")
    assert figures("civil.clerk") == ([], "自治区民政厅")  # it reported the error, it provides none
    assert figures("data.coord") == ([("自治区公安厅", "JC-RK/0002")], None)
    assert figures("yinchuan-data.coord")[1] is None  # every authority sees every provider


def test_the_quality_page_shows_only_what_the_reader_may_see(app, actors):  # noqa: F811
    granted(actors)
    report(actors)
    assert "JC-RK/0002" in Browser(app, "data.coord").get("/verifications/quality").get_data(
        as_text=True
    )
    assert "JC-RK/0002" not in Browser(app, "civil.clerk").get("/verifications/quality").get_data(
        as_text=True
    )


# -- a refusal through the CLI exits with status 2 ----------------------------------------------
def test_cli_forbidden_exits_2(actors, db_url):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    r = _cli(db_url, "tasks", "claim", str(task_id), "--user", "health.clerk")
    assert r.returncode == 2 and "is not offered to" in r.stderr


def test_a_refused_project_catalog_upload_answers_422_and_keeps_the_catalog(app, actors):  # noqa: F811
    import io

    pid = actors.run(
        lambda s: (
            projects.create(
                s, actors.clock, actors.user(s, "civil.clerk"), "智慧养老服务平台", "", [ENTRY]
            ).id
        )
    )
    page = f"/projects/{pid}"
    civil = Browser(app, "civil.clerk")
    r = civil.post(
        page,
        {"action": "catalog", "catalog": (io.BytesIO(b"\xff\xfe\x00binary"), "catalog.csv")},
        page=page,
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "catalog.csv" in r.get_data(as_text=True)
    kept = actors.run(
        lambda s: projects.project_page(s, actors.user(s, "civil.clerk"), pid).project
    )
    assert [e["code"] for e in kept.catalog] == [ENTRY["code"]]  # nothing replaced
