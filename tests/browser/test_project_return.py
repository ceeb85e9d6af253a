"""A review seat returns an IT project: the applicant's clerk has the task with the seat's reasons
at once, although the other seats have not reviewed; the project page keeps the reviews given."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.test_catalog import ENTRY
from tests.test_project_approval import new_project

REASONS = "项目数据资源目录未覆盖补贴发放数据，请补充后重新申报"


def test_a_seats_return_reaches_the_applicant_at_once(official, actors):
    pid, key = new_project(actors, [ENTRY])
    actors.complete("civil.clerk", key, "submit_application", application_note="申请立项")
    actors.complete("finance.clerk", key, "review_finance", finance_decision="approve")

    drc = official("drc.clerk")
    page = drc.go("/inbox/queue")
    page.get_by_role("link", name="发展改革部门审查").first.click()
    page.get_by_label("退回").check()
    page.fill("#in-drc_reasons", REASONS)
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))
    drc.close()

    # the applicant's clerk: the task is in the queue with the reasons, three seats never reviewed
    civil = official("civil.clerk")
    page = civil.go("/inbox/queue")
    row = page.locator("tr", has_text=key)
    expect(row).to_contain_text("提交项目审批申请")
    expect(row.locator(".return-reasons")).to_contain_text(REASONS)
    civil.shot("project-returned-inbox")
    row.get_by_role("link", name="提交项目审批申请").click()
    expect(page.locator("#return-reasons")).to_contain_text(REASONS)
    expect(page.locator("aside")).to_contain_text("发展和改革")
    civil.shot("project-returned-task")

    # the project page: the return with its reasons, the reviews given kept, the others withdrawn
    page = civil.go(f"/projects/{pid}")
    expect(page.locator("#project-returned")).to_contain_text(REASONS)
    table = page.locator("#joint-review")
    expect(table.locator("tr", has_text="财政部门")).to_contain_text("同意")
    expect(table.locator("tr", has_text="网信")).to_contain_text("已撤回")
    civil.shot("project-returned-page")
    page = civil.go(f"/requests/{key}")
    expect(page.locator(".timeline")).to_contain_text("任务撤回")
    expect(page.locator(".timeline")).to_contain_text("因发展改革部门退回")
    expect(page.locator(".diagram[data-ready=true]").first).to_be_visible()
    civil.shot("project-returned-request")
