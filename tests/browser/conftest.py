"""Browser tests: the app on a live local server, driven by Playwright in Debian's chromium.

Screenshots of every main page go to tests/screenshots/ (ignored by git) for people to look at.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from web import create_app

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail(
            "chromium is not installed: `make test` installs Debian's chromium; run it, or apt-get install chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(db_url, session_factory, clock, tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "ATTACHMENT_DIR": str(tmp_path / "attachments"),
            "SECRET_KEY": "browser-tests",
            "GOVSHARE_DEMO": True,  # demo users; cookies over plain HTTP
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    with app.app_context():
        from web import db

        db.engine.dispose()


class Official:
    """One signed-in official in their own browser context."""

    def __init__(self, browser, base: str, username: str, lang: str):
        self.base = base
        self.lang = lang
        self.context = browser.new_context(
            locale="en-US" if lang == "en" else "zh-CN", viewport={"width": 1366, "height": 900}
        )
        self.context.add_cookies([{"name": "lang", "value": lang, "url": base}])
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.page.goto(f"{base}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", "demo")
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/inbox/mine")

    def go(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name: str):
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.{self.lang}.png"), full_page=True)

    def close(self):
        self.context.close()


@pytest.fixture
def official(chromium, live_server):
    opened = []

    def sign_in(username: str, lang: str = "zh_CN") -> Official:
        o = Official(chromium, live_server, username, lang)
        opened.append(o)
        return o

    yield sign_in
    for o in opened:
        o.close()
