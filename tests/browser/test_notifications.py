"""The bell, the notification list and 通知设置 in the browser (issue 13, must show), in Chinese
and English, with screenshots of the new pages."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from notifications.fanout import fan_out
from tests.conftest import HUKOU


def test_the_bell_the_list_and_opening_a_notification(official, actors, clock):
    first = actors.request("civil.clerk", **HUKOU)
    second = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, clock))
    pubsec = official("pubsec.clerk")
    page = pubsec.go("/catalog/")
    bell = page.locator("#bell")
    expect(bell.locator("#bell-count")).to_have_text("2")  # on every page
    pubsec.shot("bell-header")
    bell.click()
    page.wait_for_url("**/notifications/")
    expect(page.locator("h1")).to_contain_text("通知")
    items = page.locator("ul.notifications li")
    expect(items).to_have_count(2)
    expect(items.first).to_have_class(re.compile("unread"))
    expect(items.first.locator(".rung")).to_have_text("新待办")
    expect(items.first.locator(".subject")).to_have_text(f"新待办：审核共享申请（{second}）")
    expect(items.first.locator(".text")).to_contain_text("还剩 10 个工作日")
    pubsec.shot("notifications")
    # opening one marks it read and goes to the task that acts on it
    items.nth(1).locator(".subject").click()
    page.wait_for_url("**/tasks/*")
    expect(page.locator("#bell-count")).to_have_text("1")
    page.go_back()
    page.reload()
    expect(page.locator("ul.notifications li.read")).to_have_count(1)
    page.get_by_role("button", name="全部标为已读").click()
    page.wait_for_url("**/notifications/")
    expect(page.locator("#bell-count")).to_have_text("0")
    expect(page.locator("ul.notifications li.unread")).to_have_count(0)
    assert first


def test_the_list_in_english(official, actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    actors.run(lambda s: fan_out(s, clock))
    pubsec = official("pubsec.lead", "en")
    page = pubsec.go("/notifications/")
    expect(page.locator("ul.notifications li .subject")).to_have_text(
        f"New task: Review the sharing request ({key})"
    )
    expect(page.locator("ul.notifications li .rung")).to_have_text("New task")
    pubsec.shot("notifications")


def test_the_preferences_page(official, actors):
    lead = official("pubsec.lead")
    page = lead.go("/inbox/mine")
    page.locator("#bell").click()  # the bell leads to the list, the list to the settings
    page.wait_for_url("**/notifications/")
    page.get_by_role("link", name="通知设置").click()
    page.wait_for_url("**/notifications/settings")
    expect(page.locator("h1")).to_have_text("通知设置")
    mine = page.locator("#my-settings")
    mine.get_by_label("电子邮件", exact=True).select_option("on")
    mine.get_by_label("电子邮箱").fill("lead@pubsec.nx.gov.cn")
    page.locator("#quiet_from").fill("22:00")
    page.locator("#quiet_until").fill("25:00")
    page.get_by_role("button", name="保存我的设置").click()
    expect(page.locator(".field.invalid .error")).to_contain_text("须为时间")  # 422, by label
    expect(page.locator(".flash.danger")).to_contain_text("免打扰结束时间")
    lead.shot("notification-settings-invalid")
    page.locator("#quiet_until").fill("07:00")
    page.get_by_role("button", name="保存我的设置").click()
    expect(page.locator(".flash.success")).to_have_text("通知设置已保存。")
    expect(page.locator("#email_address")).to_have_value("lead@pubsec.nx.gov.cn")
    expect(page.locator("#quiet_until")).to_have_value("07:00")
    # the leader edits the department's defaults
    defaults = page.locator("#department-defaults")
    defaults.get_by_label("政务消息平台").check()
    defaults.get_by_role("button", name="保存部门默认设置").click()
    expect(page.locator(".flash.success")).to_have_text("部门默认设置已保存。")
    expect(page.locator("#department-defaults").get_by_label("政务消息平台")).to_be_checked()
    lead.shot("notification-settings")


def test_the_preferences_page_in_english_without_defaults_for_a_clerk(official):
    clerk = official("pubsec.clerk", "en")
    page = clerk.go("/notifications/settings")
    expect(page.locator("h1")).to_have_text("Notification settings")
    expect(page.locator("#department-defaults")).to_have_count(0)
    clerk.shot("notification-settings")
