"""Department systems (art. 5, 7 of the measures): registered API clients and their scoped tokens.

A department's system calls the JSON API with a token of a registered **client**: the client
belongs to one department and sits on the e-government internal network (政务内网) or the extranet
(政务外网). Each token carries **scopes** (what it may ask), an **expiry** (default 90 days, at most
a year), may be **rotated** (a new token; the old one keeps working for :data:`ROTATION_OVERLAP`,
then ends) or **revoked** (ends at once); its **last use** is kept to the minute. Only the SHA-256
of a token is stored: the token itself is returned once, by :func:`issue_token` or
:func:`rotate_token`, and can never be read again.

A request with a client token acts for the client's department (:class:`ClientPrincipal`). A client
on the extranet is refused every resource shared only over the internal network
(engine.catalog.network_access). Administrators manage the clients of the departments they administer
(engine.directory.admin); the CLI passes ``actor=None``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from engine import audit
from engine.clock import SHANGHAI, Clock
from engine.directory.admin import require_admin
from engine.directory.administration import Holding
from engine.directory.client_models import ApiClient, ApiClientToken
from engine.directory.models import Department, User
from engine.directory.passwords import token_digest
from engine.errors import Conflict, Forbidden, GovshareError, NotFound
from engine.i18n import N_, Label, Message
from engine.inputs import Checks, day_problem

NETWORKS = ("internal", "extranet")  # the catalog's values (engine.catalog.entry.NETWORKS)
SCOPES = ("catalog:read", "requests:status", "grants:check", "verification:flags")
SCOPE_LABELS = {
    "catalog:read": Message(N_("Read the catalog")),
    "requests:status": Message(N_("Status of share requests")),
    "grants:check": Message(N_("Check a use against the grants")),
    "verification:flags": Message(N_("Verification flags of records")),
}
NETWORK_LABELS = {
    "internal": Message(N_("E-government internal network")),
    "extranet": Message(N_("E-government extranet")),
}
TOKEN_STATE_LABELS = {
    "active": Message(N_("Valid")),
    "expired": Message(N_("Expired")),
    "revoked": Message(N_("Revoked")),
}
DEFAULT_DAYS = 90  # a token's life when no expiry is given
MAX_DAYS = 366  # at most a year (counted in days from today, a leap day included)
ROTATION_OVERLAP = timedelta(hours=24)  # the old token keeps working this long after rotation
TOKEN_TOUCH_EVERY = timedelta(minutes=1)
PAGE_SIZE = 50
TOKENS_SHOWN = 100  # the newest tokens of a client on its page
PREFIX = "gsc_"  # client tokens start with it (an official's own tokens do not)

FIELD_LABELS = {
    "department": Message(N_("Department")),
    "name": Message(N_("Name of the system")),
    "network": Message(N_("Network")),
    "contact": Message(N_("Contact")),
    "scopes": Message(N_("Scopes")),
    "expires_on": Message(N_("Last valid day")),
}


class TokenRefused(GovshareError):
    """A client token that is expired, revoked or of a deactivated client (HTTP 401)."""

    http_status = 401


# -- what services return ------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientInfo:
    id: int
    department_id: int
    department: Label
    division_code: str
    name: str
    network: str
    contact: str
    active: bool
    created_at: datetime
    created_by: Label | None
    live_tokens: int
    last_used_at: datetime | None  # the last use of any of its tokens


@dataclass(frozen=True)
class TokenInfo:
    id: int
    client_id: int
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    rotated_at: datetime | None
    rotated_from_id: int | None
    last_used_at: datetime | None
    state: str  # active | expired | revoked
    hint: str  # the token's first characters, to tell tokens apart


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: ``secret`` is the token, shown this once and never stored."""

    token: TokenInfo
    secret: str
    client: ClientInfo


@dataclass(frozen=True)
class ClientPage:
    rows: list[ClientInfo]
    next_after: int | None


@dataclass(frozen=True)
class ClientDetail:
    client: ClientInfo
    tokens: list[TokenInfo]


@dataclass(frozen=True)
class ClientPrincipal:
    """Who calls with a client token: the client, its department and the token's scopes.

    ``user`` stands for the department in the engine's services: a transient account (never
    stored) of the client's department with no job role, so it may read what the department
    may read and act on no task."""

    client_id: int
    client_name: str
    token_id: int
    department_id: int
    network: str
    scopes: frozenset[str]
    user: User


# -- reading ------------------------------------------------------------------------------------
def _state(token: ApiClientToken, now: datetime) -> str:
    if token.revoked_at is not None and token.revoked_at <= now:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    return "active"


def _token_info(token: ApiClientToken, now: datetime) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        client_id=token.client_id,
        scopes=tuple(s for s in SCOPES if s in (token.scopes or [])),
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        rotated_at=token.rotated_at,
        rotated_from_id=token.rotated_from_id,
        last_used_at=token.last_used_at,
        state=_state(token, now),
        hint=f"#{token.id}",
    )


Usage = tuple[int, datetime | None]  # live tokens, the last use of any token


def _live_tokens(session: Session, client_ids: list[int], now: datetime) -> dict[int, Usage]:
    """Per client: how many of its tokens work now, and when one was last used (one query)."""
    if not client_ids:
        return {}
    live = case(
        (and_(ApiClientToken.expires_at > now, ApiClientToken.revoked_at.is_(None)), 1), else_=0
    )
    rows = session.execute(
        select(ApiClientToken.client_id, func.sum(live), func.max(ApiClientToken.last_used_at))
        .where(ApiClientToken.client_id.in_(client_ids))
        .group_by(ApiClientToken.client_id)
    ).all()
    return {client_id: (int(n or 0), last) for client_id, n, last in rows}


def _client_info(session: Session, client: ApiClient, usage: Usage = (0, None)) -> ClientInfo:
    creator = session.get(User, client.created_by_id) if client.created_by_id else None
    return ClientInfo(
        id=client.id,
        department_id=client.department_id,
        department=client.department.label,
        division_code=client.department.division_code,
        name=client.name,
        network=client.network,
        contact=client.contact,
        active=client.active,
        created_at=client.created_at,
        created_by=creator.label if creator else None,
        live_tokens=usage[0],
        last_used_at=usage[1],
    )


def list_clients(
    session: Session,
    clock: Clock,
    actor: User | None,
    after: int | None = None,
    page_size: int = PAGE_SIZE,
) -> ClientPage:
    """The clients of the departments ``actor`` administers, newest first, one page after the
    client ``after``."""
    scope = require_admin(session, actor)
    stmt = select(ApiClient).order_by(ApiClient.id.desc())
    departments = scope.departments()
    if departments is not None:
        stmt = stmt.where(ApiClient.department_id.in_(departments))
    if after is not None:
        stmt = stmt.where(ApiClient.id < after)
    found = list(session.scalars(stmt.limit(page_size + 1)))
    shown = found[:page_size]
    live = _live_tokens(session, [c.id for c in shown], clock.now())
    rows = [_client_info(session, c, live.get(c.id, (0, None))) for c in shown]
    return ClientPage(rows, rows[-1].id if len(found) > page_size else None)


def _client(session: Session, actor: User | None, client_id: int, lock: bool = False) -> ApiClient:
    stmt = select(ApiClient).where(ApiClient.id == client_id)
    if lock:  # one administration action on a client at a time; the later one reads the result
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    client = session.scalar(stmt)
    if client is None:
        raise NotFound(Message("There is no department system %(id)s.", id=client_id))
    require_admin(session, actor, client.department.division_code)
    return client


def client_detail(
    session: Session, clock: Clock, actor: User | None, client_id: int
) -> ClientDetail:
    """A client and its newest tokens (at most :data:`TOKENS_SHOWN`)."""
    client = _client(session, actor, client_id)
    now = clock.now()
    tokens = session.scalars(
        select(ApiClientToken)
        .where(ApiClientToken.client_id == client.id)
        .order_by(ApiClientToken.id.desc())
        .limit(TOKENS_SHOWN)
    )
    live = _live_tokens(session, [client.id], now)
    return ClientDetail(
        _client_info(session, client, live.get(client.id, (0, None))),
        [_token_info(t, now) for t in tokens],
    )


@dataclass(frozen=True)
class DepartmentChoice:
    id: int
    slug: str
    label: Label


def departments_for(session: Session, actor: User | None) -> list[DepartmentChoice]:
    """The departments ``actor`` may register clients for (the create form's choices)."""
    scope = require_admin(session, actor)
    stmt = select(Department).order_by(Department.division_code, Department.name)
    departments = scope.departments()
    if departments is not None:
        stmt = stmt.where(Department.id.in_(departments))
    return [DepartmentChoice(d.id, d.slug, d.label) for d in session.scalars(stmt)]


# -- administration -------------------------------------------------------------------------------
def _department_ref(session: Session, value: object) -> Department | None:
    """A department by id (the web form) or slug (the CLI)."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return session.get(Department, int(value))
    if isinstance(value, str) and value.strip():
        return session.scalar(select(Department).where(Department.slug == value.strip()))
    return None


def create_client(session: Session, clock: Clock, actor: User | None, form: dict) -> ClientInfo:
    """Register a department's system: ``form`` has department (id or slug), name, network
    (internal | extranet) and contact."""
    checks = Checks()
    department = _department_ref(session, form.get("department"))
    checks.add(
        "department",
        FIELD_LABELS["department"],
        None if department is not None else Message(N_("choose one of the departments offered")),
    )
    name, contact = form.get("name"), form.get("contact", "")
    checks.text("name", name, FIELD_LABELS["name"], column=ApiClient.name, required=True)
    checks.text("contact", contact, FIELD_LABELS["contact"], column=ApiClient.contact)
    network = form.get("network")
    checks.add(
        "network",
        FIELD_LABELS["network"],
        None if network in NETWORKS else Message(N_("choose one of the networks offered")),
    )
    checks.done(Message(N_("The department system cannot be registered")))
    assert department is not None and isinstance(name, str) and isinstance(contact, str)
    require_admin(session, actor, department.division_code)
    name = name.strip()
    taken = session.scalar(
        select(ApiClient.id).where(ApiClient.department_id == department.id, ApiClient.name == name)
    )
    if taken is not None:
        raise Conflict(
            Message(
                "%(department)s already has a system named %(name)s.",
                department=department.label,
                name=name,
            )
        )
    now = clock.now()
    client = ApiClient(
        department_id=department.id,
        department=department,
        name=name,
        network=network,
        contact=contact.strip(),
        created_at=now,
        created_by_id=actor.id if actor else None,
        active=True,
    )
    try:
        with session.begin_nested():  # a concurrent registration of the same name wins
            session.add(client)
            session.flush()
    except IntegrityError:
        raise Conflict(
            Message(
                "%(department)s already has a system named %(name)s.",
                department=department.label,
                name=name,
            )
        ) from None
    audit.record(
        session,
        now,
        "api_client_created",
        actor_id=actor.id if actor else None,
        object_type="api_client",
        object_ref=str(client.id),
        after={"department": department.slug, "name": name, "network": network},
    )
    return _client_info(session, client)


def set_active(
    session: Session, clock: Clock, actor: User | None, client_id: int, active: bool
) -> ClientInfo:
    """Deactivate a client (its tokens are refused from now on) or activate it again."""
    client = _client(session, actor, client_id, lock=True)
    if client.active == active:
        raise Conflict(
            Message("The department system %(name)s is already active.", name=client.name)
            if active
            else Message("The department system %(name)s is already deactivated.", name=client.name)
        )
    now = clock.now()
    client.active = active
    audit.record(
        session,
        now,
        "api_client_activated" if active else "api_client_deactivated",
        actor_id=actor.id if actor else None,
        object_type="api_client",
        object_ref=str(client.id),
        before={"active": not active},
        after={"active": active},
    )
    live = _live_tokens(session, [client.id], now)
    return _client_info(session, client, live.get(client.id, (0, None)))


def expiry_days(clock: Clock) -> tuple[date, date]:
    """The default and the latest last valid day of a token issued now (Beijing time)."""
    today = clock.now().astimezone(SHANGHAI).date()
    return today + timedelta(days=DEFAULT_DAYS), today + timedelta(days=MAX_DAYS - 1)


def _expiry(checks: Checks, now: datetime, expires_on: object) -> datetime | None:
    """The end of ``expires_on`` (YYYY-MM-DD, Beijing time), default :data:`DEFAULT_DAYS` ahead."""
    today = now.astimezone(SHANGHAI).date()
    if expires_on in (None, ""):
        day = today + timedelta(days=DEFAULT_DAYS)
    else:
        latest = today + timedelta(days=MAX_DAYS - 1)
        if not checks.add(
            "expires_on",
            FIELD_LABELS["expires_on"],
            day_problem(expires_on, earliest=today, latest=latest),
        ):
            return None
        day = expires_on if isinstance(expires_on, date) else date.fromisoformat(str(expires_on))
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=SHANGHAI)


def _new_token(
    session: Session,
    client: ApiClient,
    actor: User | None,
    now: datetime,
    scopes: list[str],
    expires_at: datetime,
    rotated_from: int | None = None,
) -> tuple[ApiClientToken, str]:
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiClientToken(
        client_id=client.id,
        token_sha256=token_digest(secret),
        scopes=scopes,
        created_at=now,
        created_by_id=actor.id if actor else None,
        expires_at=expires_at,
        rotated_from_id=rotated_from,
    )
    session.add(token)
    session.flush()
    return token, secret


def _scopes(checks: Checks, scopes: object) -> list[str]:
    if not isinstance(scopes, list | tuple) or not scopes:
        checks.add("scopes", FIELD_LABELS["scopes"], Message(N_("choose at least one scope")))
        return []
    if any(s not in SCOPES for s in scopes):
        checks.add("scopes", FIELD_LABELS["scopes"], Message(N_("choose among the scopes offered")))
        return []
    return [s for s in SCOPES if s in scopes]


def issue_token(
    session: Session,
    clock: Clock,
    actor: User | None,
    client_id: int,
    scopes: object,
    expires_on: object = None,
) -> IssuedToken:
    """A new token of the client with ``scopes`` until ``expires_on`` (YYYY-MM-DD, default 90
    days ahead, at most a year). The token is in the answer only: it is stored hashed."""
    client = _client(session, actor, client_id, lock=True)
    now = clock.now()
    checks = Checks()
    wanted = _scopes(checks, scopes)
    expires_at = _expiry(checks, now, expires_on)
    checks.done(Message(N_("The token cannot be issued")))
    assert expires_at is not None
    if not client.active:
        raise Conflict(Message("The department system %(name)s is deactivated.", name=client.name))
    token, secret = _new_token(session, client, actor, now, wanted, expires_at)
    audit.record(
        session,
        now,
        "api_client_token_issued",
        actor_id=actor.id if actor else None,
        object_type="api_client",
        object_ref=str(client.id),
        token_id=token.id,
        after={"scopes": wanted, "expires_at": expires_at.isoformat()},
    )
    live = _live_tokens(session, [client.id], now)
    return IssuedToken(
        _token_info(token, now),
        secret,
        _client_info(session, client, live.get(client.id, (0, None))),
    )


def _token(
    session: Session, actor: User | None, client_id: int, token_id: int
) -> tuple[ApiClient, ApiClientToken]:
    client = _client(session, actor, client_id, lock=True)
    token = session.scalar(
        select(ApiClientToken)
        .where(ApiClientToken.id == token_id, ApiClientToken.client_id == client.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if token is None:
        raise NotFound(Message("The department system has no token %(id)s.", id=token_id))
    return client, token


def rotate_token(
    session: Session,
    clock: Clock,
    actor: User | None,
    client_id: int,
    token_id: int,
    expires_on: object = None,
) -> IssuedToken:
    """A new token with the same scopes; the old one keeps working for
    :data:`ROTATION_OVERLAP` (not past its own expiry), so the system can switch over."""
    client, old = _token(session, actor, client_id, token_id)
    now = clock.now()
    checks = Checks()
    expires_at = _expiry(checks, now, expires_on)
    checks.done(Message(N_("The token cannot be rotated")))
    assert expires_at is not None
    if old.rotated_at is not None:
        raise Conflict(Message("Token %(id)s was already rotated.", id=old.id))
    if _state(old, now) != "active":
        raise Conflict(
            Message("Token %(id)s no longer works: issue a new token instead.", id=old.id)
        )
    if not client.active:
        raise Conflict(Message("The department system %(name)s is deactivated.", name=client.name))
    old.rotated_at = now
    old_end = old.expires_at
    old.expires_at = min(old.expires_at, now + ROTATION_OVERLAP)
    token, secret = _new_token(
        session, client, actor, now, list(old.scopes or []), expires_at, rotated_from=old.id
    )
    audit.record(
        session,
        now,
        "api_client_token_rotated",
        actor_id=actor.id if actor else None,
        object_type="api_client",
        object_ref=str(client.id),
        token_id=token.id,
        rotated_from=old.id,
        before={"expires_at": old_end.isoformat()},
        after={"old_ends_at": old.expires_at.isoformat(), "expires_at": expires_at.isoformat()},
    )
    live = _live_tokens(session, [client.id], now)
    return IssuedToken(
        _token_info(token, now),
        secret,
        _client_info(session, client, live.get(client.id, (0, None))),
    )


def revoke_token(
    session: Session, clock: Clock, actor: User | None, client_id: int, token_id: int
) -> TokenInfo:
    """End a token at once."""
    client, token = _token(session, actor, client_id, token_id)
    now = clock.now()
    if token.revoked_at is not None:
        raise Conflict(Message("Token %(id)s is already revoked.", id=token.id))
    token.revoked_at = now
    token.revoked_by_id = actor.id if actor else None
    audit.record(
        session,
        now,
        "api_client_token_revoked",
        actor_id=actor.id if actor else None,
        object_type="api_client",
        object_ref=str(client.id),
        token_id=token.id,
        before={"state": _state(token, now - timedelta(microseconds=1))},
        after={"state": "revoked"},
    )
    return _token_info(token, now)


# -- the API's side -------------------------------------------------------------------------------
def _local_day(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def authenticate(session: Session, clock: Clock, secret: str) -> ClientPrincipal | None:
    """The client a token belongs to, or None when it is no client's token (it may be an
    official's own token). Raises :class:`TokenRefused` naming why for an expired or revoked
    token or a deactivated client. Keeps the token's last use (at most once a minute) and audits
    its use once per clock hour in which it is used; the caller commits.

    A secret that cannot be a client's (:func:`is_client_secret`) is not looked up; a client's
    token is read with its client and department in one statement."""
    if not is_client_secret(secret):
        return None
    token = session.scalar(
        select(ApiClientToken)
        .options(joinedload(ApiClientToken.client).joinedload(ApiClient.department))
        .where(ApiClientToken.token_sha256 == token_digest(secret))
    )
    if token is None:
        return None
    now = clock.now()
    client = token.client
    state = _state(token, now)
    if state == "revoked":
        assert token.revoked_at is not None
        raise TokenRefused(
            Message("The API token was revoked on %(when)s.", when=_local_day(token.revoked_at))
        )
    if state == "expired":
        raise TokenRefused(
            Message("The API token expired on %(when)s.", when=_local_day(token.expires_at))
        )
    if not client.active:
        raise TokenRefused(
            Message("The department system %(name)s is deactivated.", name=client.name)
        )
    last = token.last_used_at
    if last is None or _hour(last) != _hour(now):
        audit.record(
            session,
            now,
            "api_client_token_used",
            object_type="api_client",
            object_ref=str(client.id),
            token_id=token.id,
        )
        token.last_used_at = now
    elif now - last >= TOKEN_TOUCH_EVERY:
        token.last_used_at = now
    department = client.department
    stand_in = User(
        username=f"api-client-{client.id}",
        display_name=client.name,
        display_name_en=client.name,
        department_id=department.id,
        job_roles=[],
        password_hash=None,
        active=True,
    )
    stand_in.department = department
    return ClientPrincipal(
        client_id=client.id,
        client_name=client.name,
        token_id=token.id,
        department_id=department.id,
        network=client.network,
        scopes=frozenset(token.scopes or []),
        user=stand_in,
    )


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def require_scope(principal: ClientPrincipal, scope: str | None) -> None:
    """Refuse (403) a client token without ``scope``; ``None``: the operation is for officials'
    own tokens only."""
    if scope is None:
        raise Forbidden(
            Message(
                "This operation is for an official's own API token; a department system's "
                "token may not use it."
            )
        )
    if scope not in principal.scopes:
        raise Forbidden(
            Message(
                "The token lacks the scope %(scope)s (%(label)s).",
                scope=scope,
                label=SCOPE_LABELS[scope],
            )
        )


# -- demo ---------------------------------------------------------------------------------------
DEMO_CLIENTS = (
    # department slug, system name, network, the token (demo mode only)
    ("civil", "低保审核系统", "extranet", "demo-client-civil"),
    ("pubsec", "人口信息查询系统", "internal", "demo-client-pubsec"),
)


def is_client_secret(secret: str) -> bool:
    """Whether ``secret`` can be a department system's token: issued ones start with
    :data:`PREFIX`, an official's own never do; the demo clients' known tokens are the others."""
    return secret.startswith(PREFIX) or secret in _DEMO_SECRETS


_DEMO_SECRETS = frozenset(secret for *_, secret in DEMO_CLIENTS)


def seed_demo_clients(session: Session, clock: Clock) -> int:
    """Demo mode: one client per department of :data:`DEMO_CLIENTS` with its known token and
    every scope, valid a year. Existing demo clients are left as they are."""
    created = 0
    now = clock.now()
    for slug, name, network, secret in DEMO_CLIENTS:
        department = session.scalar(select(Department).where(Department.slug == slug))
        if department is None:
            continue
        exists = session.scalar(
            select(ApiClient.id).where(
                ApiClient.department_id == department.id, ApiClient.name == name
            )
        )
        if exists is not None:
            continue
        client = ApiClient(
            department_id=department.id,
            name=name,
            network=network,
            contact="",
            created_at=now,
            active=True,
        )
        session.add(client)
        session.flush()
        session.add(
            ApiClientToken(
                client_id=client.id,
                token_sha256=token_digest(secret),
                scopes=list(SCOPES),
                created_at=now,
                expires_at=now + timedelta(days=MAX_DAYS - 1),
            )
        )
        created += 1
    session.flush()
    return created


# -- reorganisation: a department's systems go with it when it is merged or split -------------
def client_holdings(session: Session, department_id: int) -> list[Holding]:
    """The department's registered systems that are still active (engine.reorganisation)."""
    return [
        Holding("systems", str(c.id), c.name)
        for c in session.scalars(
            select(ApiClient)
            .where(ApiClient.department_id == department_id, ApiClient.active.is_(True))
            .order_by(ApiClient.id)
        )
    ]


def transfer_clients(session: Session, department_id: int, moves: dict[str, int]) -> int:
    """Hand the systems of ``moves`` (client id → successor department id) over; a name the
    successor already uses gets the old department's name added, so both stay recognisable."""
    moved = 0
    for client in session.scalars(
        select(ApiClient).where(
            ApiClient.department_id == department_id, ApiClient.active.is_(True)
        )
    ):
        target = moves.get(str(client.id))
        if target is None:
            continue
        taken = session.scalar(
            select(ApiClient.id).where(
                ApiClient.department_id == target, ApiClient.name == client.name
            )
        )
        if taken is not None:
            client.name = f"{client.name}（{client.department.name}）"[:100]
        client.department_id = target
        moved += 1
    return moved
