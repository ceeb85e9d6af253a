"""Department systems (issue 14, item 6): registered clients call /api/v1 with scoped tokens that
are shown once, stored hashed, expire, rotate, are revoked and keep their last use; a system on the
extranet is refused resources shared only over the internal network."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.catalog.entry import NETWORKS
from engine.cli import main
from engine.clock import SHANGHAI
from engine.directory import clients
from engine.directory import user_by_name as user
from engine.directory.client_models import ApiClient, ApiClientToken
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.oversight.models import Breach
from tests.conftest import HUKOU, NOT_SHARED
from tests.test_api import client as api  # noqa: F401  (the API test client fixture)

ALL = list(clients.SCOPES)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _client(session_factory, clock, slug="civil", network="extranet", name="低保审核系统二期"):
    with session_factory() as s, s.begin():
        return clients.create_client(
            s,
            clock,
            user(s, "data.admin"),
            {"department": slug, "name": name, "network": network, "contact": "张工 0951-1234567"},
        ).id


def _token(session_factory, clock, client_id, scopes=ALL, expires_on=None):
    with session_factory() as s, s.begin():
        return clients.issue_token(
            s, clock, user(s, "data.admin"), client_id, scopes, expires_on
        ).secret


def _request(api, clerk="civil.clerk"):  # noqa: F811
    r = api.post("/api/v1/requests", json=HUKOU, headers=bearer(f"demo-{clerk}"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["business_key"]


def test_the_catalogs_networks_are_the_ones_clients_sit_on():
    assert clients.NETWORKS == NETWORKS


def test_a_demo_client_acts_for_its_department(api):  # noqa: F811
    key = _request(api)
    r = api.get(f"/api/v1/requests/{key}", headers=bearer("demo-client-civil"))
    assert r.status_code == 200 and r.get_json()["business_key"] == key
    # the requester's system sees the request; another department's system does not
    other = api.get(f"/api/v1/requests/{key}", headers=bearer("demo-client-pubsec"))
    assert other.status_code == 200  # pubsec provides JC-RK/0002: it is a party
    r = api.post(
        "/api/v1/grants/check",
        json={
            "resource_code": "JC-RK/0002",
            "info_items": ["公民身份号码"],
            "purpose": "核定城乡低保对象户籍状况",
            "scenario": "YYCJ006",
        },
        headers=bearer("demo-client-civil"),
    )
    assert r.status_code == 200 and r.get_json()["allowed"] is False


def test_each_endpoint_needs_its_scope(api, session_factory, clock):  # noqa: F811
    key = _request(api)
    client_id = _client(session_factory, clock)
    only_catalog = bearer(_token(session_factory, clock, client_id, ["catalog:read"]))
    assert api.get("/api/v1/catalog", headers=only_catalog).status_code == 200
    assert api.get("/api/v1/catalog/JC-RK/0002", headers=only_catalog).status_code == 200
    assert api.get("/api/v1/catalog/dcat.json", headers=only_catalog).status_code == 200
    refused = {
        ("GET", f"/api/v1/requests/{key}", None): "requests:status",
        (
            "POST",
            "/api/v1/grants/check",
            (
                ("resource_code", "JC-RK/0002"),
                ("info_items", ("公民身份号码",)),
                ("purpose", "核定低保"),
                ("scenario", "YYCJ006"),
            ),
        ): "grants:check",
        ("GET", "/api/v1/verifications?resource=JC-RK/0002&record=1", None): "verification:flags",
    }
    for (method, path, body), scope in refused.items():
        json = {k: list(v) if isinstance(v, tuple) else v for k, v in body} if body else None
        r = api.open(path, method=method, json=json, headers=only_catalog)
        assert r.status_code == 403, (path, r.get_json())
        assert scope in r.get_json()["message"]
    # officials' own operations are not for department systems at all
    for method, path in (("GET", "/api/v1/tasks"), ("GET", "/api/v1/notifications")):
        r = api.open(path, method=method, headers=only_catalog)
        assert r.status_code == 403 and "official's own API token" in r.get_json()["message"]
    r = api.post("/api/v1/requests", json=HUKOU, headers=only_catalog)
    assert r.status_code == 403
    # a token with every scope passes them all
    every = bearer(_token(session_factory, clock, client_id))
    assert api.get(f"/api/v1/requests/{key}", headers=every).status_code == 200
    r = api.get("/api/v1/verifications?resource=JC-FR/0002&record=1", headers=every)
    assert r.status_code == 200  # civil provides JC-FR/0002


def test_an_extranet_system_is_refused_internal_network_resources(
    api,  # noqa: F811
    session_factory,
    clock,
):
    civil = bearer("demo-client-civil")  # on the extranet
    r = api.get("/api/v1/catalog/BM-GA/0003", headers=civil)
    assert r.status_code == 403
    message = r.get_json()["message"]
    assert "BM-GA/0003" in message and "only over the e-government internal network" in message
    r = api.post(
        "/api/v1/grants/check",
        json={
            "resource_code": "BM-SJ/0001",
            "info_items": ["整改事项"],
            "purpose": "核查整改情况",
            "scenario": "YYCJ011",
        },
        headers=civil,
    )
    assert r.status_code == 403 and "internal network" in r.get_json()["message"]
    with session_factory() as s:  # refused before the check: no breach is recorded
        assert s.scalar(select(func.count()).select_from(Breach)) == 0
    r = api.get("/api/v1/verifications?resource=BM-SJ/0001&record=1", headers=civil)
    assert r.status_code == 403 and "internal network" in r.get_json()["message"]
    # the search lists extranet resources only, and refuses to list internal ones
    r = api.get("/api/v1/catalog?q=审计整改", headers=civil)
    assert r.status_code == 200 and r.get_json()["total"] == 0
    assert {x["network"] for x in api.get("/api/v1/catalog", headers=civil).json["resources"]} == {
        "extranet"
    }
    assert api.get("/api/v1/catalog?network=internal", headers=civil).status_code == 403
    dcat = api.get("/api/v1/catalog/dcat.json", headers=civil).get_json()
    assert "BM-GA/0003" not in str(dcat)
    # the status of the department's own request for an internal-network resource
    r = api.post("/api/v1/requests", json=NOT_SHARED, headers=bearer("demo-civil.clerk"))
    key = r.get_json()["business_key"]
    r = api.get(f"/api/v1/requests/{key}", headers=civil)
    assert r.status_code == 403 and "BM-GA/0003" in r.get_json()["message"]
    assert (
        api.get(f"/api/v1/requests/{key}", headers=bearer("demo-client-pubsec")).status_code == 200
    )
    # a system on the internal network reads it
    pubsec = bearer("demo-client-pubsec")
    assert api.get("/api/v1/catalog/BM-GA/0003", headers=pubsec).status_code == 200
    assert api.get("/api/v1/catalog?q=审计整改", headers=pubsec).get_json()["total"] == 1
    # an official's own token is not a system on a network
    assert (
        api.get("/api/v1/catalog/BM-GA/0003", headers=bearer("demo-civil.clerk")).status_code == 200
    )


def test_a_token_expires(api, session_factory, clock):  # noqa: F811
    client_id = _client(session_factory, clock)
    secret = _token(session_factory, clock, client_id, expires_on="2026-09-19")  # today + 1
    assert api.get("/api/v1/catalog", headers=bearer(secret)).status_code == 200
    clock.advance(days=1, hours=13)  # 2026-09-19 23:00 Beijing time: the last day still works
    assert api.get("/api/v1/catalog", headers=bearer(secret)).status_code == 200
    clock.advance(hours=1)
    r = api.get("/api/v1/catalog", headers=bearer(secret))
    assert r.status_code == 401
    assert r.get_json()["message"] == "The API token expired on 2026-09-20 00:00."


def test_default_and_longest_expiry(session_factory, clock):
    client_id = _client(session_factory, clock)
    with session_factory() as s, s.begin():
        issued = clients.issue_token(s, clock, None, client_id, ["catalog:read"])
        # 90 days: valid through 2026-12-17, ends at midnight Beijing time
        assert issued.token.expires_at == datetime(2026, 12, 18, tzinfo=SHANGHAI)
        clients.issue_token(s, clock, None, client_id, ["catalog:read"], "2027-09-18")
    with session_factory() as s, pytest.raises(ValidationFailed) as err:
        clients.issue_token(s, clock, None, client_id, ["catalog:read"], "2027-09-19")
    assert err.value.details[0]["field"] == "expires_on"
    with session_factory() as s, pytest.raises(ValidationFailed) as err:
        clients.issue_token(s, clock, None, client_id, ["root"], "2026-13-01")
    assert {d["field"] for d in err.value.details} == {"scopes", "expires_on"}
    assert str(err.value.message).startswith("The token cannot be issued")


def test_rotation_keeps_the_old_token_for_a_day(api, session_factory, clock):  # noqa: F811
    client_id = _client(session_factory, clock)
    old = _token(session_factory, clock, client_id, ["catalog:read", "grants:check"])
    with session_factory() as s, s.begin():
        old_id = clients.client_detail(s, clock, None, client_id).tokens[0].id
        new = clients.rotate_token(s, clock, user(s, "data.admin"), client_id, old_id)
    assert new.token.scopes == ("catalog:read", "grants:check")
    assert new.token.rotated_from_id == old_id and new.secret != old
    clock.advance(hours=23)
    assert api.get("/api/v1/catalog", headers=bearer(old)).status_code == 200
    assert api.get("/api/v1/catalog", headers=bearer(new.secret)).status_code == 200
    clock.advance(hours=1)
    r = api.get("/api/v1/catalog", headers=bearer(old))
    assert r.status_code == 401 and "expired" in r.get_json()["message"]
    assert api.get("/api/v1/catalog", headers=bearer(new.secret)).status_code == 200
    with session_factory() as s, pytest.raises(Conflict):  # rotated once, ended: not again
        clients.rotate_token(s, clock, None, client_id, old_id)


def test_revocation_ends_a_token_at_once(api, session_factory, clock):  # noqa: F811
    client_id = _client(session_factory, clock)
    secret = _token(session_factory, clock, client_id)
    assert api.get("/api/v1/catalog", headers=bearer(secret)).status_code == 200
    with session_factory() as s, s.begin():
        token_id = clients.client_detail(s, clock, None, client_id).tokens[0].id
        info = clients.revoke_token(s, clock, user(s, "data.admin"), client_id, token_id)
    assert info.state == "revoked"
    r = api.get("/api/v1/catalog", headers=bearer(secret))
    assert r.status_code == 401
    assert r.get_json()["message"] == "The API token was revoked on 2026-09-18 10:00."
    with session_factory() as s, pytest.raises(Conflict):
        clients.revoke_token(s, clock, None, client_id, token_id)


def test_a_deactivated_system_is_refused(api, session_factory, clock):  # noqa: F811
    client_id = _client(session_factory, clock)
    secret = _token(session_factory, clock, client_id)
    with session_factory() as s, s.begin():
        clients.set_active(s, clock, None, client_id, False)
    r = api.get("/api/v1/catalog", headers=bearer(secret))
    assert r.status_code == 401 and "is deactivated" in r.get_json()["message"]
    with session_factory() as s, pytest.raises(Conflict):
        clients.issue_token(s, clock, None, client_id, ["catalog:read"])
    with session_factory() as s, s.begin():
        clients.set_active(s, clock, None, client_id, True)
    assert api.get("/api/v1/catalog", headers=bearer(secret)).status_code == 200


def test_last_use_is_kept_to_the_minute(api, session_factory, clock):  # noqa: F811
    client_id = _client(session_factory, clock)
    secret = _token(session_factory, clock, client_id)

    def last_use():
        with session_factory() as s:
            return clients.client_detail(s, clock, None, client_id).tokens[0].last_used_at

    assert last_use() is None
    api.get("/api/v1/catalog", headers=bearer(secret))
    first = clock.now()
    assert last_use() == first
    clock.advance(seconds=30)
    api.get("/api/v1/catalog", headers=bearer(secret))
    assert last_use() == first  # not rewritten on every call
    clock.advance(seconds=31)
    api.get("/api/v1/catalog", headers=bearer(secret))
    assert last_use() == clock.now()
    with session_factory() as s:  # audited once in the hour
        used = s.scalars(select(AuditEvent).where(AuditEvent.kind == "api_client_token_used"))
        assert len(used.all()) == 1


def test_the_token_is_shown_once_and_stored_hashed(session_factory, clock):
    client_id = _client(session_factory, clock)
    secret = _token(session_factory, clock, client_id)
    assert secret.startswith("gsc_") and len(secret) > 40
    with session_factory() as s:
        row = s.scalar(select(ApiClientToken).where(ApiClientToken.client_id == client_id))
        assert row.token_sha256 == hashlib.sha256(secret.encode()).hexdigest()
        stored = [str(getattr(row, c.key)) for c in ApiClientToken.__table__.columns]
        assert not any(secret in value for value in stored)
        detail = clients.client_detail(s, clock, None, client_id)
        assert secret not in repr(detail)  # no later read returns it
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "api_client").order_by(AuditEvent.id)
        )
        assert secret not in repr([e.detail for e in events])


def test_every_administration_action_is_audited(session_factory, clock):
    client_id = _client(session_factory, clock)
    _token(session_factory, clock, client_id)
    with session_factory() as s, s.begin():
        admin = user(s, "data.admin")
        token_id = clients.client_detail(s, clock, admin, client_id).tokens[0].id
        new = clients.rotate_token(s, clock, admin, client_id, token_id)
        clients.revoke_token(s, clock, admin, client_id, new.token.id)
        clients.set_active(s, clock, admin, client_id, False)
    with session_factory() as s:
        kinds = s.scalars(
            select(AuditEvent.kind)
            .where(AuditEvent.object_type == "api_client")
            .order_by(AuditEvent.id)
        ).all()
        assert kinds == [
            "api_client_created",
            "api_client_token_issued",
            "api_client_token_rotated",
            "api_client_token_revoked",
            "api_client_deactivated",
        ]


def test_registration_names_each_bad_field_and_stores_nothing(session_factory, clock):
    with session_factory() as s, pytest.raises(ValidationFailed) as err:
        clients.create_client(
            s, clock, None, {"department": "nowhere", "name": " ", "network": "internet"}
        )
    assert {d["field"] for d in err.value.details} == {"department", "name", "network"}
    _client(session_factory, clock)
    with pytest.raises(Conflict):
        _client(session_factory, clock)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ApiClient)) == 3  # two demo + one


def test_a_level_administrator_manages_only_the_systems_of_their_level(session_factory, clock):
    region_client = _client(session_factory, clock)
    with session_factory() as s, s.begin():
        ladmin = user(s, "yinchuan-data.admin")
        city = clients.create_client(
            s,
            clock,
            ladmin,
            {"department": "yinchuan-civil", "name": "救助系统", "network": "extranet"},
        )
        listed = clients.list_clients(s, clock, ladmin).rows
        assert [c.id for c in listed] == [city.id]
        assert {d.slug for d in clients.departments_for(s, ladmin)} >= {"yinchuan-civil"}
        assert "civil" not in {d.slug for d in clients.departments_for(s, ladmin)}
    with session_factory() as s:
        ladmin = user(s, "yinchuan-data.admin")
        for refused in (
            lambda: clients.create_client(
                s, clock, ladmin, {"department": "civil", "name": "x", "network": "extranet"}
            ),
            lambda: clients.client_detail(s, clock, ladmin, region_client),
            lambda: clients.issue_token(s, clock, ladmin, region_client, ["catalog:read"]),
            lambda: clients.set_active(s, clock, ladmin, region_client, False),
            lambda: clients.list_clients(s, clock, user(s, "civil.clerk")),
        ):
            with pytest.raises(Forbidden):
                refused()


def test_the_openapi_document_names_each_operations_scope(api):  # noqa: F811
    doc = api.get("/api/v1/openapi.json").get_json()
    assert doc["paths"]["/api/v1/catalog"]["get"]["security"] == [{"token": ["catalog:read"]}]
    assert doc["paths"]["/api/v1/grants/check"]["post"]["security"] == [{"token": ["grants:check"]}]
    assert doc["paths"]["/api/v1/tasks"]["get"]["security"] == [{"token": []}]
    assert "verification:flags" in doc["components"]["securitySchemes"]["token"]["description"]


def test_the_cli_registers_a_system_and_issues_a_token(session_factory, db_url, capsys):
    cli = ["--database", db_url, "--now", "2026-09-18T10:00:00+08:00", "clients"]
    main([*cli, "add", "civil", "CLI系统", "--network", "internal"])
    out = capsys.readouterr().out
    with session_factory() as s:
        client_id = s.scalar(select(ApiClient.id).where(ApiClient.name == "CLI系统"))
    assert f"Registered department system {client_id}" in out
    main([*cli, "token", str(client_id), "--scope", "catalog:read"])
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("gsc_")
    main([*cli, "list"])
    assert "CLI系统" in capsys.readouterr().out
    main([*cli, "show", str(client_id)])
    shown = capsys.readouterr().out
    assert "catalog:read (Read the catalog)" in shown and secret not in shown
    with pytest.raises(SystemExit):
        main([*cli, "token", str(client_id), "--scope", "nope"])
    assert "Scopes" in capsys.readouterr().err


def test_two_administrators_revoking_at_once_one_wins_the_other_is_told(session_factory, clock):
    import threading

    client_id = _client(session_factory, clock)
    _token(session_factory, clock, client_id)
    with session_factory() as s:
        token_id = clients.client_detail(s, clock, None, client_id).tokens[0].id
    outcome = {}
    first = session_factory()
    first.begin()
    clients.revoke_token(first, clock, user(first, "data.admin"), client_id, token_id)

    def second():
        with session_factory() as s:
            try:
                with s.begin():
                    clients.revoke_token(s, clock, user(s, "data.admin"), client_id, token_id)
                outcome["second"] = "revoked"
            except Conflict as err:
                outcome["second"] = str(err.message)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive()  # it waits for the first
    first.commit()
    first.close()
    thread.join(10)
    assert outcome["second"] == f"Token {token_id} is already revoked."
    with session_factory() as s:
        revoked = s.scalars(
            select(AuditEvent).where(AuditEvent.kind == "api_client_token_revoked")
        ).all()
        assert len(revoked) == 1


def test_the_list_is_paged_newest_first(session_factory, clock):
    with session_factory() as s, s.begin():
        for i in range(55):
            clients.create_client(
                s, clock, None, {"department": "civil", "name": f"系统{i}", "network": "extranet"}
            )
    with session_factory() as s:
        first = clients.list_clients(s, clock, None)
        assert len(first.rows) == 50 and first.rows[0].name == "系统54"
        second = clients.list_clients(s, clock, None, after=first.next_after)
        assert len(second.rows) == 7 and second.next_after is None  # with the two demo systems
        assert {c.id for c in first.rows}.isdisjoint({c.id for c in second.rows})
