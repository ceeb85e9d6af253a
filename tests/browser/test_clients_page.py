"""部门系统: an administrator registers a department's system, copies its new token (shown once)
and revokes it; an official and an administrator of another level are refused (issue 14)."""

from __future__ import annotations

import re

TEXT = {
    "zh_CN": {
        "nav": "部门系统",
        "department": "自治区民政厅",
        "extranet": "政务外网",
        "register": "登记",
        "scope": "读取目录",
        "issue": "签发令牌",
        "copy": "复制令牌",
        "copied": "已复制",
        "back": "返回该系统",
        "revoke": "吊销",
        "revoked": "已吊销",
        "never": "从未使用",
    },
    "en": {
        "nav": "Department systems",
        "department": "Department of Civil Affairs",
        "extranet": "E-government extranet",
        "register": "Register",
        "scope": "Read the catalog",
        "issue": "Issue the token",
        "copy": "Copy the token",
        "copied": "Copied",
        "back": "Back to the system",
        "revoke": "Revoke",
        "revoked": "Revoked",
        "never": "never used",
    },
}


def test_an_administrator_registers_a_system_copies_its_token_once_and_revokes_it(official):
    for lang, text in TEXT.items():
        admin = official("data.admin", lang)
        page = admin.go("/admin/")
        page.get_by_role("link", name=text["nav"]).click()
        admin.shot("clients")
        page.select_option("#f-department", label=text["department"])
        page.fill("#f-name", f"低保审核系统 {lang}")
        page.get_by_label(text["extranet"]).check()
        page.fill("#f-contact", "张工 0951-1234567")
        page.get_by_role("button", name=text["register"], exact=True).click()
        assert f"低保审核系统 {lang}" in page.inner_text("h1")
        page.get_by_label(text["scope"]).check()
        page.get_by_role("button", name=text["issue"]).click()
        secret = page.input_value("#token")
        assert re.fullmatch(r"gsc_[A-Za-z0-9_-]{40,}", secret)
        page.get_by_role("button", name=text["copy"]).click()
        page.get_by_role("button", name=text["copied"]).wait_for()
        admin.shot("client-token")
        page.get_by_role("link", name=text["back"]).click()
        assert secret not in page.content()  # shown once only
        assert text["never"] in page.inner_text("main")
        admin.shot("client")
        page.get_by_role("button", name=text["revoke"]).click()
        assert text["revoked"] in page.inner_text("main")


def test_officials_and_other_levels_are_refused(official, session_factory, clock):
    from engine.directory import clients
    from engine.directory import user_by_name as user

    with session_factory() as s, s.begin():
        region = clients.create_client(
            s,
            clock,
            user(s, "data.admin"),
            {"department": "civil", "name": "区级系统", "network": "internal"},
        ).id
    clerk = official("civil.clerk", "en")
    page = clerk.go("/admin/clients/")
    assert "Department systems" not in page.inner_text("main")
    assert "403" in page.title() or "not" in page.inner_text("main").lower()
    ladmin = official("yinchuan-data.admin", "zh_CN")
    page = ladmin.go("/admin/")
    page.get_by_role("link", name="部门系统").click()
    main = page.inner_text("main")
    assert "区级系统" not in main and "低保审核系统" not in main  # the region's systems
    ladmin.shot("clients-level-admin")
    response = page.goto(f"{ladmin.base}/admin/clients/{region}")
    assert response.status == 403
