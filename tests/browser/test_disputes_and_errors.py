"""A coordinator works a failed negotiation through the dossier; a requester reports a data error
and the provider corrects it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.test_coordination import to_coordination
from tests.test_verification import granted


def submit(page):
    page.get_by_role("button", name="提交", exact=True).click()


def test_coordinator_requests_information_then_decides(official, actors):
    key = to_coordination(actors)
    coord = official("data.coord")
    page = coord.go("/inbox/coordination")
    page.get_by_role("link", name="协调处理").first.click()
    page.get_by_role("link", name="打开案卷").click()
    expect(page.locator("main")).to_contain_text(
        "变动类型涉及个人隐私"
    )  # the provider's position is in the dossier
    coord.shot("dossier")
    page.go_back()
    page.get_by_label("要求补充材料").check()
    page.get_by_label("提供部门", exact=True).check()
    page.fill("#in-info_question", "请说明变动类型中哪些字段涉及个人隐私")
    page.get_by_label("5个工作日").check()
    submit(page)
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))

    pubsec = official("pubsec.clerk")
    page = pubsec.go("/inbox/queue")
    expect(page.locator("tr", has_text=key)).to_contain_text("2026-09-24 24:00")
    page.get_by_role("link", name="提供部门补充材料").first.click()
    expect(page.locator("aside")).to_contain_text("户籍变动信息")
    page.fill("#in-info_answer", "迁出原因字段含个人隐私，其余字段可共享")
    submit(page)

    page = coord.go(f"/disputes/{key}")
    expect(page.locator("main")).to_contain_text("迁出原因字段含个人隐私")
    page = coord.go("/inbox/coordination")
    page.get_by_role("link", name="协调处理").first.click()
    page.get_by_label("作出决定").check()
    page.get_by_label("部分共享").check()
    page.fill("#in-coordination_reasons", "迁出原因不予共享，其余信息项为低保核定所必需")
    page.locator("#field-granted_items input[value=变动类型]").uncheck()
    submit(page)
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))
    coord.go("/disputes/")
    coord.shot("disputes-dashboard")

    civil = official("civil.clerk")
    page = civil.go(f"/requests/{key}")
    expect(page.locator("#decision")).to_have_text(
        "部分授权"
    )  # a grant in part reads as one (issue 12)
    expect(page.locator("#grants")).to_contain_text("协调决定")
    expect(page.locator("#grants")).not_to_contain_text("变动类型")


def test_requester_reports_a_data_error_and_the_provider_corrects_it(official, actors):
    key = granted(actors)
    civil = official("civil.clerk")
    page = civil.go(f"/requests/{key}")
    page.get_by_role("link", name="报告数据错误").click()
    page.fill("#f-record_id", "640104198001010011")
    page.fill("#f-field", "变动类型")
    page.fill("#f-value_seen", "迁出")
    page.fill("#f-value_expected", "迁入")
    page.fill("#f-note", "群众持迁入证明办理低保")
    civil.shot("error-report")
    page.get_by_role("button", name="报告").click()
    page.wait_for_url(re.compile(r".*/requests/JY-2026-\d+.*"))
    error_key = re.search(r"JY-2026-\d+", page.url).group(0)

    page = civil.go("/verifications/check?resource=JC-RK/0002&record=640104198001010011")
    expect(page.locator("#flag")).to_contain_text("校核中")
    page.fill("input[name=proof]", "户口迁移证 NX-2026-0001")
    page.fill("input[name=service]", "低保申请受理")
    page.get_by_role("button", name="登记凭证办理").click()
    expect(page.locator(".flash.success")).to_contain_text("已登记")
    civil.shot("verification-check")

    pubsec = official("pubsec.clerk")
    page = pubsec.go("/inbox/queue")
    page.get_by_role("link", name="校核数据").first.click()
    expect(page.locator("aside")).to_contain_text("640104198001010011")
    page.get_by_label("已更正").check()
    page.fill("#in-corrected_on", "2026-09-18")
    page.fill("#in-correction_note", "已将变动类型更正为迁入")
    submit(page)
    page.wait_for_url(re.compile(rf".*/requests/{error_key}$"))

    page = civil.go("/inbox/queue")
    page.get_by_role("link", name="确认校核结果").first.click()
    page.get_by_label("接受").check()
    submit(page)
    page = civil.go("/verifications/check?resource=JC-RK/0002&record=640104198001010011")
    expect(page.locator("#flag")).to_contain_text("未在校核中")
    page = pubsec.go("/verifications/quality")
    expect(page.locator("tbody")).to_contain_text("户籍变动信息")
    pubsec.shot("data-quality")


def test_a_record_ruled_wrong_is_the_providers_correction_task_with_the_reasons(official, actors):
    from tests.test_verification import ruled_wrong

    granted(actors)
    key = ruled_wrong(actors)
    pubsec = official("pubsec.clerk")
    page = pubsec.go("/inbox/queue")
    row = page.locator("tr", has_text=key)
    expect(row).to_contain_text("更正数据")
    expect(row).to_contain_text("迁入证明有效，记录有误")  # the ruling's reasons on the task
    expect(row).to_contain_text("2026-10-09 24:00")
    row.get_by_role("link", name="更正数据").click()
    page.fill("#in-corrected_on", "2026-09-19")  # tomorrow: refused, naming the field
    page.fill("#in-correction_note", "已将变动类型更正为迁入")
    submit(page)
    expect(page.locator(".flash.danger")).to_contain_text("更正日期")
    pubsec.shot("verification-correction")
    page.fill("#in-corrected_on", "2026-09-18")
    submit(page)
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))
    expect(page.locator("main")).not_to_contain_text("已记录的违规")  # no breach card
    pubsec.shot("verification-corrected-case")
