"""A returned catalog entry is work: the department submits an entry for publication, the
authority returns it with reasons, and the department's clerk finds a task in the department's
inbox with the reasons, on the task page and on the entry page (issue 12, item 2)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_catalog_flow import publish_sample_entry, review

REASONS = "请在摘要中写明备案信息的更新频率和数据来源"


def test_a_returned_catalog_entry_appears_in_the_departments_inbox_with_its_reasons(
    official, actors
):
    code = publish_sample_entry(actors)
    civil = official("civil.clerk")
    page = civil.go(f"/catalog/entry/{code}")
    page.get_by_role("link", name="编辑").click()
    page.fill("#f-note", "更新机构备案信息的口径")
    page.fill("#f-summary", "养老服务机构备案和等级评定信息，按月更新。")
    page.get_by_role("button", name="保存并提交发布").click()
    expect(page.locator(".flash.success")).to_contain_text("已保存第 2 版")

    review(official("data.coord"), "退回修改", REASONS)

    # the department's inbox counts the new work and lists it with the reasons
    page = civil.go("/inbox/mine")
    queue_link = page.locator("nav.main a", has_text="部门待签收")
    expect(queue_link.locator(".count")).to_have_text("1")
    page = civil.go("/inbox/queue")
    row = page.locator("tbody tr", has_text="修改退回的目录")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(REASONS)
    civil.shot("inbox-returned-catalog-entry")

    # the task page: the reasons beside the form
    row.get_by_role("link", name="修改退回的目录").click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    expect(page.locator("h1")).to_contain_text("修改退回的目录")
    expect(page.locator("aside")).to_contain_text("退回理由")
    expect(page.locator("aside")).to_contain_text(REASONS)
    civil.shot("task-revise-returned-entry")

    # the entry page: the returned version and the authority's reasons
    page = civil.go(f"/catalog/entry/{code}")
    expect(page.locator(".flash.warning")).to_contain_text(REASONS)
    expect(page.locator(".badge.overdue").first).to_contain_text("v2")
    civil.shot("catalog-entry-returned")
