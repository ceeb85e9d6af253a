"""Administrators find a failed step, see why, and retry it (issue 10)."""

from __future__ import annotations

from engine.app import build_engine
from tests.test_incidents import ALL_ACTIONS, _start, deploy_probe

TEXT = {
    "zh_CN": {"details": "技术信息", "retry": "立即重试", "still": "仍然失败"},
    "en": {"details": "Technical details", "retry": "Retry now", "still": "still fails"},
}


def test_an_administrator_sees_the_failed_step_and_retries(official, engine, clock):
    factory = build_engine(ALL_ACTIONS).sessions(engine)
    deploy_probe(factory)
    key = _start(
        factory,
        clock,
        failure="script_error",
        total=1,
        count=0,
        fire_at="2026-09-18T09:00:00+08:00",
    )
    for lang, text in TEXT.items():
        admin = official("data.admin", lang)
        page = admin.go("/admin/incidents/")
        assert page.get_by_role("link", name=key).is_visible()
        assert "probe_step" not in page.inner_text("main")  # the element id stays folded away
        page.get_by_text(text["details"]).first.click()
        assert "ZeroDivisionError" in page.inner_text("main")
        admin.shot("incidents")
        page.get_by_role("button", name=text["retry"]).click()
        assert f"{key} {text['still']}" in page.inner_text("main")
        page.get_by_role("link", name=key).click()  # the request page tells what happened
        banner = page.locator(".flash.danger").inner_text()
        assert "Probe step" in banner and "probe_step" not in banner
        admin.shot("request-incident")
