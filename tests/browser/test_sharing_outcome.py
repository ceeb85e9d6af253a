"""The requester reads the coordinator's binding decision, its reasons and its conditions of use
on the request page, in Simplified Chinese and in English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_sharing_deadlines import coordinating

TEXT = {
    "zh_CN": {
        "coordinate": "协调处理",
        "decide": "作出决定",
        "in_part": "部分共享",
        "submit": "提交",
        "partial": "部分授权",
        "by": "协调决定（具有约束力）",
        "authority": "自治区数据共享主管部门",
    },
    "en": {
        "coordinate": "Coordinate the dispute",
        "decide": "Decide",
        "in_part": "Grant in part",
        "submit": "Submit",
        "partial": "Granted in part",
        "by": "Coordination (binding decision)",
        "authority": "Data-sharing authority of the region",
    },
}
REASONS = "低保核定确需公民身份号码；变动类型涉及个人隐私，不予提供"
CONDITIONS = "仅限城乡低保核定使用，不得向第三方提供；每季度报告使用情况"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_requester_reads_the_coordinators_reasons_and_conditions(actors, official, lang):
    t = TEXT[lang]
    key = coordinating(actors)  # refused, negotiated without agreement: at the coordinator
    coord = official("data.coord", lang)
    page = coord.go("/inbox/coordination")
    page.get_by_role("link", name=t["coordinate"]).first.click()
    page.get_by_label(t["decide"], exact=True).check()
    page.get_by_label(t["in_part"], exact=True).check()
    page.locator("#field-granted_items input[value=变动类型]").uncheck()
    page.fill("#in-coordination_reasons", REASONS)
    page.fill("#in-coordination_conditions", CONDITIONS)
    page.get_by_role("button", name=t["submit"], exact=True).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))

    civil = official("civil.clerk", lang)
    page = civil.go(f"/requests/{key}")
    expect(page.locator("#decision")).to_have_text(t["partial"])
    outcome = page.locator("#outcome")
    expect(outcome).to_contain_text(t["partial"])
    expect(outcome).to_contain_text(t["by"])
    expect(outcome).to_contain_text(t["authority"])  # in the reader's language
    expect(page.locator("#outcome-reasons")).to_have_text(REASONS)
    expect(page.locator("#outcome-conditions")).to_have_text(CONDITIONS)
    expect(page.locator("#grants")).to_contain_text(CONDITIONS)
    expect(page.locator("#grants")).not_to_contain_text("变动类型")
    civil.shot("request-partial-grant")
    # the provider reads the same decision
    pubsec = official("pubsec.clerk", lang)
    page = pubsec.go(f"/requests/{key}")
    expect(page.locator("#outcome-conditions")).to_have_text(CONDITIONS)
