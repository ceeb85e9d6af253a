"""An official who attaches a page of HTML named .pdf sees it refused on the task page, in
Chinese, with the file's name and the expected type; the task stays open."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import HUKOU

HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"


def test_a_file_that_is_not_what_its_name_says_is_refused_on_the_task_page(official, actors):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    clerk = official("pubsec.clerk")
    page = clerk.go(f"/tasks/{task_id}")
    page.get_by_label("不予共享").check()
    page.fill("#in-review_reason", "超出低保核定所需范围")
    page.set_input_files(
        "#attachments", {"name": "说明.pdf", "mimeType": "application/pdf", "buffer": HTML}
    )
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text("附件 说明.pdf 不是 PDF 文件")
    clerk.shot("attachment-refused")
    assert actors.status(key)["tasks"][0]["state"] == "open"
