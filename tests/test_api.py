"""/api/v1 as a department system uses it."""

from __future__ import annotations

import pytest

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
    assert tasks[0]["form_schema"]["$id"] == "govshare:forms/provider_review"
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
        and "already completed by 自治区公安厅经办人" in r.get_json()["message"]
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


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and "/api/v1/requests" in doc["paths"]


def test_catalog_search_entry_and_dcat(client):
    body = client.get("/api/v1/catalog?q=变动类型", headers=auth("civil.clerk")).get_json()
    assert "JC-RK/0002" in [r["code"] for r in body["resources"]]
    entry = client.get("/api/v1/catalog/JC-RK/0002", headers=auth("civil.clerk")).get_json()
    assert entry["provider"] == "自治区公安厅" and entry["metadata"]["classification"] == "base"
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
