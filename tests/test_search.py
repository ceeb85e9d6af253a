"""The search box (issue 12): one query finds requests, catalog entries, projects and ledger
entries, each group as its area lets the user see it, at most a few per group."""

from __future__ import annotations

import pytest

from engine.errors import ValidationFailed
from engine.oversight.projects import create_project
from engine.search import PER_GROUP, search_everything
from tests.conftest import HUKOU
from tests.test_request_lists import UNCONDITIONAL
from tests.test_web import app  # noqa: F401


def found(actors, username, q):
    results = actors.run(lambda s: search_everything(s, actors.clock, actors.user(s, username), q))
    return {g.kind: [h.ref for h in g.hits] for g in results.groups}


def test_a_request_is_found_by_its_key_by_the_parties_only(actors):
    key = actors.request("civil.clerk", **HUKOU)
    assert found(actors, "civil.clerk", key)["requests"] == [key]
    assert found(actors, "pubsec.clerk", key.lower())["requests"] == [key]
    assert found(actors, "data.clerk", key)["requests"] == [key]  # the same-level authority
    assert found(actors, "yinchuan-civil.clerk", key)["requests"] == []


def test_a_catalog_entry_is_found_by_code_or_name(actors):
    assert "JC-RK/0002" in found(actors, "civil.clerk", "户籍变动")["catalog"]
    assert "JC-RK/0002" in found(actors, "yinchuan-civil.clerk", "JC-RK/0002")["catalog"]


def test_a_project_is_found_by_its_department_and_the_reviewers(actors):
    project = actors.run(
        lambda s: create_project(
            s, actors.clock, actors.user(s, "civil.clerk"), "社会救助信息系统升级", "升级", []
        )
    )
    assert found(actors, "civil.clerk", "救助信息")["projects"] == [str(project.id)]
    assert found(actors, "data.clerk", "救助信息")["projects"] == [str(project.id)]
    assert found(actors, "pubsec.clerk", "救助信息")["projects"] == []


def test_a_ledger_entry_is_found_by_the_key_of_its_request(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-10T00:00:01+08:00")
    assert actors.sweep() == 1  # the reply is overdue: an entry against the provider
    assert len(found(actors, "pubsec.clerk", key)["breaches"]) == 1
    assert found(actors, "civil.clerk", key)["breaches"] == []


def test_each_group_is_bounded_and_says_there_is_more(actors):
    for _ in range(PER_GROUP + 1):
        actors.request("civil.clerk", **UNCONDITIONAL)
    results = actors.run(
        lambda s: search_everything(s, actors.clock, actors.user(s, "civil.clerk"), "GX-2026")
    )
    requests = results.groups[0]
    assert (requests.kind, len(requests.hits), requests.more) == ("requests", PER_GROUP, True)


def test_an_empty_query_finds_nothing_and_a_bad_one_is_refused(actors):
    assert not any(found(actors, "civil.clerk", "  ").values())
    with pytest.raises(ValidationFailed):
        found(actors, "civil.clerk", "x\x00")


def test_a_case_of_any_procedure_is_found_by_its_exact_key_where_the_user_may_open_it(actors):
    from tests.test_catalog_update_process import _register

    [key] = _register(actors)  # a catalog update duty (MG-…), not in the request lists
    assert found(actors, "civil.clerk", key)["requests"] == [key]
    assert found(actors, "data.coord", key.lower())["requests"] == [key]
    assert found(actors, "pubsec.clerk", key)["requests"] == []  # not a party


def test_the_search_page_links_a_duty_found_by_its_key(app, actors):  # noqa: F811
    from tests.test_catalog_update_process import _register
    from tests.test_web import Browser

    [key] = _register(actors)
    page = Browser(app, "civil.clerk").get(f"/search/?q={key}")
    assert page.status_code == 200
    assert f'href="/requests/{key}"' in page.get_data(as_text=True)
