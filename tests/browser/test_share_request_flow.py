"""Officials act through the browser across sessions: request → refusal → negotiation →
coordination → grant, in Simplified Chinese and in English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

TEXT = {
    "zh_CN": {
        "search": "户籍",
        "choose": "选择",
        "submit_request": "提交申请",
        "due": "2026-10-09 24:00",
        "queue": "部门待签收",
        "claim": "签收",
        "refuse": "不予共享",
        "submit": "提交",
        "required": "必填",
        "negotiate": "申请协商",
        "failed": "未达成一致",
        "grant": "予以共享",
        "granted": "已授权",
        "coordination": "协调督办",
        "decide": "作出决定",
        "review": "审核共享申请",
        "after_refusal": "决定是否协商",
        "requester_position": "使用部门陈述协商意见",
        "provider_position": "提供部门答复协商意见",
        "coordinate": "协调处理",
    },
    "en": {
        "search": "户籍",
        "choose": "Choose",
        "submit_request": "Submit the request",
        "due": "2026-10-09 24:00",
        "queue": "Department queue",
        "claim": "Claim",
        "refuse": "Refuse",
        "submit": "Submit",
        "required": "is required",
        "negotiate": "Open a negotiation",
        "failed": "No agreement",
        "grant": "Grant",
        "granted": "Granted",
        "coordination": "Coordination and supervision",
        "decide": "Decide",
        "review": "Review the sharing request",
        "after_refusal": "Negotiate or accept the refusal",
        "requester_position": "State the requester's position",
        "provider_position": "Answer the negotiation",
        "coordinate": "Coordinate the dispute",
    },
}


def open_task_from(o, view: str, title: str):
    page = o.go(f"/inbox/{view}")
    page.get_by_role("link", name=title).first.click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    return page


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_request_refusal_negotiation_coordination_grant(official, lang):
    t = TEXT[lang]
    # 1. The requester finds a conditional resource in the catalog and applies.
    civil = official("civil.clerk", lang)
    key = apply_for_household_changes(civil, t)
    # 2. The provider finds it in the department queue, claims it, and must give reasons to refuse.
    pubsec = official("pubsec.clerk", lang)
    claim_and_refuse_with_reasons(pubsec, t, key)
    # 3. The requester opens a negotiation and states its position.
    open_negotiation(civil, t)
    # 4. The provider answers: no agreement.
    answer_no_agreement(pubsec, t)
    # 5. The region's coordinator decides with reasons; the decision is binding.
    coord = official("data.coord", lang)
    coordinate_to_grant(coord, t, key)
    # 6. The requester sees the grant and the diagram.
    see_the_grant(civil, t, key)


def apply_for_household_changes(civil, t: dict[str, str]) -> str:
    """Step 1: the request for 户籍变动信息; returns its business key."""
    civil.shot("inbox-empty")
    page = civil.go("/requests/new")
    page.fill("main input[name=q]", t["search"])
    with page.expect_navigation():
        page.press("main input[name=q]", "Enter")
    civil.shot("catalog-search")
    page.get_by_role("row", name=re.compile("户籍变动信息")).get_by_role(
        "link", name=t["choose"]
    ).click()
    expect(page.locator("aside")).to_contain_text(
        t["due"]
    )  # what happens next: the provider's due date
    page.check("input[name=info_items][value=公民身份号码]")
    page.check("input[name=info_items][value=变动类型]")
    page.fill("#purpose", "核定城乡低保对象户籍状况")
    page.select_option("#scenario", "YYCJ006")  # the application scenario (应用场景)
    page.fill("#legal_basis", "《社会救助暂行办法》第十一条")
    page.fill("#period_start", "2026-10-01")
    page.fill("#period_end", "2027-09-30")
    civil.shot("request-new")
    page.get_by_role("button", name=t["submit_request"]).click()
    page.wait_for_url(re.compile(r".*/requests/GX-2026-\d+.*"))
    key = re.search(r"GX-2026-\d+", page.url).group(0)
    expect(page.locator(".flash.success")).to_contain_text(t["due"])
    return key


def claim_and_refuse_with_reasons(pubsec, t: dict[str, str], key: str) -> None:
    """Step 2: claim from the department queue; a refusal without reasons is rejected."""
    page = pubsec.go("/inbox/queue")
    row = page.locator("tr", has_text=key)
    expect(row).to_contain_text(t["due"])
    expect(row.locator(".badge")).to_have_class(re.compile("normal"))
    pubsec.shot("department-queue")
    row.locator("input[name=task_id]").check()
    page.get_by_role("button", name=re.compile(t["claim"])).click()
    page.wait_for_url("**/inbox/mine")
    page.get_by_role("link", name=t["review"]).first.click()
    expect(
        page.locator("#field-granted_items input[value=公民身份号码]")
    ).to_be_checked()  # scope pre-filled from the request
    page.get_by_label(t["refuse"]).check()
    page.get_by_role("button", name=t["submit"], exact=True).click()
    expect(page.locator("#field-review_reason .error")).to_contain_text(t["required"])
    expect(page.get_by_label(t["refuse"])).to_be_checked()  # the values are kept
    pubsec.shot("task-form-error")
    page.fill("#in-review_reason", "变动类型涉及个人隐私，超出低保核定所需范围")
    page.get_by_role("button", name=t["submit"], exact=True).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))


def open_negotiation(civil, t: dict[str, str]) -> None:
    """Step 3: the requester negotiates and states its position."""
    page = open_task_from(civil, "queue", t["after_refusal"])
    expect(page.locator("aside")).to_contain_text(
        "变动类型涉及个人隐私"
    )  # the provider's reasons are in the context
    page.get_by_label(t["negotiate"]).check()
    page.get_by_role("button", name=t["submit"], exact=True).click()
    page = open_task_from(civil, "queue", t["requester_position"])
    page.fill("#in-requester_position", "低保核定确需户籍变动类型")
    page.get_by_role("button", name=t["submit"], exact=True).click()


def answer_no_agreement(pubsec, t: dict[str, str]) -> None:
    """Step 4: the provider answers the negotiation: no agreement."""
    page = open_task_from(pubsec, "queue", t["provider_position"])
    page.fill("#in-provider_position", "仍不同意提供变动类型")
    page.get_by_label(t["failed"]).check()
    page.get_by_role("button", name=t["submit"], exact=True).click()


def coordinate_to_grant(coord, t: dict[str, str], key: str) -> None:
    """Step 5: the coordinator decides to grant, with reasons."""
    page = coord.go("/inbox/coordination")
    expect(page.locator("tr", has_text=key)).to_contain_text(t["coordinate"])
    coord.shot("coordination-inbox")
    page.get_by_role("link", name=t["coordinate"]).first.click()
    page.get_by_label(t["decide"], exact=True).check()
    page.get_by_label(t["grant"], exact=True).check()
    page.fill("#in-coordination_reasons", "低保核定属法定职责，变动类型为必要信息项")
    coord.shot("task-coordinate")
    page.get_by_role("button", name=t["submit"], exact=True).click()
    page.wait_for_url(re.compile(rf".*/requests/{key}$"))


def see_the_grant(civil, t: dict[str, str], key: str) -> None:
    """Step 6: the granted request with its diagram."""
    page = civil.go(f"/requests/{key}")
    expect(page.locator("#decision")).to_have_text(t["granted"])
    expect(page.locator("#grants")).to_contain_text("公民身份号码")
    expect(page.locator(".diagram[data-ready=true]").first).to_be_visible()
    expect(page.locator(".diagram .gs-completed").first).to_be_attached()
    civil.shot("request-granted")
