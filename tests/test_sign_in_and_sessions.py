"""Sign-in, sessions and demo mode (docs/security.md): the secret key and demo accounts, throttled
and audited sign-in, server-side sessions that end for good, headers and local redirects."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import cli
from engine.audit import AuditEvent
from engine.directory import accounts, signin
from engine.directory.models import User
from engine.directory.passwords import DUMMY_HASH, check_password, hash_password
from engine.directory.sessions import open_sessions
from engine.errors import ValidationFailed
from tests.test_web import token_of
from web import ConfigurationError, create_app
from web.security import local_path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
_numbers = itertools.count()


@pytest.fixture
def app(db_url, session_factory, clock, tmp_path, monkeypatch):
    monkeypatch.delenv("GOVSHARE_SECURE_COOKIES", raising=False)
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "ATTACHMENT_DIR": str(tmp_path / "files"),
            "SECRET_KEY": "t",
            "GOVSHARE_DEMO": False,
        }
    )


@pytest.fixture
def new_user(actors):
    """A user of its own per test (so deactivating or re-passwording it disturbs no other test)."""

    def make(password: str = PASSWORD) -> str:
        name = f"t{next(_numbers)}-{uuid.uuid4().hex[:8]}"

        def go(s):
            civil = s.scalar(select(User).where(User.username == "civil.clerk"))
            s.add(
                User(
                    username=name,
                    display_name=name,
                    department_id=civil.department_id,
                    job_roles=["official"],
                    password_hash=hash_password(password),
                    active=True,
                )
            )

        actors.run(go)
        return name

    return make


def sign_in(client, username, password=PASSWORD, next_url=None):
    html = client.get("/login").get_data(as_text=True)
    path = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(
        path, data={"username": username, "password": password, "csrf_token": token_of(html)}
    )


def events(actors, ref, kinds=None):
    rows = actors.run(
        lambda s: [
            (e.kind, e.detail.get("address"), e.actor_id)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "user", AuditEvent.object_ref == ref)
                .order_by(AuditEvent.id)
            )
        ]
    )
    return [r for r in rows if kinds is None or r[0] in kinds]


# -- 3. demo mode is explicit -------------------------------------------------------------------
def test_production_start_without_a_secret_key_fails_naming_the_setting(monkeypatch, db_url):
    monkeypatch.delenv("GOVSHARE_SECRET_KEY", raising=False)
    monkeypatch.delenv("GOVSHARE_DEMO", raising=False)
    with pytest.raises(ConfigurationError, match="GOVSHARE_SECRET_KEY is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": db_url})
    env = {k: v for k, v in os.environ.items() if k not in ("GOVSHARE_SECRET_KEY", "GOVSHARE_DEMO")}
    run = subprocess.run(
        [sys.executable, "-m", "web"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert "GOVSHARE_SECRET_KEY is not set" in run.stderr and "Traceback" not in run.stderr


def test_production_refuses_the_demo_key_and_demo_mode_needs_none(monkeypatch, db_url):
    from web import DEMO_SECRET_KEY

    monkeypatch.delenv("GOVSHARE_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": db_url,
                "GOVSHARE_DEMO": False,
                "SECRET_KEY": DEMO_SECRET_KEY,
            }
        )
    demo = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_DEMO": True})
    assert demo.config["SECRET_KEY"] == DEMO_SECRET_KEY
    assert demo.config["SESSION_COOKIE_SECURE"] is False


def test_the_login_page_names_demo_accounts_only_in_demo_mode(app, db_url):
    assert "civil.clerk" not in app.test_client().get("/login").get_data(as_text=True)
    demo = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_DEMO": True})
    assert "civil.clerk" in demo.test_client().get("/login").get_data(as_text=True)


def test_seed_twice_leaves_a_deactivated_user_deactivated_with_its_password(
    actors, db_url, monkeypatch
):
    name = "yinchuan-natres.clerk"  # a demo account no other test signs in as
    old_hash = actors.run(
        lambda s: s.scalar(select(User.password_hash).where(User.username == name))
    )
    try:
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        cli.main(["--database", db_url, "users", "set-password", name])
        cli.main(["--database", db_url, "users", "deactivate", name])
        changed = actors.run(
            lambda s: s.scalar(select(User.password_hash).where(User.username == name))
        )
        for _ in range(2):
            cli.main(["--database", db_url, "seed", "--demo"])
        user = actors.run(
            lambda s: (lambda u: (u.active, u.password_hash))(
                s.scalar(select(User).where(User.username == name))
            )
        )
        assert user == (False, changed) and check_password(changed, PASSWORD)
        assert not check_password(changed, "demo")
    finally:

        def restore(s):
            u = s.scalar(select(User).where(User.username == name))
            u.active, u.password_hash = True, old_hash

        actors.run(restore)


def test_seed_creates_demo_users_only_in_demo_mode(db_url, monkeypatch, capsys):
    import engine.seed

    calls = []
    monkeypatch.setattr(engine.seed, "seed_demo_users", lambda s: calls.append(s) or 0)
    monkeypatch.delenv("GOVSHARE_DEMO", raising=False)
    cli.main(["--database", db_url, "seed"])
    assert calls == [] and "demo users" not in capsys.readouterr().out
    monkeypatch.setenv("GOVSHARE_DEMO", "1")
    cli.main(["--database", db_url, "seed"])
    assert len(calls) == 1 and "demo users" in capsys.readouterr().out


# -- 4. sign-in: throttling, the same work for unknown users, audited ------------------------
def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(app, new_user, clock):
    name = new_user()
    client = app.test_client()
    for _ in range(signin.MAX_FAILURES_PER_ACCOUNT):
        r = sign_in(client, name, "wrong password")
        assert r.status_code == 200 and "User name or password is wrong" not in r.get_data(
            as_text=True
        )  # the page is in Chinese by default
    r = sign_in(client, name)
    assert r.status_code == 429
    assert "15" in r.get_data(as_text=True) and "用户名或密码错误" not in r.get_data(as_text=True)
    assert client.get("/inbox/mine").status_code == 302
    clock.advance(minutes=15)
    assert sign_in(client, name).status_code == 302


def test_twenty_failures_from_one_address_lock_that_address_only(app, new_user):
    name = new_user()
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for i in range(signin.MAX_FAILURES_PER_ADDRESS):
        sign_in(attacker, f"nobody{i}", "guess")
    assert sign_in(attacker, name).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert sign_in(other, name).status_code == 302


def test_an_unknown_user_costs_the_same_scrypt_work_and_gets_the_same_answer(
    session_factory, clock, new_user, monkeypatch
):
    name = new_user()
    checked = []

    def spy(stored, password):
        checked.append(stored == DUMMY_HASH)
        return check_password(stored, password)

    monkeypatch.setattr(signin, "check_password", spy)
    with session_factory() as s, s.begin():
        known = signin.sign_in(s, clock, name, "wrong", "192.0.2.1")
        unknown = signin.sign_in(s, clock, "no-such-user", "wrong", "192.0.2.1")
    assert checked == [False, True]
    assert known.message == unknown.message and known.user is unknown.user is None


def test_an_unknown_name_is_locked_like_a_known_one(session_factory, clock):
    with session_factory() as s, s.begin():
        results = [signin.sign_in(s, clock, "ghost", "x", f"192.0.2.{i}") for i in range(6)]
    assert [r.locked for r in results] == [False] * 5 + [True]
    assert "15 minutes" in str(results[-1].message)


def test_every_sign_in_attempt_and_sign_out_is_audited_with_the_address(app, actors, new_user):
    name = new_user()
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    sign_in(client, name, "wrong")
    sign_in(client, name)
    html = client.get("/inbox/mine").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token_of(html)})
    for _ in range(5):
        sign_in(client, name, "wrong")
    sign_in(client, name)
    user_id = actors.run(lambda s: s.scalar(select(User.id).where(User.username == name)))
    assert events(actors, name) == [
        ("sign_in_failed", "192.0.2.44", None),
        ("sign_in", "192.0.2.44", user_id),
        ("sign_out", "192.0.2.44", user_id),
        *[("sign_in_failed", "192.0.2.44", None)] * 5,
        ("sign_in_locked", "192.0.2.44", None),
    ]


def test_api_token_use_is_audited_once_an_hour_not_per_call(app, actors, clock):
    client = app.test_client()
    headers = {"Authorization": "Bearer demo-health.clerk"}
    for _ in range(3):
        assert client.get("/api/v1/tasks", headers=headers).status_code == 200
        clock.advance(minutes=10)
    clock.advance(minutes=40)
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    assert [e[0] for e in events(actors, "health.clerk")] == ["api_token_used"] * 2


# -- 5. sessions ------------------------------------------------------------------------------
def test_signout_revokes_the_old_cookie(app, new_user):
    name = new_user()
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    cookie = client.get_cookie("session").value
    html = client.get("/inbox/mine").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": token_of(html)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    r = thief.get("/inbox/mine")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_signing_in_again_ends_the_previous_session_of_the_browser(app, new_user):
    name = new_user()
    client = app.test_client()
    sign_in(client, name)
    old = client.get_cookie("session").value
    assert sign_in(client, name).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", old)
    assert thief.get("/inbox/mine").status_code == 302
    assert client.get("/inbox/mine").status_code == 200


def test_the_cookie_is_secure_httponly_and_samesite_in_production(
    app, new_user, db_url, monkeypatch
):
    r = sign_in(app.test_client(), new_user())
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    monkeypatch.setenv("GOVSHARE_SECURE_COOKIES", "0")  # plain HTTP behind a trusted network
    plain = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "t", "GOVSHARE_DEMO": False}
    )
    assert plain.config["SESSION_COOKIE_SECURE"] is False


def test_deactivating_a_user_ends_their_sessions_and_tokens(app, new_user, db_url, actors):
    name = new_user()
    client = app.test_client()
    sign_in(client, name)
    assert client.get("/inbox/mine").status_code == 200
    cli.main(["--database", db_url, "users", "deactivate", name])
    assert client.get("/inbox/mine").status_code == 302
    assert sign_in(app.test_client(), name).status_code == 200  # refused, as a wrong password
    assert [e[0] for e in events(actors, name, {"user_deactivated"})] == ["user_deactivated"]


def test_set_password_reads_stdin_never_argv_and_ends_sessions(app, new_user, db_url, monkeypatch):
    name = new_user()
    client = app.test_client()
    sign_in(client, name)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a brand new secret\n"))
    cli.main(["--database", db_url, "users", "set-password", name])
    assert client.get("/inbox/mine").status_code == 302
    assert sign_in(app.test_client(), name).status_code == 200
    assert sign_in(app.test_client(), name, "a brand new secret").status_code == 302
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--database", db_url, "users", "set-password", name])
    assert exit_.value.code == 2


def test_changing_my_password_ends_my_other_sessions(app, new_user, actors):
    name = new_user()
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, name)
    sign_in(phone, name)
    html = laptop.get("/account/password").get_data(as_text=True)
    r = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another long secret",
            "repeat_password": "another long secret",
            "csrf_token": token_of(html),
        },
    )
    assert r.status_code == 302
    assert laptop.get("/inbox/mine").status_code == 200
    assert phone.get("/inbox/mine").status_code == 302
    assert sign_in(app.test_client(), name, "another long secret").status_code == 302
    assert [e[0] for e in events(actors, name, {"password_changed"})] == ["password_changed"]


def test_a_short_or_mismatched_new_password_is_refused_naming_the_fields(app, new_user, actors):
    name = new_user()
    client = app.test_client()
    sign_in(client, name)
    html = client.get("/account/password").get_data(as_text=True)
    r = client.post(
        "/account/password",
        data={
            "current_password": "not it",
            "new_password": "short",
            "repeat_password": "shorter",
            "csrf_token": token_of(html),
        },
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "当前密码" in page and "新密码" in page and "重复新密码" in page
    assert sign_in(app.test_client(), name).status_code == 302  # the old password still works
    with pytest.raises(ValidationFailed):
        actors.run(
            lambda s: accounts.change_password(
                s,
                actors.clock,
                s.scalar(select(User).where(User.username == name)),
                PASSWORD,
                "x" * (accounts.MIN_PASSWORD_LENGTH - 1),
                "x" * (accounts.MIN_PASSWORD_LENGTH - 1),
            )
        )


def test_a_session_ends_after_eight_hours_however_active(app, new_user, clock, actors):
    name = new_user()
    client = app.test_client()
    sign_in(client, name)
    for _ in range(19):  # every 25 minutes, within the idle limit, for 7 h 55 min
        clock.advance(minutes=25)
        assert client.get("/inbox/mine").status_code == 200
    clock.advance(minutes=10)
    r = client.get("/inbox/mine")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    user_id = actors.run(lambda s: s.scalar(select(User.id).where(User.username == name)))
    assert actors.run(lambda s: open_sessions(s, user_id)) == []


# -- headers and redirects --------------------------------------------------------------------
def test_every_response_carries_the_security_headers(app):
    client = app.test_client()
    for path in ("/login", "/public/", "/static/app.css", "/no-such-page"):
        h = client.get(path).headers
        csp = h["Content-Security-Policy"]
        script = next(p for p in csp.split("; ") if p.startswith("script-src"))
        assert "'unsafe-inline'" not in script and "frame-ancestors 'none'" in csp, path
        assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in h
    assert (
        "Strict-Transport-Security" in client.get("/login", base_url="https://gov.example").headers
    )


def test_hsts_follows_the_proxy_only_when_it_is_trusted(app, db_url):
    forwarded = {"X-Forwarded-Proto": "https"}
    assert (
        "Strict-Transport-Security"
        not in app.test_client().get("/login", headers=forwarded).headers
    )
    proxied = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "t", "GOVSHARE_PROXY_FIX": 1}
    )
    assert (
        "Strict-Transport-Security"
        in proxied.test_client().get("/login", headers=forwarded).headers
    )


HOSTILE = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "evil.example",
    "/\x00/evil.example",
    "",
    None,
]


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_redirect_target_is_refused(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", ["/inbox/mine", "/requests/GX-2026-000001?tab=1", "/"])
def test_a_local_path_is_kept(target):
    assert local_path(target) == target


def test_login_and_language_switch_redirect_only_to_local_paths(app, new_user):
    client = app.test_client()
    r = sign_in(client, new_user(), next_url="/%09/evil.example")
    assert r.headers["Location"] == "/inbox/mine"
    for hostile in ("/%09/evil.example", "//evil.example", "/%5Cevil.example"):
        assert client.get(f"/lang/en?next={hostile}").headers["Location"] == "/inbox/mine"
    assert client.get("/lang/en?next=/catalog/").headers["Location"] == "/catalog/"


def test_no_template_has_inline_script_or_event_handlers():
    import re

    for path in (ROOT / "web" / "templates").rglob("*.html"):
        text = path.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path
