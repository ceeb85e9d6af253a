"""A project from application to acceptance; the authority compiles the annual report and
downloads its PDF."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.test_catalog import ENTRY

SEATS = {
    "drc.clerk": "发展改革部门审查",
    "miit.clerk": "工业和信息化部门审查",
    "finance.clerk": "财政部门审查",
    "data.clerk": "数据共享主管部门审查",
    "cac.clerk": "网信部门审查",
}


def submit(page):
    page.get_by_role("button", name="提交", exact=True).click()


def test_project_from_application_to_acceptance(official, tmp_path):
    catalog = tmp_path / "project-catalog.json"
    catalog.write_text(json.dumps([ENTRY], ensure_ascii=False), "utf-8")
    civil = official("civil.clerk")
    page = civil.go("/projects/new")
    page.fill("#f-name", "智慧养老服务平台")
    page.fill("#f-desc", "养老服务机构监管与补贴发放")
    page.set_input_files("#f-catalog", str(catalog))
    page.get_by_role("button", name="创建项目").click()
    expect(page.locator("#eligibility .badge.normal")).to_contain_text("具备审批条件")
    page.get_by_role("button", name="启动审批程序").click()
    page = civil.go("/inbox/queue")
    page.get_by_role("link", name="提交项目审批申请").first.click()
    page.fill("#in-application_note", "申请立项，项目目录已编制")
    submit(page)

    for username, title in SEATS.items():
        reviewer = official(username)
        page = reviewer.go("/inbox/queue")
        page.get_by_role("link", name=title).first.click()
        page.get_by_label("同意").check()
        submit(page)
        reviewer.close()

    page = civil.go("/inbox/queue")
    page.get_by_role("link", name="申请项目验收").first.click()
    page.fill("#in-acceptance_note", "项目建成，申请验收")
    submit(page)
    expect(page.locator(".flash.danger").first).to_contain_text(
        "不能通过验收"
    )  # the resource is not published yet
    expect(page.locator("main")).to_contain_text("BM-MZ/0099 未在目录中发布")
    civil.shot("project-acceptance-refused")

    # publish the project's entry through the catalog, then mark it connected
    page = civil.go("/catalog/import")
    page.set_input_files("input[name=file]", str(catalog))
    page.get_by_role("button", name="导入").click()
    page = civil.go(f"/catalog/entry/{ENTRY['code']}")
    page.get_by_role("button", name="提交发布").click()
    coord = official("data.coord")
    page = coord.go("/inbox/coordination")
    page.get_by_role("link", name="审核目录变更").first.click()
    page.get_by_label("同意发布").check()
    submit(page)
    page = civil.go("/projects/")
    page.get_by_role("link", name="智慧养老服务平台").click()
    page.get_by_role("button", name="标记已接入").click()
    page = civil.go("/inbox/queue")  # the refused attempt left nothing behind, not even a claim
    page.get_by_role("link", name="申请项目验收").first.click()
    page.fill("#in-acceptance_note", "资源已发布并接入共享平台")
    submit(page)
    page.wait_for_url(re.compile(r".*/requests/XM-2026-\d+$"))
    page = civil.go("/projects/")
    page.get_by_role("link", name="智慧养老服务平台").click()
    expect(page.locator("#eligibility")).to_contain_text("已验收")
    expect(page.locator("#eligibility")).to_contain_text("可安排运维经费")
    civil.shot("project-accepted")


def test_authority_compiles_the_annual_report_and_downloads_the_pdf(official, actors, clock):
    from engine.oversight import evaluation

    clock.set("2027-01-04T09:00:00+08:00")
    actors.run(lambda s: evaluation.start_due_campaigns(s, actors.clock))
    pubsec = official("pubsec.clerk")
    page = pubsec.go("/inbox/queue")
    page.get_by_role("link", name="报送年度共享工作情况").first.click()
    page.fill("#in-achievements", "完成户籍数据共享接口改造")
    submit(page)
    coord = official("data.coord")
    page = coord.go("/reports/annual/2026")
    expect(page.locator("main")).to_contain_text("完成户籍数据共享接口改造")
    coord.shot("annual-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 PDF").click()
    path = download.value.path()
    assert open(path, "rb").read(4) == b"%PDF"
