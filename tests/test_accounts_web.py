"""The account pages (/admin/accounts) and the leave-cover pages (/account/cover) through the
web app: administrators use them, officials and level administrators outside their scope are
refused, a reset password forces a change before anything else, the banner tells the deputy."""

from __future__ import annotations

import io
import re

import pytest

from engine.directory import user_by_name
from engine.workflow import tasks as task_service
from tests.accounts_fixtures import restore_accounts  # noqa: F401 - a fixture
from tests.conftest import HUKOU
from tests.test_web import Browser, app, token_of  # noqa: F401

pytestmark = pytest.mark.usefixtures("restore_accounts")


def _password_of(html: str) -> str:
    return re.search(r'id="temporary-password"><code>([^<]+)</code>', html).group(1)


def test_an_administrator_creates_re_roles_and_deactivates_an_account(app, actors, clock):  # noqa: F811
    admin = Browser(app, "data.admin")
    r = admin.get("/admin/accounts/?department=pubsec")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "pubsec.clerk" in html and "civil.clerk" not in html
    r = admin.post(
        "/admin/accounts/new",
        {
            "username": "pubsec.wang",
            "display_name": "王警官",
            "display_name_en": "Officer Wang",
            "department": "pubsec",
            "roles": ["official"],
            "email": "wang@pubsec.example.gov.cn",
        },
    )
    assert r.status_code == 200
    password = _password_of(r.get_data(as_text=True))
    assert actors.run(lambda s: _email_of(s, "pubsec.wang")) == "wang@pubsec.example.gov.cn"
    r = admin.post(
        "/admin/accounts/pubsec.wang/roles",
        {"roles": ["official", "leader"]},
        page="/admin/accounts/pubsec.wang",
    )
    assert r.status_code == 302
    assert actors.run(lambda s: user_by_name(s, "pubsec.wang").job_roles) == ["official", "leader"]
    # the new official must choose a password first
    wang = app.test_client()
    html = wang.get("/login").get_data(as_text=True)
    wang.post(
        "/login",
        data={"username": "pubsec.wang", "password": password, "csrf_token": token_of(html)},
    )
    r = wang.get("/inbox/mine")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
    # a claimed task goes back to the queue when the account is deactivated
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.wang")))
    r = admin.post("/admin/accounts/pubsec.wang/deactivate", page="/admin/accounts/pubsec.wang")
    assert r.status_code == 302
    assert actors.run(lambda s: task_service.task_by_id(s, task_id).assignee_id) is None
    assert wang.get("/inbox/mine").status_code == 302  # signed out


def test_bad_fields_are_refused_by_label_with_422(app):  # noqa: F811
    admin = Browser(app, "data.admin")
    admin.client.set_cookie("lang", "en")
    r = admin.post(
        "/admin/accounts/new",
        {"username": "", "display_name": "", "department": "nowhere", "email": "not-an-address"},
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "User name" in html and "Department" in html
    assert "E-mail address" in html
    r = admin.post(
        "/admin/accounts/pubsec.clerk/roles",
        {"roles": ["official", "level_admin"]},
        page="/admin/accounts/pubsec.clerk",
    )
    assert r.status_code == 422 and "data-sharing authority" in r.get_data(as_text=True)


def test_a_reset_password_must_be_changed_before_anything_else(app, actors):  # noqa: F811
    admin = Browser(app, "data.admin")
    r = admin.post("/admin/accounts/civil.clerk/reset-password", page="/admin/accounts/civil.clerk")
    password = _password_of(r.get_data(as_text=True))
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={"username": "civil.clerk", "password": password, "csrf_token": token_of(html)},
    )
    for path in ("/inbox/mine", "/catalog/", "/admin/accounts/"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
    html = client.get("/account/password").get_data(as_text=True)
    r = client.post(
        "/account/password",
        data={
            "current_password": password,
            "new_password": "my own long secret",
            "repeat_password": "my own long secret",
            "csrf_token": token_of(html),
        },
    )
    assert r.status_code == 302
    assert client.get("/inbox/mine").status_code == 200


def test_officials_and_level_administrators_outside_their_scope_are_refused(app):  # noqa: F811
    clerk = Browser(app, "civil.clerk")
    assert clerk.get("/admin/accounts/").status_code == 403
    assert clerk.get("/admin/accounts/pubsec.clerk").status_code == 403
    r = clerk.post("/admin/accounts/pubsec.clerk/deactivate", page="/inbox/mine")
    assert r.status_code == 403
    level = Browser(app, "yinchuan-data.admin")
    level.client.set_cookie("lang", "en")
    assert level.get("/admin/accounts/").status_code == 200
    assert level.get("/admin/accounts/pubsec.clerk").status_code == 403
    r = level.post("/admin/accounts/pubsec.clerk/reset-password", page="/admin/accounts/")
    assert r.status_code == 403
    assert "System administrator" not in level.get("/admin/accounts/new").get_data(as_text=True)


def test_import_dry_run_then_apply(app, actors):  # noqa: F811
    admin = Browser(app, "data.admin")
    admin.client.set_cookie("lang", "en")
    csv = "username,display_name,display_name_en,department,roles\npubsec.li,李,Li,pubsec,\n"

    def upload(apply, text=csv):
        return admin.post(
            "/admin/accounts/import",
            {"apply": apply, "file": (io.BytesIO(text.encode()), "users.csv")},
            content_type="multipart/form-data",
        )

    r = upload("0")
    assert r.status_code == 200 and "pubsec.li" in r.get_data(as_text=True)
    assert actors.run(lambda s: s.scalar(_exists("pubsec.li"))) is None
    r = upload("1", csv + "pubsec.zhao,,Zhao,pubsec,\n")
    assert r.status_code == 422 and "Name (Chinese)" in r.get_data(as_text=True)
    assert actors.run(lambda s: s.scalar(_exists("pubsec.li"))) is None
    r = upload("1")
    assert r.status_code == 200 and "<code>" in r.get_data(as_text=True)
    assert actors.run(lambda s: s.scalar(_exists("pubsec.li"))) is not None


def _email_of(s, username):
    from notifications.models import NotificationPreference

    user = user_by_name(s, username)
    return s.get(NotificationPreference, user.id).email_address


def _exists(username):
    from sqlalchemy import select

    from engine.directory.models import User

    return select(User.id).where(User.username == username)


def test_leave_cover_page_banner_and_on_behalf_of(app, actors, clock):  # noqa: F811
    clerk = Browser(app, "pubsec.clerk")
    r = clerk.post(
        "/account/cover/",
        {"deputy": "pubsec.lead", "from": "2026-09-18", "until": "2026-09-25"},
        page="/account/cover/",
    )
    assert r.status_code == 302
    html = clerk.get("/account/cover/").get_data(as_text=True)
    assert 'id="covered-banner"' in html and "2026-09-25" in html
    lead = Browser(app, "pubsec.lead")
    lead.client.set_cookie("lang", "en")
    html = lead.get("/inbox/mine").get_data(as_text=True)
    assert 'id="cover-banner"' in html and "2026-09-25" in html
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk")))
    assert f"/tasks/{task_id}" in lead.get("/inbox/mine").get_data(as_text=True)
    html = lead.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'id="acting-for"' in html and 'name="review_decision"' in html
    r = lead.post(
        f"/tasks/{task_id}",
        {
            "review_decision": "approve",
            "granted_items": ["公民身份号码", "变动类型"],
            "granted_period_start": "2026-10-01",
            "granted_period_end": "2027-09-30",
            "granted_purpose": "核定城乡低保对象户籍状况",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    html = lead.get(f"/requests/{key}").get_data(as_text=True)
    assert "on behalf of" in html
    # bad dates are refused naming the field
    r = clerk.post(
        "/account/cover/",
        {"deputy": "pubsec.lead", "from": "2026-13-01", "until": "soon"},
        page="/account/cover/",
    )
    assert r.status_code == 422
