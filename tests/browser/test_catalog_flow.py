"""A department edits its catalog entry, the authority returns it with a comment, the department
fixes and resubmits, it is published, and another department finds it by an info item and requests it."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def review(coord, decision_label: str, comment: str | None = None):
    page = coord.go("/inbox/coordination")
    page.get_by_role("link", name="审核目录变更").first.click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    page.get_by_label(decision_label).check()
    if comment:
        page.fill("#in-review_comment", comment)
    coord.shot("task-catalog-review")
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_url(re.compile(r".*/requests/ML-2026-\d+$"))


def publish_sample_entry(actors):
    """A published entry of 自治区民政厅 that this test may change (the seeded ones stay as seeded)."""
    from sqlalchemy import select

    from engine.catalog.models import ResourceVersion
    from engine.catalog.versions import publish_version, save_draft
    from tests.test_catalog import ENTRY

    def go(s):
        version = save_draft(s, actors.clock, actors.user(s, "civil.clerk"), ENTRY)
        publish_version(
            s,
            actors.clock,
            s.scalar(select(ResourceVersion).where(ResourceVersion.id == version.id)),
            None,
        )

    actors.run(go)
    return ENTRY["code"]


def test_edit_return_fix_publish_find_and_request(official, actors):
    code = publish_sample_entry(actors)
    civil = official("civil.clerk")
    page = civil.go(f"/catalog/entry/{code}")
    civil.shot("catalog-entry")
    page.get_by_role("link", name="编辑").click()
    rows = page.locator("#items tbody tr")
    empty = rows.nth(2)  # the entry has two items; the next row is empty
    empty.locator("input[name=item_name]").fill("保障起始日期")
    empty.locator("input[name=item_data_type]").fill("日期型")
    empty.locator("select[name=item_share_type]").select_option("conditional")
    page.fill("#f-note", "增加保障起始日期")
    civil.shot("catalog-edit")
    page.get_by_role("button", name="保存并提交发布").click()
    expect(page.locator(".flash.success")).to_contain_text("已保存第 2 版")

    coord = official("data.coord")
    review(coord, "退回修改", "请在摘要中说明保障起始日期的口径")

    page = civil.go(f"/catalog/entry/{code}")
    expect(page.locator(".flash.warning")).to_contain_text("请在摘要中说明保障起始日期的口径")
    page.get_by_role("link", name="编辑").click()
    page.fill(
        "#f-summary", "养老服务机构备案和等级评定信息；保障起始日期为机构开始接收保障对象的日期。"
    )
    page.fill("#f-note", "补充口径说明")
    page.get_by_role("button", name="保存并提交发布").click()
    expect(page.locator(".flash.success")).to_contain_text("已保存第 3 版")

    review(coord, "同意发布")
    page = civil.go(f"/catalog/entry/{code}")
    expect(page.locator(".badge.normal").first).to_contain_text("3")

    hrss = official("hrss.clerk")
    page = hrss.go("/catalog/?q=保障起始日期")
    expect(page.locator("tbody tr")).to_have_count(1)
    hrss.shot("catalog-search")
    page.get_by_role("link", name="申请使用").click()
    page.check("input[name=info_items][value=保障起始日期]")
    page.fill("#purpose", "核定养老服务从业人员社会保险补贴")
    page.select_option("#scenario", "YYCJ002")  # the application scenario (应用场景)
    page.fill("#legal_basis", "《社会救助暂行办法》")
    page.fill("#period_start", "2026-10-01")
    page.fill("#period_end", "2027-09-30")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r".*/requests/GX-2026-\d+.*"))
    expect(page.locator(".flash.success")).to_contain_text("自治区民政厅")
