"""/api/v1 as a department system uses it."""

from __future__ import annotations

import json
import re

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.inputs import nesting_depth
from engine.oversight.models import Breach
from engine.workflow.models import ProcessInstance
from tests.conftest import HUKOU
from web import create_app


@pytest.fixture
def client(db_url, session_factory, clock):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "TESTING": True,
            "SECRET_KEY": "t",
        }
    )
    with app.test_client() as c:
        yield c


def auth(user):
    return {"Authorization": f"Bearer demo-{user}"}


def test_healthz_reports_database_and_processes(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["process_versions"] >= 2


def test_requests_need_a_valid_token(client):
    assert client.get("/api/v1/tasks").status_code == 401
    r = client.get("/api/v1/tasks", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.get_json()["message"] == "The API token is not valid."


def test_start_list_complete_and_read_status(client):
    r = client.post("/api/v1/requests", json=HUKOU, headers=auth("civil.clerk"))
    assert r.status_code == 201, r.get_json()
    key = r.get_json()["business_key"]
    tasks = client.get("/api/v1/tasks?scope=queue", headers=auth("pubsec.clerk")).get_json()
    assert [(t["business_key"], t["task"], t["due_at"]) for t in tasks] == [
        (key, "provider_review", "2026-10-09T16:00:00+00:00")
    ]
    assert "form_schema" not in tasks[0]  # named once, by key: GET /api/v1/forms/<key>
    form = client.get(tasks[0]["form_schema_url"], headers=auth("pubsec.clerk"))
    assert form.status_code == 200 and form.headers["ETag"]
    assert form.get_json()["$id"] == "govshare:forms/provider_review"
    task_id = tasks[0]["id"]
    r = client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"data": {"review_decision": "refuse"}},
        headers=auth("pubsec.clerk"),
    )
    assert r.status_code == 422
    assert r.get_json()["details"] == [
        {"field": "review_reason", "label": "Reasons", "message": "is required"}
    ]
    r = client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"data": {"review_decision": "refuse", "review_reason": "超出职责范围"}},
        headers=auth("pubsec.clerk"),
    )
    assert r.status_code == 200 and r.get_json()["request_status"] == "running"
    r = client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"data": {"review_decision": "refuse", "review_reason": "再次"}},
        headers=auth("pubsec.lead"),
    )
    assert (
        r.status_code == 409
        and "already completed by Public Security Clerk" in r.get_json()["message"]
    )
    status = client.get(f"/api/v1/requests/{key}", headers=auth("civil.clerk")).get_json()
    assert status["summary"]["decision"] == "refused"
    assert [t["task"] for t in status["tasks"] if t["state"] == "open"] == ["after_refusal"]


def test_other_departments_cannot_read_or_act(client):
    key = client.post("/api/v1/requests", json=HUKOU, headers=auth("civil.clerk")).get_json()[
        "business_key"
    ]
    assert client.get(f"/api/v1/requests/{key}", headers=auth("health.clerk")).status_code == 403
    task_id = client.get("/api/v1/tasks", headers=auth("pubsec.clerk")).get_json()[0]["id"]
    r = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("health.clerk"))
    assert r.status_code == 403
    assert client.get("/api/v1/tasks", headers=auth("health.clerk")).get_json() == []


def test_unknown_resource_and_bad_body(client):
    r = client.post(
        "/api/v1/requests", json={**HUKOU, "resource_code": "NOPE"}, headers=auth("civil.clerk")
    )
    assert (
        r.status_code == 404
        and r.get_json()["message"] == "Unknown resource 'NOPE' in the catalog."
    )
    r = client.post(
        "/api/v1/requests",
        data="[]",
        headers={**auth("civil.clerk"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert (
        client.get("/api/v1/requests/GX-2026-999999", headers=auth("civil.clerk")).status_code
        == 404
    )


def test_openapi_document_is_valid_and_lists_every_operation(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()] == []
    served = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in client.application.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served <= documented and ("/healthz", "get") in documented


def test_the_document_declares_the_checks_the_api_makes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    claim = doc["paths"]["/api/v1/tasks/{task_id}/claim"]["post"]
    assert claim["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    check = doc["paths"]["/api/v1/grants/check"]["post"]["requestBody"]["content"]
    purpose = check["application/json"]["schema"]["properties"]["purpose"]
    assert purpose["maxLength"] == 2000 and "\\u0000" in purpose["pattern"]
    assert set(check) == {"application/json"}


def _rows(actors) -> tuple[int, int, int]:
    """Instances, breaches and audit events: what a refused request must not add to. The one
    event a refused call may leave is the token's hourly use record (``api_token_used``), which
    says who called, not what changed."""
    changes = select(func.count()).select_from(AuditEvent)
    changes = changes.where(AuditEvent.kind != "api_token_used")
    return actors.run(
        lambda s: (
            s.scalar(select(func.count()).select_from(ProcessInstance)),
            s.scalar(select(func.count()).select_from(Breach)),
            s.scalar(changes),
        )
    )


@pytest.mark.parametrize(
    "body",
    [
        {"resource_code": "JC-RK/0002", "info_items": "公民身份号码"},
        {"resource_code": 7, "info_items": ["公民身份号码"]},
        {"resource_code": "JC-RK/0002", "info_items": [1, 2]},
        {"resource_code": "JC-RK/0002", "info_items": ["公民身份号码"], "purpose": {"a": 1}},
        {"resource_code": "JC-RK/0002", "info_items": []},
        {"resource_code": "X" * 61, "info_items": ["公民身份号码"]},
        ["JC-RK/0002"],
    ],
)
def test_grant_check_with_wrong_json_types_is_refused_by_field(client, actors, body):
    before = _rows(actors)
    r = client.post("/api/v1/grants/check", json=body, headers=auth("civil.clerk"))
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["details"] and _rows(actors) == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"record_id": "1", "field": "f", "value_seen": "x"}, "resource_code"),
        (
            {"resource_code": ["JC-RK/0002"], "record_id": "1", "field": "f", "value_seen": "x"},
            "resource_code",
        ),
        (
            {"resource_code": "JC-RK/0002", "record_id": 1, "field": "f", "value_seen": "x"},
            "record_id",
        ),
        (
            {
                "resource_code": "JC-RK/0002",
                "record_id": "1" * 121,
                "field": "f",
                "value_seen": "x",
            },
            "record_id",
        ),
    ],
)
def test_verification_report_with_wrong_types_or_lengths_names_the_field(
    client, actors, body, field
):
    before = _rows(actors)
    r = client.post("/api/v1/verifications", json=body, headers=auth("civil.clerk"))
    assert r.status_code == 422 and field in [d["field"] for d in r.get_json()["details"]]
    assert _rows(actors) == before


def test_served_on_proof_with_a_number_as_proof_is_refused(client):
    r = client.post(
        "/api/v1/verifications/1/served", json={"proof": 5}, headers=auth("civil.clerk")
    )
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "proof"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tasks/99999999999/claim",
        "/api/v1/tasks/2147483648/complete",
        "/api/v1/verifications/99999999999999999999/served",
    ],
)
def test_ids_beyond_the_integer_range_are_refused_not_looked_up(client, actors, url):
    # no row can hold such an id: the address names nothing (404), nothing is looked up or written
    before = _rows(actors)
    r = client.post(url, json={"data": {}, "proof": "x"}, headers=auth("civil.clerk"))
    assert r.status_code == 404 and r.is_json
    assert _rows(actors) == before


@pytest.mark.parametrize("query", ["page=99999999999", "provider_id=-1", "page=abc"])
def test_catalog_paging_out_of_range_is_refused(client, query):
    r = client.get(f"/api/v1/catalog?{query}", headers=auth("civil.clerk"))
    assert r.status_code == 422


def test_a_body_nested_100000_deep_is_refused_before_parsing(client, actors):
    before = _rows(actors)
    for deep in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        r = client.post(
            "/api/v1/requests",
            data=deep,
            headers={**auth("civil.clerk"), "Content-Type": "application/json"},
        )
        assert r.status_code == 422 and "nested" in r.get_json()["message"]
    assert _rows(actors) == before


def test_a_body_over_one_mebibyte_is_refused_unread(client, actors):
    before = _rows(actors)
    r = client.post(
        "/api/v1/requests", json={**HUKOU, "purpose": "用" * 400_000}, headers=auth("civil.clerk")
    )
    assert r.status_code == 413 and _rows(actors) == before


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert nesting_depth(b'{"a": "[[[[[[{{{{", "b": [1, [2]]}') == 3
    assert nesting_depth(b'["\\", "\\"[["]') == 1


@pytest.mark.parametrize("bad", ["核定\u0000低保", "核定低保\ud800", "\udfff核定低保", "a\u001bb"])
def test_control_characters_and_lone_surrogates_in_a_purpose_are_refused(client, actors, bad):
    before = _rows(actors)
    body = json.dumps({**HUKOU, "purpose": bad})  # "\u0000", "\ud800" … as JSON escapes
    r = client.post(
        "/api/v1/requests",
        data=body,
        headers={**auth("civil.clerk"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.get_data(as_text=True)
    assert [d["field"] for d in r.get_json()["details"]] == ["purpose"]
    assert _rows(actors) == before


def test_a_purpose_with_line_breaks_and_tabs_is_accepted(client):
    r = client.post(
        "/api/v1/requests",
        json={**HUKOU, "purpose": "核定城乡低保对象\n户籍状况\t（第十一条）"},
        headers=auth("civil.clerk"),
    )
    assert r.status_code == 201, r.get_json()


def test_text_longer_than_its_column_is_refused_by_field(client, actors):
    before = _rows(actors)
    r = client.post(
        "/api/v1/requests", json={**HUKOU, "purpose": "用" * 2001}, headers=auth("civil.clerk")
    )
    assert r.status_code == 422
    assert r.get_json()["details"] == [
        {
            "field": "purpose",
            "label": "Purpose of use",  # the tests' messages are English (GOVSHARE_LANG=en)
            "message": "is too long: 2001 characters, at most 2000",
        }
    ]
    assert _rows(actors) == before


def test_a_bad_query_parameter_is_named_by_its_label_and_name(client):
    r = client.get("/api/v1/tasks?limit=0&lang=zh_CN", headers=auth("pubsec.clerk"))
    assert r.status_code == 422
    assert r.get_json()["message"] == "申请填写有误：每页条数 (limit)"
    assert r.get_json()["details"][0]["label"] == "每页条数 (limit)"
    r = client.get("/api/v1/tasks?limit=abc&lang=en", headers=auth("pubsec.clerk"))
    assert r.get_json()["message"] == "The request is not valid: tasks per page (limit)"


def test_unknown_query_parameters_are_named(client):
    r = client.get("/api/v1/tasks?scop=mine", headers=auth("pubsec.clerk"))
    assert r.status_code == 422 and "scop" in r.get_json()["details"][0]["message"]
    assert (
        client.get("/api/v1/tasks?scope=mine&lang=en", headers=auth("pubsec.clerk")).status_code
        == 200
    )


def test_a_body_that_is_not_json_is_refused(client):
    r = client.post(
        "/api/v1/grants/check",
        data=b"\xff\xfe not json",
        headers={**auth("civil.clerk"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "The request body" in r.get_json()["message"]


def test_wrong_methods_answer_405_with_allow(client):
    r = client.delete("/api/v1/tasks", headers=auth("civil.clerk"))
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    assert r.get_json()["message"]


def test_catalog_search_entry_and_dcat(client):
    body = client.get("/api/v1/catalog?q=变动类型", headers=auth("civil.clerk")).get_json()
    assert "JC-RK/0002" in [r["code"] for r in body["resources"]]
    entry = client.get("/api/v1/catalog/JC-RK/0002", headers=auth("civil.clerk")).get_json()
    # names in the reader's language: the server's (English in tests), or ?lang=
    assert entry["provider"] == "Public Security Department"
    assert entry["metadata"]["classification"] == "base"
    zh = client.get("/api/v1/catalog/JC-RK/0002?lang=zh_CN", headers=auth("civil.clerk"))
    assert zh.get_json()["provider"] == "自治区公安厅"
    assert client.get("/api/v1/catalog/XX/0001", headers=auth("civil.clerk")).status_code == 404
    dcat = client.get("/api/v1/catalog/dcat.json", headers=auth("civil.clerk")).get_json()
    assert dcat["@type"] == "dcat:Catalog" and len(dcat["dcat:dataset"]) >= 60


def test_verification_flag_and_served_on_proof_with_access_control(client, actors):
    from tests.test_verification import REPORT, granted

    assert (
        client.post("/api/v1/verifications", json=REPORT, headers=auth("civil.clerk")).status_code
        == 403
    )  # no grant yet
    granted(actors)
    r = client.post("/api/v1/verifications", json=REPORT, headers=auth("civil.clerk"))
    assert r.status_code == 201 and r.get_json()["business_key"].startswith("JY-")
    url = f"/api/v1/verifications?resource=JC-RK/0002&record={REPORT['record_id']}"
    body = client.get(url, headers=auth("civil.clerk")).get_json()
    assert body["under_verification"] is True
    assert "served as usual" in body["notice"]
    assert (
        client.get(url, headers=auth("pubsec.clerk")).get_json()["under_verification"] is True
    )  # the provider
    assert (
        client.get(url, headers=auth("health.clerk")).status_code == 403
    )  # no grant on the resource
    assert (
        client.get(
            "/api/v1/verifications?resource=JC-RK/0002", headers=auth("civil.clerk")
        ).status_code
        == 422
    )
    other = client.get(
        "/api/v1/verifications?resource=JC-RK/0002&record=someone-else", headers=auth("civil.clerk")
    ).get_json()
    assert other["under_verification"] is False
    vid = body["verifications"][0]["id"]
    assert (
        client.post(
            f"/api/v1/verifications/{vid}/served",
            json={"proof": "户口迁移证"},
            headers=auth("health.clerk"),
        ).status_code
        == 403
    )
    r = client.post(
        f"/api/v1/verifications/{vid}/served",
        json={"proof": "户口迁移证 NX-2026-0001", "service": "低保申请受理"},
        headers=auth("civil.clerk"),
    )
    assert r.status_code == 201
    r = client.post(
        f"/api/v1/verifications/{vid}/served", json={"proof": ""}, headers=auth("civil.clerk")
    )
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "proof"
