"""Single sign-on with OpenID Connect (issue 14): settings, pending sign-ins, the check of the
identity provider's ID token, and the link from the provider's identity to a govshare account.

The web layer (web/sso_views.py) speaks HTTP to the provider through Authlib (discovery, the
redirect, the token request, the JWKS); everything that decides lives here, so that it is the
same wherever it is called from and is tested without a browser:

* :func:`begin` stores a **pending sign-in** (random ``state`` and ``nonce``) in the database. It
  is good once and for ``PENDING_LIFETIME``; :func:`take_pending` consumes it atomically, so of
  two callbacks with the same state exactly one goes on (the other is refused as a replay).
* :func:`verify_id_token` checks the ID token's signature against the provider's JWKS and its
  issuer, audience, expiry (by the injected clock) and nonce (Authlib's OpenID Connect claims over
  joserfc); any failure is an :class:`SsoRefused` naming the reason.
* :func:`sign_in` finds the account the configured claim links to. An unknown identity is refused
  (or, when configured, gets a new account that stays **inactive** until an administrator assigns
  its department and activates it); a deactivated account is refused. Every refusal is audited
  (``sso_refused``) and counted like a failed password sign-in (``sign_in_failure`` rows), so an
  address that keeps failing is locked the same way (engine.directory.signin).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.admin import require_admin
from engine.directory.models import Department, SignInFailure, SsoPendingSignIn, User
from engine.directory.signin import locked_until
from engine.errors import Conflict, NotFound
from engine.i18n import Message
from engine.inputs import scrubbed

PENDING_LIFETIME = timedelta(minutes=10)
LEEWAY_SECONDS = 60  # clock skew allowed between the provider and govshare
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
LINK_FIELDS = ("username", "external_id")
SETTING_PREFIXES = ("GOVSHARE_OIDC_", "GOVSHARE_LOCAL_PASSWORDS")  # app config may override env

REASONS: dict[str, Message] = {
    "state": Message(
        "This sign-in was not started in this browser, was already used or has expired. "
        "Start the sign-in again."
    ),
    "provider": Message("The identity provider did not sign you in: %(detail)s"),
    "unreachable": Message(
        "The identity provider could not be reached. Try again later, or ask your administrator."
    ),
    "token": Message("The identity provider's answer could not be obtained or read."),
    "signature": Message(
        "The identity provider's answer is not signed with the provider's keys; it was refused."
    ),
    "issuer": Message("The identity token was issued by another identity provider."),
    "audience": Message("The identity token was issued for another application."),
    "expired": Message("The identity token has expired. Start the sign-in again."),
    "nonce": Message(
        "The identity token does not belong to this sign-in (it may replay an earlier one); "
        "it was refused."
    ),
    "claim": Message(
        "The identity provider did not send the claim %(claim)s that links you to an account."
    ),
    "unknown": Message(
        "No govshare account is linked to your identity (%(identity)s). Ask your administrator "
        "to create your account or to link it to your identity."
    ),
    "subject": Message(
        "Your identity does not match the one this account was first signed in with. Ask your "
        "administrator to check the link of your account."
    ),
    "inactive": Message("Your account is deactivated. Ask your administrator to reactivate it."),
    "created": Message(
        "Your account has been created and awaits an administrator, who assigns your department "
        "and activates it. You can sign in once that is done."
    ),
    "locked": Message("Too many failed sign-ins. Try again in %(n)s minutes."),
}


class SsoRefused(Exception):
    """A sign-in that the identity provider's answer or the directory does not allow.

    ``reason`` is one of :data:`REASONS`' keys (it is audited); ``message`` is shown."""

    def __init__(self, reason: str, **params: object) -> None:
        self.reason = reason
        self.params = params
        self.message = Message(REASONS[reason].msgid, **params)
        self.recorded = False  # audited and counted (by refuse)
        super().__init__(reason)


class ConfigurationProblem(ValueError):
    """OpenID Connect is half-configured; the message names the settings to fix."""


@dataclass(frozen=True)
class SsoSettings:
    """How the installation signs people in (docs/administration.md, "Single sign-on").

    ``enabled`` is False when no issuer is set; ``local_passwords`` says whether the password
    form is offered beside single sign-on."""

    issuer: str = ""
    discovery_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    scopes: str = "openid profile"
    claim: str = "preferred_username"
    link: str = "username"  # username | external_id
    create_accounts: bool = False
    new_account_department: str = ""
    local_passwords: bool = True

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not str(value).strip():
        return default
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def settings_from(env: Mapping[str, Any]) -> SsoSettings:
    """The settings from environment variables (``GOVSHARE_OIDC_*``, ``GOVSHARE_LOCAL_PASSWORDS``).

    Raises :class:`ConfigurationProblem` when they are half set (an issuer without a client id or
    secret, a secret without an issuer, account creation without a department, local passwords
    off without single sign-on): the app then refuses to start rather than run half-protected."""

    def get(name: str, default: str = "") -> str:
        return str(env.get(name) or default).strip()

    issuer = get("GOVSHARE_OIDC_ISSUER").rstrip("/")
    settings = SsoSettings(
        issuer=issuer,
        discovery_url=get("GOVSHARE_OIDC_DISCOVERY_URL")
        or (f"{issuer}/.well-known/openid-configuration" if issuer else ""),
        client_id=get("GOVSHARE_OIDC_CLIENT_ID"),
        client_secret=get("GOVSHARE_OIDC_CLIENT_SECRET"),
        scopes=get("GOVSHARE_OIDC_SCOPES", "openid profile"),
        claim=get("GOVSHARE_OIDC_CLAIM", "preferred_username"),
        link=get("GOVSHARE_OIDC_LINK", "username"),
        create_accounts=_flag(env.get("GOVSHARE_OIDC_CREATE_ACCOUNTS"), False),
        new_account_department=get("GOVSHARE_OIDC_NEW_ACCOUNT_DEPARTMENT"),
        local_passwords=_flag(env.get("GOVSHARE_LOCAL_PASSWORDS"), True),
    )
    problems = configuration_problems(settings, env)
    if problems:
        raise ConfigurationProblem(
            "Single sign-on (OpenID Connect) is half-configured: "
            + "; ".join(problems)
            + ". See docs/administration.md, 'Single sign-on'."
        )
    return settings


def configuration_problems(settings: SsoSettings, env: Mapping[str, Any]) -> list[str]:
    """What is missing or contradictory, one sentence per setting (empty: consistent)."""
    problems = []
    if settings.enabled:
        if not settings.client_id:
            problems.append("GOVSHARE_OIDC_ISSUER is set but GOVSHARE_OIDC_CLIENT_ID is not")
        if not settings.client_secret:
            problems.append("GOVSHARE_OIDC_ISSUER is set but GOVSHARE_OIDC_CLIENT_SECRET is not")
        if "openid" not in settings.scopes.split():
            problems.append("GOVSHARE_OIDC_SCOPES must include openid")
        if settings.link not in LINK_FIELDS:
            problems.append("GOVSHARE_OIDC_LINK must be username or external_id")
        if settings.create_accounts and not settings.new_account_department:
            problems.append(
                "GOVSHARE_OIDC_CREATE_ACCOUNTS is on but GOVSHARE_OIDC_NEW_ACCOUNT_DEPARTMENT "
                "(the department new accounts wait in) is not set"
            )
    else:
        for name in (
            "GOVSHARE_OIDC_CLIENT_ID",
            "GOVSHARE_OIDC_CLIENT_SECRET",
            "GOVSHARE_OIDC_DISCOVERY_URL",
        ):
            if str(env.get(name) or "").strip():
                problems.append(f"{name} is set but GOVSHARE_OIDC_ISSUER is not")
        if not settings.local_passwords:
            problems.append(
                "GOVSHARE_LOCAL_PASSWORDS=0 turns off passwords but single sign-on is not "
                "configured, so no one could sign in"
            )
    return problems


@dataclass(frozen=True)
class Pending:
    """A sign-in sent to the identity provider and not yet back."""

    state: str
    nonce: str
    next_path: str


def begin(session: Session, clock: Clock, address: str = "", next_path: str = "") -> Pending:
    """Store a new pending sign-in (the caller commits) and return its state and nonce."""
    now = clock.now()
    session.execute(
        delete(SsoPendingSignIn).where(SsoPendingSignIn.created_at < now - PENDING_LIFETIME)
    )
    record = SsoPendingSignIn(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        created_at=now,
        next_path=(next_path or "")[:300],
        address=(address or "")[:64],
    )
    session.add(record)
    return Pending(record.state, record.nonce, record.next_path)


def take_pending(
    session: Session, clock: Clock, state: str | None, browser_state: str | None
) -> Pending:
    """Consume the pending sign-in that ``state`` names; it must be the one this browser started
    (``browser_state``, from its session cookie), unused and younger than ``PENDING_LIFETIME``.
    Of two concurrent callbacks with one state exactly one gets it; the other is refused."""
    if not state or not browser_state:
        raise SsoRefused("state")
    if not secrets.compare_digest(state.encode("utf-8", "replace"), browser_state.encode()):
        raise SsoRefused("state")
    now = clock.now()
    taken = session.execute(
        update(SsoPendingSignIn)
        .where(
            SsoPendingSignIn.state == state,
            SsoPendingSignIn.used_at.is_(None),
            SsoPendingSignIn.created_at >= now - PENDING_LIFETIME,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(taken, "rowcount", 0) or 0) != 1:
        raise SsoRefused("state")
    record = session.get(SsoPendingSignIn, state)
    assert record is not None
    return Pending(record.state, record.nonce, record.next_path)


def _decode(raw: str, jwks: dict, algorithms: list[str]) -> jwt.Token:
    registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
    return jwt.decode(raw, key=KeySet.import_key_set(jwks), registry=registry)  # type: ignore[arg-type]


def verify_id_token(
    settings: SsoSettings,
    raw: str,
    jwks: dict,
    *,
    nonce: str,
    clock: Clock,
    access_token: str | None = None,
    algorithms: list[str] | None = None,
    fresh_jwks: Any = None,
) -> dict[str, Any]:
    """The ID token's claims after checking its signature (against ``jwks``, the provider's key
    set; ``fresh_jwks()`` is asked once for a newer set when the token names a key it lacks, as
    after a key rotation), issuer, audience (this client), expiry and issue time by ``clock``,
    and ``nonce``. Raises :class:`SsoRefused` with the reason otherwise."""
    if not raw or not isinstance(raw, str):
        raise SsoRefused("token")
    # only the provider's public keys may sign: never "none" or a shared-secret algorithm, even
    # where the discovery document announces one
    allowed = [a for a in algorithms or ["RS256"] if a in SIGNING_ALGORITHMS] or ["RS256"]
    try:
        try:
            token = _decode(raw, jwks, allowed)
        except InvalidKeyIdError:
            if fresh_jwks is None:
                raise
            token = _decode(raw, fresh_jwks(), allowed)
    except (BadSignatureError, InvalidKeyIdError):
        raise SsoRefused("signature") from None
    except (JoseError, ValueError):
        raise SsoRefused("token") from None
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": settings.issuer},
            "aud": {"essential": True, "value": settings.client_id},
        },
        {"nonce": nonce, "client_id": settings.client_id, "access_token": access_token},
    )
    try:
        claims.validate(now=int(clock.now().timestamp()), leeway=LEEWAY_SECONDS)
    except ExpiredTokenError:
        raise SsoRefused("expired") from None
    except (InvalidClaimError, MissingClaimError) as err:
        reason = {"iss": "issuer", "aud": "audience", "azp": "audience", "nonce": "nonce"}
        raise SsoRefused(reason.get(err.claim, "token")) from None
    except JoseError:
        raise SsoRefused("token") from None
    return dict(claims)


@dataclass(frozen=True)
class SsoSignIn:
    """A successful sign-in: the account (to open a session for) and where to go next."""

    user: User
    next_path: str


def _identity(settings: SsoSettings, claims: Mapping[str, Any]) -> str:
    value = claims.get(settings.claim)
    if not isinstance(value, (str, int)) or not str(value).strip():
        raise SsoRefused("claim", claim=settings.claim)
    return str(scrubbed(str(value).strip()))[:255]


def _subject(claims: Mapping[str, Any]) -> str:
    value = claims.get("sub")
    if not isinstance(value, str) or not value.strip():
        raise SsoRefused("claim", claim="sub")
    return str(scrubbed(value.strip()))[:255]


def _account(
    session: Session, clock: Clock, settings: SsoSettings, identity: str, subject: str
) -> User | None:
    """The account of this identity: the one already pinned to the provider's ``subject``, else
    the one the linking claim names, which is then pinned to ``subject`` (audited
    ``sso_subject_linked``). An account pinned to another subject is refused: the claim's value
    now belongs to someone else at the provider (a reused user name, say)."""
    pinned = session.scalar(select(User).where(User.sso_subject == subject))
    if pinned is not None:
        return pinned
    column = User.external_id if settings.link == "external_id" else User.username
    user = session.scalar(select(User).where(column == identity))
    if user is None:
        return None
    if user.sso_subject is not None:
        raise SsoRefused("subject")
    user.sso_subject = subject
    audit.record(
        session,
        clock.now(),
        "sso_subject_linked",
        actor_id=user.id,
        object_type="user",
        object_ref=user.username,
        after={"sso_subject": subject},
        identity=identity,
    )
    return user


def refuse(
    session: Session,
    clock: Clock,
    refusal: SsoRefused,
    address: str = "",
    identity: str = "",
    user: User | None = None,
) -> SsoRefused:
    """Audit a refused sign-in and count it like a failed password (by the identity, where
    known, and by the address); the caller commits and shows ``refusal.message``."""
    now = clock.now()
    address = str(scrubbed(address or ""))[:64]
    name = (user.username if user else identity)[:80]
    refusal.recorded = True
    if refusal.reason not in ("created", "locked"):
        # keyed by the linking claim's value, which sign_in's lock check reads
        session.add(SignInFailure(at=now, username=identity[:80] or "(sso)", address=address))
    audit.record(
        session,
        now,
        "sso_refused",
        actor_id=user.id if user else None,
        object_type="user",
        object_ref=name or None,
        reason=refusal.reason,
        identity=identity,
        address=address,
    )
    return refusal


def _create_account(
    session: Session, clock: Clock, settings: SsoSettings, identity: str, claims: Mapping
) -> User:
    department = session.scalar(
        select(Department).where(Department.slug == settings.new_account_department)
    )
    taken = session.scalar(select(User.id).where(User.username == identity[:80]))
    if department is None or taken is not None:
        # no department to wait in, or the user name belongs to an account linked otherwise:
        # an administrator links or creates the account by hand
        raise SsoRefused("unknown", identity=identity)
    name = str(claims.get("name") or identity)[:100]
    user = User(
        username=identity[:80],
        display_name=name,
        department_id=department.id,
        job_roles=["official"],
        password_hash=None,
        active=False,  # waits for an administrator to assign the department and activate it
        external_id=identity if settings.link == "external_id" else None,
        sso_subject=_subject(claims),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        clock.now(),
        "sso_account_created",
        object_type="user",
        object_ref=user.username,
        after={"department": department.slug, "active": False},
        identity=identity,
    )
    return user


def sign_in(
    session: Session,
    clock: Clock,
    settings: SsoSettings,
    claims: Mapping[str, Any],
    pending: Pending,
    address: str = "",
) -> SsoSignIn:
    """The account the verified ``claims`` link to, signed in (audited ``sign_in`` with
    ``method`` ``oidc``); raises :class:`SsoRefused` (already audited and counted) otherwise.
    The caller opens the session and commits either way."""
    identity = ""
    user = None
    try:
        identity = _identity(settings, claims)
        until = locked_until(session, clock, identity, address)
        if until is not None:
            minutes = max(1, int((until - clock.now()).total_seconds() // 60) + 1)
            raise SsoRefused("locked", n=minutes)
        subject = _subject(claims)
        user = _account(session, clock, settings, identity, subject)
        if user is None:
            if not settings.create_accounts:
                raise SsoRefused("unknown", identity=identity)
            user = _create_account(session, clock, settings, identity, claims)
            raise SsoRefused("created")
        if not user.active:
            raise SsoRefused("inactive")
    except SsoRefused as refusal:
        raise refuse(session, clock, refusal, address, identity, user) from None
    session.execute(delete(SignInFailure).where(SignInFailure.username == identity[:80]))
    audit.record(
        session,
        clock.now(),
        "sign_in",
        actor_id=user.id,
        object_type="user",
        object_ref=user.username,
        address=str(scrubbed(address or ""))[:64],
        method="oidc",
        identity=identity,
    )
    return SsoSignIn(user, pending.next_path)


def link_account(
    session: Session, clock: Clock, username: str, external_id: str, actor: User | None = None
) -> None:
    """Set (or with an empty value, clear) the identity-provider value an account is linked by
    when ``GOVSHARE_OIDC_LINK=external_id``, and forget the subject the account was pinned to
    (so the next sign-in links it afresh: also the way to re-link a person whose provider
    account changed); audited. Only an administrator of the account's
    level (the CLI's operator: anyone)."""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        raise NotFound(Message("Unknown user '%(name)s'.", name=username))
    require_admin(session, actor, user.department.division_code)
    value = (external_id or "").strip()[:255] or None
    if value is not None:
        holder = session.scalar(select(User).where(User.external_id == value, User.id != user.id))
        if holder is not None:
            raise Conflict(
                Message(
                    "The identity %(identity)s is already linked to the account %(name)s.",
                    identity=value,
                    name=holder.username,
                )
            )
    before = {"external_id": user.external_id, "sso_subject": user.sso_subject}
    user.external_id = value
    user.sso_subject = None  # the next sign-in pins the subject again
    audit.record(
        session,
        clock.now(),
        "sso_link_set",
        actor_id=actor.id if actor else None,
        object_type="user",
        object_ref=user.username,
        before=before,
        after={"external_id": value, "sso_subject": None},
    )
