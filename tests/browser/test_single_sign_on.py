"""Single sign-on in the browser, end to end against the OpenID Connect provider the tests start
(tests/oidc_provider.py): an official clicks 使用统一身份认证登录 and lands signed in on the inbox;
a bad signature, a wrong audience, a replayed nonce, an unknown identity and a deactivated account
each end on a page that says why, with no session."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.directory.models import User
from engine.directory.passwords import hash_password
from engine.workflow import accounts as workflow_accounts
from tests.browser.conftest import SCREENSHOTS
from tests.oidc_provider import RunningProvider, forget_subjects
from web import create_app


@pytest.fixture
def provider(clock, engine):
    running = RunningProvider(clock.now)
    yield running
    running.stop()
    forget_subjects(engine)


@pytest.fixture
def sso_server(db_url, session_factory, clock, tmp_path, provider):
    """The app on a live local server, pointed at the test provider (passwords still allowed)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "ATTACHMENT_DIR": str(tmp_path / "attachments"),
            "SECRET_KEY": "browser-tests",
            "GOVSHARE_DEMO": True,
            **provider.settings(),
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


class Visitor:
    """Someone not yet signed in, in a browser context of their own."""

    def __init__(self, browser, base: str, lang: str = "zh_CN"):
        self.base, self.lang = base, lang
        self.context = browser.new_context(
            locale="en-US" if lang == "en" else "zh-CN", viewport={"width": 1366, "height": 900}
        )
        self.context.add_cookies([{"name": "lang", "value": lang, "url": base}])
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)

    def sign_in_with_provider(self):
        self.page.goto(f"{self.base}/login")
        self.page.click("#sso-sign-in")
        self.page.wait_for_load_state()
        return self.page

    def signed_in(self) -> bool:
        self.page.goto(f"{self.base}/inbox/mine")
        return "/login" not in self.page.url

    def shot(self, name: str):
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.{self.lang}.png"), full_page=True)


@pytest.fixture
def visitor(chromium, sso_server):
    opened = []

    def open_(lang: str = "zh_CN") -> Visitor:
        v = Visitor(chromium, sso_server, lang)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.context.close()


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_official_signs_in_with_unified_identity_authentication(visitor, lang):
    v = visitor(lang)
    v.page.goto(f"{v.base}/login")
    button = v.page.locator("#sso-sign-in")
    expected = "使用统一身份认证登录" if lang == "zh_CN" else "Sign in with unified identity"
    assert expected in button.inner_text()
    v.shot("sso-sign-in-page")
    button.click()
    v.page.wait_for_url("**/inbox/mine")
    assert "民政" in v.page.content() or "Civil" in v.page.content()
    v.shot("sso-signed-in-inbox")


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("bad_signature", "未使用该平台的密钥签名"),
        ("wrong_audience", "签发给其他应用"),
        ("replay", "可能是重放的旧令牌"),
    ],
)
def test_a_bad_answer_is_refused_with_a_clear_page_and_no_session(visitor, provider, mode, says):
    if mode == "replay":  # an earlier sign-in whose ID token the provider then hands out again
        earlier = visitor()
        earlier.sign_in_with_provider().wait_for_url("**/inbox/mine")
    provider.provider.mode = mode
    v = visitor()
    page = v.sign_in_with_provider()
    refusal = page.locator("#sso-refusal")
    assert "登录被拒绝" in refusal.inner_text() and says in refusal.inner_text()
    v.shot(f"sso-refused-{mode}")
    assert not v.signed_in()


def test_an_unknown_identity_is_told_to_ask_the_administrator(visitor, provider):
    provider.provider.user = {"sub": "u-77", "preferred_username": "stranger.somewhere"}
    v = visitor()
    text = v.sign_in_with_provider().locator("#sso-refusal").inner_text()
    assert "没有关联本系统的账号" in text and "stranger.somewhere" in text
    v.shot("sso-refused-unknown")
    assert not v.signed_in()


def test_a_deactivated_account_is_refused(visitor, provider, actors, clock):
    name = f"sso-b-{uuid.uuid4().hex[:8]}"

    def make(s):
        civil = s.scalar(select(User).where(User.username == "civil.clerk"))
        s.add(
            User(
                username=name,
                display_name="离任 同事",
                department_id=civil.department_id,
                job_roles=["official"],
                password_hash=hash_password("correct horse battery"),
                active=True,
            )
        )

    actors.run(make)
    actors.run(lambda s: workflow_accounts.deactivate_account(s, clock, None, name))
    provider.provider.user = {"sub": "u-78", "preferred_username": name}
    v = visitor("en")
    text = v.sign_in_with_provider().locator("#sso-refusal").inner_text()
    assert "Your account is deactivated" in text
    v.shot("sso-refused-deactivated")
    assert not v.signed_in()
