"""Single sign-on with OpenID Connect against a real provider the tests start (tests/oidc_provider.py):
discovery, the authorization redirect, the token request, JWKS and signed ID tokens; state and
nonce are checked, and no validation is mocked. The browser tests (tests/browser/test_sso.py)
click through the same flow in chromium."""

from __future__ import annotations

import itertools
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.directory import sso
from engine.directory.models import SignInFailure, User, UserSession
from engine.directory.passwords import hash_password
from engine.errors import Conflict, Forbidden
from engine.workflow import accounts as workflow_accounts
from tests.oidc_provider import RunningProvider, forget_subjects
from tests.test_web import token_of
from web import ConfigurationError, create_app

_numbers = itertools.count()


@pytest.fixture
def provider(clock, engine):
    running = RunningProvider(clock.now)
    yield running
    running.stop()
    forget_subjects(engine)


def make_app(db_url, clock, tmp_path, **settings):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "ATTACHMENT_DIR": str(tmp_path / "files"),
            "SECRET_KEY": "t",
            "GOVSHARE_DEMO": False,
            **settings,
        }
    )


@pytest.fixture
def app(db_url, session_factory, clock, tmp_path, provider):
    return make_app(db_url, clock, tmp_path, **provider.settings())


@pytest.fixture
def new_user(actors):
    """A user of its own (so deactivating or linking it disturbs no other test)."""

    def make(active: bool = True, external_id: str | None = None) -> str:
        name = f"sso{next(_numbers)}-{uuid.uuid4().hex[:8]}"

        def go(s):
            civil = s.scalar(select(User).where(User.username == "civil.clerk"))
            s.add(
                User(
                    username=name,
                    display_name=name,
                    department_id=civil.department_id,
                    job_roles=["official"],
                    password_hash=hash_password("correct horse battery"),
                    active=active,
                    external_id=external_id,
                )
            )

        actors.run(go)
        return name

    return make


def english(client):
    client.set_cookie("lang", "en")
    return client


def sso_sign_in(client, provider, then=None):
    """Click "sign in with unified identity authentication": to the provider and back.
    ``then(provider)`` runs between the start and the provider's answer."""
    start = client.get("/login/sso")
    assert start.status_code == 302, start.get_data(as_text=True)
    assert start.location.startswith(provider.issuer + "/authorize")
    if then:
        then(provider)
    answer = requests.get(start.location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def signed_in(client) -> bool:
    return client.get("/inbox/mine").status_code == 200


def audit_reasons(actors, kind="sso_refused"):
    return actors.run(
        lambda s: [
            e.detail.get("reason")
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
            )
        ]
    )


def test_sign_in_page_offers_single_sign_on_only_when_configured(app, db_url, clock, tmp_path):
    page = app.test_client().get("/login?lang=en").get_data(as_text=True)
    assert "Sign in with unified identity authentication" in page
    zh = app.test_client().get("/login").get_data(as_text=True)
    assert "使用统一身份认证登录" in zh and 'name="password"' in zh
    plain = make_app(db_url, clock, tmp_path).test_client().get("/login?lang=zh_CN")
    assert "统一身份认证" not in plain.get_data(as_text=True)


def test_provider_sign_in_opens_a_session_and_lands_on_the_inbox(app, provider, actors):
    client = english(app.test_client())
    r = sso_sign_in(client, provider)
    assert r.status_code == 302 and r.location.endswith("/inbox/mine")
    assert signed_in(client)
    events = actors.run(
        lambda s: [
            (e.object_ref, e.detail.get("method"))
            for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == "sign_in"))
        ]
    )
    assert events == [("civil.clerk", "oidc")]
    assert actors.run(lambda s: s.scalar(select(func.count(UserSession.id)))) == 1


def test_sign_in_returns_to_the_page_asked_for(app, provider):
    client = english(app.test_client())
    start = client.get("/login/sso?next=/catalog/")
    answer = requests.get(start.location, allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["Location"])
    assert client.get(f"{back.path}?{back.query}").location.endswith("/catalog/")


@pytest.mark.parametrize(
    ("mode", "reason", "says"),
    [
        ("bad_signature", "signature", "is not signed with the provider"),
        ("wrong_audience", "audience", "issued for another application"),
        ("expired", "expired", "has expired"),
        ("wrong_issuer", "issuer", "issued by another identity provider"),
        ("deny", "provider", "user cancelled"),
    ],
)
def test_a_bad_answer_from_the_provider_is_refused_without_a_session(
    app, provider, actors, mode, reason, says
):
    client = english(app.test_client())
    provider.provider.mode = mode
    r = sso_sign_in(client, provider)
    assert r.status_code == 403 and says in r.get_data(as_text=True)
    assert not signed_in(client)
    assert audit_reasons(actors) == [reason]
    assert actors.run(lambda s: s.scalar(select(func.count(UserSession.id)))) == 0
    assert actors.run(lambda s: s.scalar(select(func.count(SignInFailure.id)))) == 1


def test_a_replayed_id_token_with_an_earlier_nonce_is_refused(app, provider, actors):
    first = english(app.test_client())
    assert sso_sign_in(first, provider).status_code == 302
    provider.provider.mode = "replay"
    second = english(app.test_client())
    r = sso_sign_in(second, provider)
    assert r.status_code == 403 and "may replay an earlier one" in r.get_data(as_text=True)
    assert not signed_in(second)
    assert audit_reasons(actors) == ["nonce"]


def test_a_callback_is_good_once(app, provider, actors):
    client = english(app.test_client())
    start = client.get("/login/sso")
    answer = requests.get(start.location, allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["Location"])
    callback = f"{back.path}?{back.query}"
    assert client.get(callback).status_code == 302
    client.post("/logout", data={"csrf_token": token_of(client.get("/inbox/mine").text)})
    again = client.get(callback)
    assert again.status_code == 403 and "already used" in again.get_data(as_text=True)
    assert audit_reasons(actors) == ["state"]


def test_a_callback_in_another_browser_is_refused(app, provider, actors):
    """Login CSRF: the answer to a sign-in started elsewhere does not sign this browser in."""
    start = english(app.test_client()).get("/login/sso")
    answer = requests.get(start.location, allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["Location"])
    victim = english(app.test_client())
    assert victim.get(f"{back.path}?{back.query}").status_code == 403
    assert not signed_in(victim)


def test_an_unknown_identity_is_refused_and_told_to_ask_the_administrator(app, provider, actors):
    provider.provider.user = {"sub": "u-9", "preferred_username": "nobody.here"}
    client = english(app.test_client())
    r = sso_sign_in(client, provider)
    page = r.get_data(as_text=True)
    assert r.status_code == 403 and "Ask your administrator" in page and "nobody.here" in page
    assert not signed_in(client)
    assert (
        actors.run(lambda s: s.scalar(select(User).where(User.username == "nobody.here"))) is None
    )


def test_a_deactivated_account_is_refused(app, provider, actors, clock, new_user):
    name = new_user()
    actors.run(lambda s: workflow_accounts.deactivate_account(s, clock, None, name))
    provider.provider.user = {"sub": "u-2", "preferred_username": name}
    client = english(app.test_client())
    r = sso_sign_in(client, provider)
    assert r.status_code == 403 and "deactivated" in r.get_data(as_text=True)
    assert not signed_in(client)
    assert audit_reasons(actors) == ["inactive"]


def test_the_first_sign_in_pins_the_account_to_the_providers_subject(app, provider, actors):
    assert sso_sign_in(english(app.test_client()), provider).status_code == 302
    pinned = actors.run(
        lambda s: s.scalar(select(User.sso_subject).where(User.username == "civil.clerk"))
    )
    assert pinned == "u-1"
    # a renamed account at the provider still signs in by its subject
    provider.provider.user = {"sub": "u-1", "preferred_username": "renamed.at.provider"}
    client = english(app.test_client())
    assert sso_sign_in(client, provider).status_code == 302 and signed_in(client)


def test_another_subject_with_a_pinned_accounts_name_is_refused(app, provider, actors):
    assert sso_sign_in(english(app.test_client()), provider).status_code == 302
    provider.provider.user = {"sub": "someone-else", "preferred_username": "civil.clerk"}
    client = english(app.test_client())
    r = sso_sign_in(client, provider)
    assert r.status_code == 403 and "does not match" in r.get_data(as_text=True)
    assert not signed_in(client)
    assert audit_reasons(actors) == ["subject"]


def test_repeated_refusals_lock_the_identity_like_wrong_passwords(app, provider, clock, new_user):
    name = new_user(active=False)
    provider.provider.user = {"sub": "u-3", "preferred_username": name}
    for _ in range(5):
        assert sso_sign_in(english(app.test_client()), provider).status_code == 403
    r = sso_sign_in(english(app.test_client()), provider)
    assert "Too many failed sign-ins" in r.get_data(as_text=True)


def test_link_by_external_id(db_url, clock, tmp_path, provider, actors, new_user):
    name = new_user()
    actors.run(lambda s: sso.link_account(s, clock, name, "E-10042"))
    app = make_app(
        db_url,
        clock,
        tmp_path,
        **provider.settings(),
        GOVSHARE_OIDC_CLAIM="employee_number",
        GOVSHARE_OIDC_LINK="external_id",
    )
    provider.provider.user = {"sub": "u-4", "employee_number": "E-10042"}
    client = english(app.test_client())
    assert sso_sign_in(client, provider).status_code == 302
    assert f">{name}<" in client.get("/inbox/mine").get_data(as_text=True) or signed_in(client)
    assert (
        actors.run(lambda s: s.scalar(select(User).where(User.external_id == "E-10042"))).username
        == name
    )


def test_an_external_id_links_one_account_only(actors, clock, new_user):
    first, second = new_user(), new_user()
    actors.run(lambda s: sso.link_account(s, clock, first, "E-1"))
    with pytest.raises(Conflict):
        actors.run(lambda s: sso.link_account(s, clock, second, "E-1"))


def test_only_an_administrator_links_an_account(actors, clock, new_user):
    name = new_user()
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: sso.link_account(s, clock, name, "E-5", actor=actors.user(s, "civil.clerk"))
        )


def test_unknown_identity_gets_an_inactive_account_when_configured(
    db_url, clock, tmp_path, provider, actors
):
    app = make_app(
        db_url,
        clock,
        tmp_path,
        **provider.settings(),
        GOVSHARE_OIDC_CREATE_ACCOUNTS="1",
        GOVSHARE_OIDC_NEW_ACCOUNT_DEPARTMENT="data",
    )
    username = f"new.{uuid.uuid4().hex[:6]}"
    provider.provider.user = {"sub": "u-5", "preferred_username": username, "name": "新 同事"}
    client = english(app.test_client())
    r = sso_sign_in(client, provider)
    assert r.status_code == 200 and "awaits an administrator" in r.get_data(as_text=True)
    assert not signed_in(client)
    user = actors.run(lambda s: s.scalar(select(User).where(User.username == username)))
    assert user.active is False and user.display_name == "新 同事" and user.password_hash is None
    assert audit_reasons(actors, "sso_account_created") == [None]


def test_account_creation_never_takes_an_existing_accounts_name(
    db_url, clock, tmp_path, provider, actors, new_user
):
    name = new_user()  # linked by external id below, so its user name links nothing
    app = make_app(
        db_url,
        clock,
        tmp_path,
        **provider.settings(),
        GOVSHARE_OIDC_LINK="external_id",
        GOVSHARE_OIDC_CREATE_ACCOUNTS="1",
        GOVSHARE_OIDC_NEW_ACCOUNT_DEPARTMENT="data",
    )
    provider.provider.user = {"sub": "u-6", "preferred_username": name}
    r = sso_sign_in(english(app.test_client()), provider)
    assert r.status_code == 403 and "Ask your administrator" in r.get_data(as_text=True)


def test_local_passwords_off_hides_the_form_and_refuses_passwords(
    db_url, clock, tmp_path, provider
):
    app = make_app(
        db_url,
        clock,
        tmp_path,
        **provider.settings(),
        GOVSHARE_LOCAL_PASSWORDS="0",
        WTF_CSRF_ENABLED=False,  # the refusal itself, not the missing form's token
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "使用统一身份认证登录" in page and 'name="password"' not in page
    r = client.post("/login", data={"username": "civil.clerk", "password": "demo"})
    assert r.status_code == 403 and not signed_in(client)
    assert sso_sign_in(client, provider).status_code == 302
    inbox = client.get("/inbox/mine").get_data(as_text=True)
    assert "修改密码" not in inbox and client.get("/account/password").status_code == 404


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        (
            {"GOVSHARE_OIDC_ISSUER": "https://idp.example", "GOVSHARE_OIDC_CLIENT_ID": "g"},
            "CLIENT_SECRET",
        ),
        ({"GOVSHARE_OIDC_CLIENT_SECRET": "s"}, "GOVSHARE_OIDC_ISSUER is not"),
        ({"GOVSHARE_LOCAL_PASSWORDS": "0"}, "no one could sign in"),
        (
            {
                "GOVSHARE_OIDC_ISSUER": "https://idp.example",
                "GOVSHARE_OIDC_CLIENT_ID": "g",
                "GOVSHARE_OIDC_CLIENT_SECRET": "s",
                "GOVSHARE_OIDC_CREATE_ACCOUNTS": "1",
            },
            "NEW_ACCOUNT_DEPARTMENT",
        ),
    ],
)
def test_half_configured_single_sign_on_refuses_to_start(db_url, clock, tmp_path, settings, names):
    with pytest.raises(ConfigurationError, match=names):
        make_app(db_url, clock, tmp_path, **settings)


def test_half_configured_environment_refuses_to_start(db_url, clock, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVSHARE_OIDC_ISSUER", "https://idp.example")
    with pytest.raises(ConfigurationError, match="CLIENT_ID"):
        make_app(db_url, clock, tmp_path)


def test_an_unreachable_provider_is_a_clear_page(db_url, clock, tmp_path):
    app = make_app(
        db_url,
        clock,
        tmp_path,
        GOVSHARE_OIDC_ISSUER="http://127.0.0.1:9",
        GOVSHARE_OIDC_CLIENT_ID="g",
        GOVSHARE_OIDC_CLIENT_SECRET="s",
    )
    r = english(app.test_client()).get("/login/sso")
    assert r.status_code == 502 and "could not be reached" in r.get_data(as_text=True)


def test_the_operator_links_and_unlinks_an_account_at_the_command_line(
    db_url, actors, new_user, capsys
):
    from engine import cli

    name = new_user()
    cli.main(["--database", db_url, "sso", "link", name, "E-77"])
    assert "E-77" in capsys.readouterr().out
    linked = actors.run(lambda s: s.scalar(select(User.external_id).where(User.username == name)))
    assert linked == "E-77"
    cli.main(["--database", db_url, "sso", "link", name])
    assert (
        actors.run(lambda s: s.scalar(select(User.external_id).where(User.username == name)))
        is None
    )
    events = actors.run(
        lambda s: [
            (e.detail["before"], e.detail["after"])
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.kind == "sso_link_set").order_by(AuditEvent.id)
            )
        ]
    )
    assert events == [
        ({"external_id": None, "sso_subject": None}, {"external_id": "E-77", "sso_subject": None}),
        ({"external_id": "E-77", "sso_subject": None}, {"external_id": None, "sso_subject": None}),
    ]


def test_a_mangled_callback_is_refused_not_an_error(app, provider):
    client = english(app.test_client())
    client.get("/login/sso")
    for query in ("state=%E4%B8%AD%ED%A0%80&code=x", "code=x", "state=" + "a" * 5000, ""):
        r = client.get(f"/login/sso/callback?{query}")
        assert r.status_code == 403 and "Start the sign-in again" in r.get_data(as_text=True)


@pytest.mark.filterwarnings("ignore:JWS algorithm")  # the test makes the unsigned token itself
def test_a_token_signed_with_a_shared_secret_or_unsigned_is_refused(provider, clock):
    """The algorithm-confusion attacks: HS256 keyed with the public key's text, and alg none."""
    from joserfc.jwk import OctKey

    settings = sso.settings_from(provider.settings())
    jwks = provider.provider.key.as_dict(private=False)
    claims = {
        "iss": provider.issuer,
        "aud": settings.client_id,
        "sub": "u-1",
        "nonce": "n",
        "iat": int(clock.now().timestamp()),
        "exp": int(clock.now().timestamp()) + 300,
    }
    from joserfc import jwt
    from joserfc.jws import JWSRegistry

    shared = OctKey.import_key(settings.client_secret)
    hs256 = jwt.encode({"alg": "HS256", "kid": "k1"}, claims, shared)
    unsigned = jwt.encode({"alg": "none"}, claims, None, registry=JWSRegistry(algorithms=["none"]))
    for token in (hs256, unsigned):
        with pytest.raises(sso.SsoRefused) as refused:
            sso.verify_id_token(
                settings,
                token,
                {"keys": [jwks]},
                nonce="n",
                clock=clock,
                algorithms=["RS256", "HS256", "none"],
            )
        assert refused.value.reason in ("signature", "token")
    good = provider.provider.id_token("n")
    assert sso.verify_id_token(settings, good, {"keys": [jwks]}, nonce="n", clock=clock)["sub"]


def test_an_account_without_a_local_password_is_not_offered_a_password_change(
    app, provider, actors, new_user
):
    name = new_user()
    actors.run(
        lambda s: setattr(
            s.scalar(select(User).where(User.username == name)), "password_hash", None
        )
    )
    provider.provider.user = {"sub": "u-nopass", "preferred_username": name}
    client = english(app.test_client())
    sso_sign_in(client, provider)
    assert signed_in(client)
    page = client.get("/inbox/mine").get_data(as_text=True)
    assert "Leave cover" in page and "Change my password" not in page
