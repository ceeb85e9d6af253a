"""Accounts and leave cover in the browser (issue 14, items 3 and 5): the system administrator
creates an account and resets its password from 管理; an official and a level administrator
outside their scope are refused; an official names a deputy, who sees the banner."""

from __future__ import annotations

import pytest

from tests.accounts_fixtures import restore_accounts  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("restore_accounts")

TEXT = {
    "zh_CN": {
        "admin": "系统管理",
        "accounts": "账号管理",
        "new": "新建账号",
        "create": "创建账号",
        "reset": "重置密码",
        "refused": "您无权查看或执行此操作",
        "arrange": "安排代理",
    },
    "en": {
        "admin": "Administration",
        "accounts": "Accounts",
        "new": "New account",
        "create": "Create account",
        "reset": "Reset password",
        "refused": "You may not see or do this",
        "arrange": "Arrange leave cover",
    },
}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_system_administrator_creates_an_account_and_resets_its_password(official, lang):
    text = TEXT[lang]
    admin = official("data.admin", lang)
    page = admin.go("/inbox/mine")
    page.get_by_role("link", name=text["admin"], exact=True).click()
    page.get_by_role("link", name=text["accounts"], exact=True).click()
    page.select_option("select[name=department]", "pubsec")
    page.locator("form.filters button").click()
    assert "pubsec.clerk" in page.inner_text("#accounts")
    admin.shot("accounts")
    page.get_by_role("link", name=text["new"]).click()
    page.fill("#username", f"pubsec.new-{lang.lower()}")
    page.fill("#display_name", "新来的警官")
    page.fill("#display_name_en", "New Officer")
    page.select_option("#department", "pubsec")
    admin.shot("account-new")
    page.get_by_role("button", name=text["create"]).click()
    first = page.inner_text("#temporary-password").strip()
    assert len(first) >= 10
    admin.shot("account-created")
    page.goto(admin.base + f"/admin/accounts/pubsec.new-{lang.lower()}")
    admin.shot("account")
    page.get_by_role("button", name=text["reset"]).click()
    second = page.inner_text("#temporary-password").strip()
    assert second and second != first
    # bulk import: a dry run lists the accounts and creates none
    page.goto(admin.base + "/admin/accounts/import")
    csv = "username,display_name,display_name_en,department,roles\npubsec.csv1,导入,Imported,pubsec,\n"
    page.set_input_files(
        "#file", {"name": "users.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    page.click("#dry-run")
    assert "pubsec.csv1" in page.inner_text("#import-report")
    admin.shot("accounts-import")
    assert page.goto(admin.base + "/admin/accounts/pubsec.csv1").status == 404  # not created


def test_an_official_and_a_level_administrator_outside_their_scope_are_refused(official):
    text = TEXT["en"]
    clerk = official("civil.clerk", "en")
    page = clerk.go("/admin/accounts/")
    assert text["refused"] in page.inner_text("main")
    assert page.get_by_role("link", name=text["admin"], exact=True).count() == 0
    level = official("yinchuan-data.admin", "en")
    page = level.go("/admin/accounts/")
    rows = page.inner_text("#accounts")
    assert "helan-civil.clerk" in rows and "pubsec.clerk" not in rows
    level.shot("accounts-level-admin")
    page = level.go("/admin/accounts/pubsec.clerk")
    assert text["refused"] in page.inner_text("main")


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_official_names_a_deputy_who_sees_the_banner(official, lang):
    text = TEXT[lang]
    clerk = official("pubsec.clerk", lang)
    page = clerk.go("/account/cover/")
    page.select_option("#deputy", "pubsec.lead")
    page.fill("#from", "2026-09-18")
    page.fill("#until", "2026-09-30")
    page.get_by_role("button", name=text["arrange"]).click()
    assert "2026-09-30" in page.inner_text("#covers")
    assert page.locator("#covered-banner").count() == 1
    clerk.shot("leave-cover")
    lead = official("pubsec.lead", lang)
    page = lead.go("/inbox/mine")
    banner = page.inner_text("#cover-banner")
    assert "2026-09-30" in banner
    lead.shot("leave-cover-banner")
    page = lead.go("/account/cover/department")
    assert "2026-09-30" in page.inner_text("#covers")
    lead.shot("leave-cover-department")
