"""The web UI through Flask's test client: access control, CSRF, escaping, sessions, inbox actions."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from engine.workflow.models import Attachment, HumanTask, ProcessInstance
from tests.conftest import HUKOU
from web import create_app


@pytest.fixture
def app(db_url, session_factory, clock, tmp_path):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "ATTACHMENT_DIR": str(tmp_path / "files"),
            "SECRET_KEY": "t",
        }
    )


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


class Browser:
    def __init__(self, app, username):
        self.client = app.test_client()
        html = self.client.get("/login").get_data(as_text=True)
        r = self.client.post(
            "/login", data={"username": username, "password": "demo", "csrf_token": token_of(html)}
        )
        assert r.status_code == 302, r.get_data(as_text=True)

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, page=None, **kw):
        html = self.client.get(page or path).get_data(as_text=True)
        return self.client.post(path, data={**(data or {}), "csrf_token": token_of(html)}, **kw)


def test_sign_in_with_a_wrong_password_is_refused(app):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    r = client.post(
        "/login", data={"username": "civil.clerk", "password": "nope", "csrf_token": token_of(html)}
    )
    assert r.status_code == 200 and "用户名或密码错误" in r.get_data(as_text=True)
    assert client.get("/inbox/mine").status_code == 302


def test_another_departments_task_and_request_give_403(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    health = Browser(app, "health.clerk")
    assert health.get(f"/tasks/{task_id}").status_code == 403
    assert health.get(f"/requests/{key}").status_code == 403
    assert health.get(f"/requests/{key}/diagram.json").status_code == 403
    r = health.post(
        f"/tasks/{task_id}",
        {"review_decision": "refuse", "review_reason": "x" * 5},
        page="/inbox/mine",
    )
    assert r.status_code == 403
    # the requester sees the request but not the provider's task
    civil = Browser(app, "civil.clerk")
    assert civil.get(f"/requests/{key}").status_code == 200
    assert civil.get(f"/tasks/{task_id}").status_code == 403
    assert actors.run(lambda s: s.get(HumanTask, task_id).state) == "open"


def test_a_form_posted_without_its_csrf_token_is_refused(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    pubsec = Browser(app, "pubsec.clerk")
    r = pubsec.client.post(
        f"/tasks/{task_id}", data={"review_decision": "refuse", "review_reason": "超出职责范围"}
    )
    assert r.status_code == 400
    assert "安全令牌" in r.get_data(as_text=True)
    assert actors.run(lambda s: s.get(HumanTask, task_id).state) == "open"
    r = pubsec.client.post("/logout")
    assert r.status_code == 400


def test_script_in_a_purpose_renders_inert(app, actors):
    key = actors.request(
        "civil.clerk", **{**HUKOU, "purpose": "<script>alert('x')</script>核定低保"}
    )
    task_id = actors.open_task(key, "provider_review")
    for username, path in (
        ("civil.clerk", f"/requests/{key}"),
        ("pubsec.clerk", f"/tasks/{task_id}"),
        ("pubsec.clerk", "/inbox/queue"),
    ):
        html = Browser(app, username).get(path).get_data(as_text=True)
        assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in Browser(app, "pubsec.clerk").get(f"/tasks/{task_id}").get_data(
        as_text=True
    )


def test_an_idle_session_expires(app, clock):
    b = Browser(app, "civil.clerk")
    assert b.get("/inbox/mine").status_code == 200
    clock.advance(minutes=31)
    r = b.get("/inbox/mine")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_queue_bulk_claim_and_unclaim(app, actors):
    keys = [actors.request("civil.clerk", **HUKOU) for _ in range(3)]
    ids = [actors.open_task(k, "provider_review") for k in keys]
    pubsec = Browser(app, "pubsec.clerk")
    queue = pubsec.get("/inbox/queue").get_data(as_text=True)
    assert all(k in queue for k in keys)
    assert re.search(r"部门待签收<span class=\"count \">3</span>", queue)
    r = pubsec.post("/inbox/claim", {"task_id": [str(i) for i in ids[:2]]}, page="/inbox/queue")
    assert r.status_code == 302
    mine = pubsec.get("/inbox/mine").get_data(as_text=True)
    assert keys[0] in mine and keys[1] in mine and keys[2] not in mine
    lead = Browser(app, "pubsec.lead")
    r = lead.post("/inbox/claim", {"task_id": [str(ids[0]), str(ids[2])]}, page="/inbox/queue")
    follow = lead.get("/inbox/mine").get_data(as_text=True)
    assert (
        keys[2] in follow and "已由 自治区公安厅经办人 签收" in follow
    )  # flashed: the taken task names its holder
    pubsec.post(f"/tasks/{ids[0]}/unclaim", page=f"/tasks/{ids[0]}")
    assert actors.run(lambda s: s.get(HumanTask, ids[0]).assignee_id) is None


def test_leader_reassigns_within_the_department(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    clerk_id = actors.run(lambda s: actors.user(s, "pubsec.clerk").id)
    clerk = Browser(app, "pubsec.clerk")
    assert (
        clerk.post(
            f"/tasks/{task_id}/reassign", {"assignee_id": str(clerk_id)}, page=f"/tasks/{task_id}"
        ).status_code
        == 403
    )
    lead = Browser(app, "pubsec.lead")
    assert "在本部门内指派" in lead.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert (
        lead.post(
            f"/tasks/{task_id}/reassign", {"assignee_id": str(clerk_id)}, page=f"/tasks/{task_id}"
        ).status_code
        == 302
    )
    assert actors.run(lambda s: s.get(HumanTask, task_id).assignee_id) == clerk_id
    outsider = actors.run(lambda s: actors.user(s, "health.clerk").id)
    assert (
        lead.post(
            f"/tasks/{task_id}/reassign", {"assignee_id": str(outsider)}, page=f"/tasks/{task_id}"
        ).status_code
        == 403
    )


def test_attachments_have_size_and_type_limits_and_stay_with_the_parties(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    pubsec = Browser(app, "pubsec.clerk")
    form = {"review_decision": "refuse", "review_reason": "超出低保核定所需范围"}
    r = pubsec.post(
        f"/tasks/{task_id}",
        {**form, "attachments": (io.BytesIO(b"MZ..."), "tool.exe")},
        page=f"/tasks/{task_id}",
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "不接受 .exe 类型" in r.get_data(as_text=True)
    big = io.BytesIO(b"0" * (10 * 1024 * 1024 + 1))
    r = pubsec.post(
        f"/tasks/{task_id}",
        {**form, "attachments": (big, "scan.pdf")},
        page=f"/tasks/{task_id}",
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "超过 10 MB" in r.get_data(as_text=True)
    assert actors.run(lambda s: s.get(HumanTask, task_id).state) == "open"
    r = pubsec.post(
        f"/tasks/{task_id}",
        {**form, "attachments": (io.BytesIO(b"%PDF-1.7 reasons"), "说明.pdf")},
        page=f"/tasks/{task_id}",
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    att_id = actors.run(lambda s: s.scalar(select(Attachment.id)))
    civil = Browser(app, "civil.clerk")
    got = civil.get(f"/tasks/attachments/{att_id}")
    assert got.status_code == 200 and got.data == b"%PDF-1.7 reasons"
    assert Browser(app, "health.clerk").get(f"/tasks/attachments/{att_id}").status_code == 403


def test_task_form_errors_keep_values_and_name_fields(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    pubsec = Browser(app, "pubsec.clerk")
    r = pubsec.post(
        f"/tasks/{task_id}",
        {"review_decision": "approve", "granted_purpose": "核定低保"},
        page=f"/tasks/{task_id}",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "请更正" in html and "同意共享的信息项" in html
    assert 'value="approve" checked' in html and 'value="核定低保"' in html
    assert (
        actors.run(
            lambda s: s.scalar(
                select(func.count())
                .select_from(ProcessInstance)
                .where(ProcessInstance.status == "completed")
            )
        )
        == 0
    )


def test_inbox_filters_and_pages(app, actors):
    for _ in range(25):
        actors.request("civil.clerk", **HUKOU)
    actors.request("hrss.clerk", **HUKOU)
    pubsec = Browser(app, "pubsec.clerk")
    page1 = pubsec.get("/inbox/queue").get_data(as_text=True)
    assert "共 26 项" in page1 and "第 1 页，共 2 页" in page1
    hrss_id = actors.run(lambda s: actors.user(s, "hrss.clerk").department_id)
    filtered = pubsec.get(f"/inbox/queue?counterpart={hrss_id}").get_data(as_text=True)
    assert "共 1 项" in filtered and "自治区人力资源和社会保障厅" in filtered
    assert "共 1 项" in pubsec.get("/inbox/queue?key=000026").get_data(as_text=True)
    assert "共 0 项" in pubsec.get("/inbox/queue?due_to=2026-10-08").get_data(as_text=True)
    assert "共 26 项" in pubsec.get("/inbox/queue?due_from=2026-10-09&due_to=2026-10-09").get_data(
        as_text=True
    )


def test_overdue_inbox_and_colours(app, actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-10-08T09:00:00+08:00")
    pubsec = Browser(app, "pubsec.clerk")
    html = pubsec.get("/inbox/queue").get_data(as_text=True)
    assert "badge soon" in html and "剩余 1 个工作日" in html
    clock.set("2026-10-10T09:00:00+08:00")
    pubsec = Browser(app, "pubsec.clerk")
    html = pubsec.get("/inbox/overdue").get_data(as_text=True)
    assert key in html and "badge overdue" in html and '<span class="count late">1</span>' in html


def test_coordination_inbox_only_for_authorities(app):
    assert Browser(app, "civil.clerk").get("/inbox/coordination").status_code == 404
    assert Browser(app, "data.coord").get("/inbox/coordination").status_code == 200


def test_english_pages(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    civil = Browser(app, "civil.clerk")
    civil.client.set_cookie("lang", "en")
    html = civil.get(f"/requests/{key}").get_data(as_text=True)
    assert "Process diagram" in html and "Providing department" in html and "In progress" in html


def test_unknown_pages_give_a_clear_404(app):
    b = Browser(app, "civil.clerk")
    r = b.get("/requests/GX-2026-999999")
    assert r.status_code == 404 and "页面或记录不存在" in r.get_data(as_text=True)
    assert "javascript:" not in r.get_data(as_text=True)  # the CSP would block it
    # the Back button goes to the page the official came from (no script: the CSP allows none)
    back = b.get("/requests/GX-2026-999999", headers={"Referer": "http://localhost/requests/"})
    assert 'href="http://localhost/requests/">返回</a>' in back.get_data(as_text=True)


def test_a_refusal_does_not_carry_the_prefilled_grant_scope(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    pubsec = Browser(app, "pubsec.clerk")
    form = {
        "review_decision": "refuse",
        "review_reason": "超出职责范围",
        "granted_items": ["公民身份号码"],
        "granted_purpose": "核定低保",
    }
    assert pubsec.post(f"/tasks/{task_id}", form, page=f"/tasks/{task_id}").status_code == 302
    assert actors.run(lambda s: s.get(HumanTask, task_id).data) == {
        "review_decision": "refuse",
        "review_reason": "超出职责范围",
    }


def test_deadline_state_filter(app, actors, clock):
    first = actors.request("civil.clerk", **HUKOU)  # due 2026-10-09
    clock.set("2026-09-30T10:00:00+08:00")
    second = actors.request("civil.clerk", **HUKOU)  # due 2026-10-20
    clock.set("2026-10-08T10:00:00+08:00")
    pubsec = Browser(app, "pubsec.clerk")
    soon = pubsec.get("/inbox/queue?urgency=soon").get_data(as_text=True)
    assert f">{first}</a>" in soon and f">{second}</a>" not in soon
    normal = pubsec.get("/inbox/queue?urgency=normal").get_data(as_text=True)
    assert f">{second}</a>" in normal and f">{first}</a>" not in normal
    assert "共 0 项" in pubsec.get("/inbox/queue?urgency=overdue").get_data(as_text=True)


def test_claiming_a_task_someone_else_claimed_shows_a_409_page(app, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    clerk, lead = Browser(app, "pubsec.clerk"), Browser(app, "pubsec.lead")
    page = lead.get(f"/tasks/{task_id}").get_data(as_text=True)  # the leader opens the page first
    assert clerk.post(f"/tasks/{task_id}/claim", page=f"/tasks/{task_id}").status_code == 302
    r = lead.client.post(f"/tasks/{task_id}/claim", data={"csrf_token": token_of(page)})
    assert r.status_code == 409
    assert "已被他人抢先处理" in r.get_data(as_text=True) and "自治区公安厅经办人" in r.get_data(
        as_text=True
    )


def test_the_calendar_gap_notice_tells_officials_whom_to_ask_and_administrators_how(app, clock):
    clock.set("2031-03-02T09:00:00+08:00")  # no Ningxia notice is entered for 2031
    coordinator = Browser(app, "data.coord").get("/inbox/mine").get_data(as_text=True)
    assert "宁夏 2031 年的地区性节假日" in coordinator and "请联系系统管理员" in coordinator
    assert "govshare calendar add" not in coordinator  # no command line for officials
    admin = Browser(app, "data.admin").get("/inbox/mine").get_data(as_text=True)
    assert "govshare calendar add" in admin
    clerk = Browser(app, "civil.clerk").get("/inbox/mine").get_data(as_text=True)
    assert 'id="calendar-gap"' not in clerk  # departments see only the marks on deadlines


def test_the_site_icon_is_served_to_anyone(app):
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert b"<svg" in icon.data
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)
