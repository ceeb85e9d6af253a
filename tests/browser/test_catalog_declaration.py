"""The catalog update duty's second way out (art. 8): the provider declares "no change needed"
with reasons, the authority's coordinator accepts, and the provider reads the outcome on the
duty's page, in Simplified Chinese and in English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_catalog_update_process import _register

TEXT = {
    "zh_CN": {
        "update": "更新本部门政务数据资源目录",
        "no_change": "无需变更",
        "review": "审核无需变更声明",
        "accept": "同意：目录无需变更",
        "submit": "提交",
        "outcome": "已声明无需变更",
        "accepted": "同意：无需变更",
        "reasons_label": "无需变更的理由",
    },
    "en": {
        "update": "Update the department's catalog",
        "no_change": "No change needed",
        "review": "Review the 'no change needed' declaration",
        "accept": "Accept: no change is needed",
        "submit": "Submit",
        "outcome": "Declared no change needed",
        "accepted": "Accepted: no change needed",
        "reasons_label": "Why no change is needed",
    },
}
REASONS = "本次条例修订仅调整养老机构补贴标准，不涉及本部门目录所列信息资源"
COMMENT = "经核，修订内容不涉及目录所列信息项，同意"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_provider_declares_no_change_the_authority_accepts_and_the_provider_sees_it(
    actors, official, lang
):
    t = TEXT[lang]
    [key] = _register(actors)

    civil = official("civil.clerk", lang)
    page = civil.go("/inbox/queue")
    page.get_by_role("link", name=t["update"]).click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    page.get_by_label(t["no_change"], exact=True).check()
    expect(page.locator("#in-update_note")).to_be_hidden()
    page.fill("#in-no_change_reasons", REASONS)
    civil.shot("task-catalog-update-declare")
    page.get_by_role("button", name=t["submit"], exact=True).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))
    expect(page.locator("#declarations .ruling")).to_have_count(1)
    expect(page.locator("#declarations .declaration-reasons")).to_have_text(REASONS)

    coord = official("data.coord", lang)
    page = coord.go("/inbox/coordination")
    page.get_by_role("link", name=t["review"]).first.click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    expect(page.locator("aside")).to_contain_text(t["reasons_label"])
    expect(page.locator("aside")).to_contain_text(REASONS)
    page.get_by_label(t["accept"], exact=True).check()
    page.fill("#in-declaration_comment", COMMENT)
    coord.shot("task-declaration-review")
    page.get_by_role("button", name=t["submit"], exact=True).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))

    page = civil.go(f"/requests/{key}")
    expect(page.locator("#decision")).to_have_text(t["outcome"])
    declarations = page.locator("#declarations")
    expect(declarations.locator(".ruling")).to_have_text(t["accepted"])
    expect(declarations.locator(".ruling-reasons")).to_have_text(COMMENT)
    expect(declarations).to_contain_text("自治区数据共享主管部门" if lang == "zh_CN" else "")
    civil.shot("catalog-update-declared")


RETURNED = "条例新增养老机构等级评定信息，须在目录中增加相应信息项"


def test_a_returned_declaration_is_back_in_the_providers_queue_with_the_reasons(actors, official):
    [key] = _register(actors)
    actors.complete(
        "civil.clerk", key, "update_catalog", update_choice="no_change", no_change_reasons=REASONS
    )
    coord = official("data.coord")
    page = coord.go("/inbox/coordination")
    page.get_by_role("link", name="审核无需变更声明").first.click()
    page.get_by_label("退回：须更新目录", exact=True).check()
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator("#err-declaration_comment")).to_be_visible()  # reasons are required
    page.get_by_label("退回：须更新目录", exact=True).check()
    page.fill("#in-declaration_comment", RETURNED)
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))

    civil = official("civil.clerk")
    page = civil.go("/inbox/queue")
    row = page.locator("tbody tr", has_text="更新本部门政务数据资源目录")
    expect(row).to_contain_text(RETURNED)
    expect(row).to_contain_text("2026-10-15")  # the deadline from the change, not re-armed
    row.get_by_role("link", name="更新本部门政务数据资源目录").click()
    expect(page.locator("#return-reasons")).to_have_text(RETURNED)
    expect(page.locator("#declarations .ruling")).to_have_text("退回：须更新目录")
    civil.shot("task-catalog-update-returned")
    page = civil.go(f"/requests/{key}")
    expect(page.locator("#declarations .ruling-reasons")).to_have_text(RETURNED)
    civil.shot("catalog-update-declaration-returned")
    # in English at 1366 px the declarations card stays inside the page (no sideways scrolling)
    english = official("civil.clerk", "en")
    for url in (f"/requests/{key}", f"/tasks/{actors.open_task(key, 'update_catalog')}"):
        page = english.go(url)
        expect(page.locator("#declarations")).to_contain_text("Department of Civil Affairs")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    english.shot("task-catalog-update-returned")
