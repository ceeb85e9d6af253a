"""部门系统 on the web: an administrator registers a department's system, sees its new token once,
rotates and revokes it; officials and administrators of another level are refused."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.directory.client_models import ApiClient
from tests.test_web import Browser, app  # noqa: F401


def _register(admin, department_id, name="低保审核系统二期", network="extranet"):
    return admin.post(
        "/admin/clients/",
        {"department": str(department_id), "name": name, "network": network, "contact": "张工"},
    )


def _department_id(session_factory, slug):
    from engine.directory.models import Department

    with session_factory() as s:
        return s.scalar(select(Department.id).where(Department.slug == slug))


def test_an_administrator_registers_a_system_and_sees_its_token_once(app, session_factory):  # noqa: F811
    admin = Browser(app, "data.admin")
    assert "部门系统" in admin.get("/admin/").get_data(as_text=True)
    r = _register(admin, _department_id(session_factory, "civil"))
    assert r.status_code == 302
    page = r.headers["Location"]
    html = admin.get(page).get_data(as_text=True)
    assert "低保审核系统二期" in html and "政务外网" in html
    r = admin.post(
        f"{page}/tokens", {"scopes": ["catalog:read", "grants:check"], "expires_on": ""}, page=page
    )
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    issued = r.get_data(as_text=True)
    secret = re.search(r'value="(gsc_[^"]+)"', issued).group(1)
    assert "读取目录" in issued and "核验使用是否在授权范围内" in issued
    # the token works, and is never shown again
    api = app.test_client()
    assert (
        api.get("/api/v1/catalog", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    again = admin.get(page).get_data(as_text=True)
    assert secret not in again and "从未使用" not in again  # last use is shown
    token_id = re.search(r"/tokens/(\d+)/revoke", again).group(1)
    r = admin.post(f"{page}/tokens/{token_id}/revoke", page=page)
    assert r.status_code == 302
    assert "已吊销" in admin.get(page).get_data(as_text=True)
    r = api.get("/api/v1/catalog", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401


def test_rotation_shows_the_new_token_and_keeps_the_old_one_for_a_day(app, session_factory):  # noqa: F811
    admin = Browser(app, "data.admin")
    page = _register(admin, _department_id(session_factory, "civil")).headers["Location"]
    first = admin.post(f"{page}/tokens", {"scopes": ["catalog:read"]}, page=page).get_data(
        as_text=True
    )
    old = re.search(r'value="(gsc_[^"]+)"', first).group(1)
    token_id = re.search(r"/tokens/(\d+)/rotate", admin.get(page).get_data(as_text=True)).group(1)
    r = admin.post(f"{page}/tokens/{token_id}/rotate", page=page)
    new = re.search(r'value="(gsc_[^"]+)"', r.get_data(as_text=True)).group(1)
    assert new != old and "24" in r.get_data(as_text=True)
    api = app.test_client()
    for secret in (old, new):
        assert (
            api.get("/api/v1/catalog", headers={"Authorization": f"Bearer {secret}"}).status_code
            == 200
        )


def test_bad_input_names_the_fields_and_stores_nothing(app, session_factory):  # noqa: F811
    admin = Browser(app, "data.admin")
    r = admin.post("/admin/clients/", {"department": "", "name": "", "network": "internet"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "部门" in html and "系统名称" in html and "网络" in html
    page = _register(admin, _department_id(session_factory, "civil")).headers["Location"]
    r = _register(admin, _department_id(session_factory, "civil"))
    assert r.status_code == 409 and "已有名为" in r.get_data(as_text=True)
    r = admin.post(f"{page}/tokens", {"expires_on": "2030-01-01"}, page=page)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "权限范围" in html and "最后有效日" in html
    assert "gsc_" not in html
    with session_factory() as s:
        assert len(s.scalars(select(ApiClient)).all()) == 3  # two demo systems and this one


def test_officials_and_other_levels_are_refused(app, session_factory):  # noqa: F811
    admin = Browser(app, "data.admin")
    page = _register(admin, _department_id(session_factory, "civil")).headers["Location"]
    clerk = Browser(app, "civil.clerk")
    assert clerk.get("/admin/clients/").status_code == 403
    assert clerk.get(page).status_code == 403
    assert (
        clerk.post(f"{page}/tokens", {"scopes": ["catalog:read"]}, page="/inbox/mine").status_code
        == 403
    )
    ladmin = Browser(app, "yinchuan-data.admin")
    listing = ladmin.get("/admin/clients/").get_data(as_text=True)
    assert "低保审核系统二期" not in listing
    assert ladmin.get(page).status_code == 403
    r = ladmin.post(f"{page}/tokens", {"scopes": ["catalog:read"]}, page="/admin/clients/")
    assert r.status_code == 403
    r = _register(ladmin, _department_id(session_factory, "civil"))
    assert r.status_code == 403
    assert _register(ladmin, _department_id(session_factory, "yinchuan-civil")).status_code == 302
