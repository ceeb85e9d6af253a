"""Every party reads the outcome, and no one decides their own case (art. 4, 11, 12)."""

from __future__ import annotations

import pytest

from engine.directory import department_by_slug, parties
from engine.errors import Forbidden, ValidationFailed
from engine.sharing.coordination import dossier_for
from engine.sharing.requests import request_page
from tests.conftest import HUKOU
from tests.test_share_request_process import REFUSE, SCOPE, open_tasks
from tests.test_sharing_deadlines import CITY, coordinating

PART = dict(
    coordination_action="decide",
    coordination_decision="grant_in_part",
    coordination_reasons="低保核定确需身份号码；变动类型涉及隐私，不予提供",
    coordination_conditions="仅限低保核定使用，不得向第三方提供；每季度报告使用情况",
    granted_items=["公民身份号码"],
    granted_period_start="2026-10-01",
    granted_period_end="2027-09-30",
    granted_purpose="核定城乡低保对象户籍状况",
)


def coordinator_department(actors, key):
    st = actors.status(key)
    return [t["department"].zh for t in st["tasks"] if t["task"] == "coordinate"][0]


def chinese(person: dict) -> dict:
    """A decider's names as the Chinese pages show them (the status carries both languages)."""
    return {k: v.zh for k, v in person.items()}


# -- no one decides their own case -----------------------------------------------------------
def test_the_region_authority_asking_for_data_is_coordinated_by_the_general_office(actors):
    key = coordinating(actors, "data.clerk", "pubsec.clerk", HUKOU)
    assert coordinator_department(actors, key) == "自治区人民政府办公厅"
    with pytest.raises(Forbidden):  # the region authority's own coordinator may not decide
        actors.complete("data.coord", key, "coordinate", **PART)
    actors.complete("gov.coord", key, "coordinate", **PART)
    st = actors.status(key)
    assert st["status"] == "completed"
    assert chinese(st["outcome"]["decided_by"]) == {
        "name": "自治区人民政府办公厅协调员",
        "department": "自治区人民政府办公厅",
    }


def test_a_city_authority_asking_for_data_is_coordinated_by_the_region_authority(actors):
    key = coordinating(actors, "yinchuan-data.clerk", "yinchuan-civil.clerk", CITY)
    assert coordinator_department(actors, key) == "自治区数据共享主管部门"


def test_a_county_authority_asking_for_data_is_coordinated_by_the_city_authority(actors):
    county = dict(CITY, resource_code="BM-XQ-MZ/0001", info_items=["公民身份号码"])
    key = coordinating(actors, "xingqing-data.clerk", "xingqing-civil.clerk", county)
    assert coordinator_department(actors, key) == "银川市数据共享主管部门"


def test_an_authority_that_provides_the_data_does_not_coordinate_either(db):
    region = parties(db, department_by_slug(db, "pubsec"), department_by_slug(db, "data"))
    assert region.authority.name == "自治区人民政府办公厅" and region.supervisor is None
    city = parties(
        db, department_by_slug(db, "yinchuan-samr"), department_by_slug(db, "yinchuan-data")
    )
    assert city.authority.name == "自治区数据共享主管部门" and city.supervisor is None
    plain = parties(
        db, department_by_slug(db, "yinchuan-samr"), department_by_slug(db, "yinchuan-civil")
    )
    assert plain.authority.name == "银川市数据共享主管部门"
    assert plain.supervisor is not None and plain.supervisor.name == "自治区数据共享主管部门"


def test_the_general_office_reads_its_dossier(actors):
    key = coordinating(actors, "data.clerk", "pubsec.clerk", HUKOU)
    page = actors.run(
        lambda s: dossier_for(s, actors.clock, actors.user(s, "gov.coord"), key).instance
    )
    assert page.business_key == key


# -- a coordinator grants at most what was asked --------------------------------------------
@pytest.mark.parametrize(
    "change, field",
    [
        ({"granted_period_end": "2099-12-31"}, "granted_period_end"),
        ({"granted_period_start": "2026-01-01"}, "granted_period_start"),
        ({"granted_items": ["公民身份号码", "迁入地"]}, "granted_items"),
        (
            {"granted_period_start": "2027-01-01", "granted_period_end": "2026-12-01"},
            "granted_period_end",
        ),
    ],
)
def test_a_coordinator_grants_no_more_than_was_requested(actors, change, field):
    key = coordinating(actors)
    with pytest.raises(ValidationFailed) as err:
        actors.complete("data.coord", key, "coordinate", **{**PART, **change})
    assert field in [d["field"] for d in err.value.details]
    st = actors.status(key)
    assert open_tasks(st) == ["coordinate"] and st["grants"] == []


def test_a_provider_grants_no_longer_than_was_requested(actors):
    key = actors.request("civil.clerk", **HUKOU)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "pubsec.clerk",
            key,
            "provider_review",
            review_decision="approve",
            **{**SCOPE, "granted_period_end": "2099-12-31"},
        )
    assert [d["field"] for d in err.value.details] == ["granted_period_end"]


# -- the outcome reaches both parties --------------------------------------------------------
def test_a_coordinated_grant_in_part_carries_its_reasons_conditions_and_decider(actors):
    key = coordinating(actors)
    actors.complete("data.coord", key, "coordinate", **PART)
    st = actors.status(key)
    assert st["summary"]["decision"] == "granted_in_part"
    [grant] = st["grants"]
    assert grant["decision"] == "granted_in_part" and grant["basis"] == "coordinated"
    assert grant["reasons"] == PART["coordination_reasons"]
    assert grant["conditions"] == PART["coordination_conditions"]
    assert chinese(grant["decided_by"]) == {
        "name": "自治区数据共享主管部门协调员",
        "department": "自治区数据共享主管部门",
    }
    assert st["outcome"] == {
        "decision": "granted_in_part",
        "decided_at": grant["granted_at"],
        "decided_by": grant["decided_by"],
        "by": "coordination",
        "reasons": PART["coordination_reasons"],
        "conditions": PART["coordination_conditions"],
    }


@pytest.mark.parametrize("username", ["civil.clerk", "pubsec.clerk"])
def test_both_parties_read_the_decision_on_the_request_page_but_not_the_dossier(actors, username):
    key = coordinating(actors)
    actors.complete("data.coord", key, "coordinate", **PART)
    page = actors.run(
        lambda s: request_page(s, actors.clock, actors.user(s, username), key).status["outcome"]
    )
    assert page["conditions"] == PART["coordination_conditions"]
    with pytest.raises(Forbidden):
        actors.run(lambda s: dossier_for(s, actors.clock, actors.user(s, username), key))


def test_an_upheld_refusal_shows_the_coordinators_reasons(actors):
    key = coordinating(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="变动类型涉及敏感信息，现有依据不足",
    )
    st = actors.status(key)
    assert st["summary"]["decision"] == "refusal_upheld"
    assert st["outcome"]["decision"] == "refusal_upheld"
    assert st["outcome"]["by"] == "coordination"
    assert st["outcome"]["reasons"] == "变动类型涉及敏感信息，现有依据不足"
    assert st["outcome"]["decided_by"]["department"].zh == "自治区数据共享主管部门"


def test_the_providers_partial_approval_reads_as_a_partial_grant_with_reasons(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete(
        "pubsec.clerk",
        key,
        "provider_review",
        review_decision="approve_in_part",
        review_reason="变动类型涉及个人隐私，仅提供身份号码",
        review_conditions="仅限本次低保核定使用",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    st = actors.status(key)
    assert st["summary"]["decision"] == "granted_in_part"
    assert st["outcome"]["decision"] == "granted_in_part"
    assert st["outcome"]["by"] == "provider"
    assert st["outcome"]["reasons"] == "变动类型涉及个人隐私，仅提供身份号码"
    assert st["outcome"]["conditions"] == "仅限本次低保核定使用"


def test_the_providers_refusal_shows_its_reasons_to_the_requester(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    st = actors.run(
        lambda s: request_page(s, actors.clock, actors.user(s, "civil.clerk"), key).status
    )
    assert st["outcome"]["decision"] == "refused"
    assert st["outcome"]["by"] == "provider"
    assert st["outcome"]["reasons"] == REFUSE["review_reason"]
    assert st["outcome"]["decided_by"]["department"].zh == "自治区公安厅"
