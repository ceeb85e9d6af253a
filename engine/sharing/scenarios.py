"""Application scenarios (应用场景, art. 12, 14): the reference list a grant's purpose is bound to.

A share request names one (its code); the grant it leads to carries it, and a department system's
use check names it (:func:`engine.sharing.grants.check_use`). The data-sharing authority keeps
the list: region-level coordinators and system administrators add, rename, deactivate and
reactivate scenarios (``govshare scenarios``, the admin page), each change audited. A scenario is
never deleted: grants bound to it keep it; one no longer active is not offered to new requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, refcache
from engine.clock import Clock
from engine.directory import is_administrator, is_coordinator
from engine.directory.models import User
from engine.errors import Forbidden, NotFound
from engine.i18n import N_, Label, Message
from engine.inputs import Checks
from engine.sharing.models import UseScenario

refcache.watch("scenarios", UseScenario)

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class Scenario:
    code: str
    name: Label
    name_zh: str
    name_en: str
    active: bool


def _of(row: UseScenario) -> Scenario:
    return Scenario(row.code, Label(row.name_zh, row.name_en), row.name_zh, row.name_en, row.active)


def scenarios(session: Session, active_only: bool = False) -> list[Scenario]:
    """The list by code; only the active scenarios with ``active_only`` (a new request's choice)."""
    stmt = select(UseScenario).order_by(UseScenario.code)
    if active_only:
        stmt = stmt.where(UseScenario.active.is_(True))
    return [_of(r) for r in session.scalars(stmt)]


def scenario_label(session: Session, code: str | None) -> Label | None:
    """A scenario's name, or None for none (a grant issued before scenarios)."""
    if not code:
        return None
    row = session.get(UseScenario, code)
    return Label(row.name_zh, row.name_en) if row is not None else Label(code)


def _cached(session: Session, code: str) -> dict | None:
    """A scenario's row as plain values, from this process's cache while the list is unchanged
    (a request's start reads it at no cost)."""

    def load() -> dict | None:
        return next(iter(refcache.fresh_rows(session, UseScenario, UseScenario.code == code)), None)

    return refcache.cached(session, "scenarios", ("scenario", code), load)


def for_new_request(session: Session, code: str) -> tuple[Message | None, str]:
    """Why a new request cannot name the scenario (or None), and its Chinese name."""
    row = _cached(session, code)
    if row is None:
        return Message("no application scenario %(code)s", code=code), code
    if not row["active"]:
        return Message("the application scenario %(code)s is no longer in use", code=code), row[
            "name_zh"
        ]
    return None, row["name_zh"]


def scenario_names(session: Session, codes: set[str]) -> dict[str, Label]:
    """The names of these scenarios (one query; none for no codes)."""
    if not codes:
        return {}
    rows = session.scalars(select(UseScenario).where(UseScenario.code.in_(sorted(codes))))
    return {r.code: Label(r.name_zh, r.name_en) for r in rows}


def may_maintain(user: User | None) -> bool:
    """The operator (CLI, ``user`` None), a system administrator or a coordinator of the region's
    data-sharing authority."""
    if user is None:
        return True
    return is_administrator(user) or (
        is_coordinator(user) and user.department.division.level == "region"
    )


def kept_list(session: Session, user: User) -> list[Scenario]:
    """The whole list, for those who keep it (the admin page)."""
    _require(user)
    return scenarios(session)


def _require(user: User | None) -> None:
    if not may_maintain(user):
        raise Forbidden(
            Message(
                "Only administrators and coordinators of the region's data-sharing authority "
                "keep the application scenarios."
            )
        )


def save_scenario(
    session: Session, clock: Clock, user: User | None, code: str, name_zh: str, name_en: str
) -> Scenario:
    """Add a scenario, or rename the one with this code; audited."""
    _require(user)
    checks = Checks()
    if checks.text("code", code, Message(N_("Scenario code")), max_length=40, required=True):
        checks.add(
            "code",
            Message(N_("Scenario code")),
            None
            if CODE.match(code.strip())
            else Message(N_("letters, digits, '.', '_' or '-' only")),
        )
    checks.text(
        "name_zh", name_zh, Message(N_("Scenario name (Chinese)")), max_length=200, required=True
    )
    checks.text(
        "name_en", name_en, Message(N_("Scenario name (English)")), max_length=200, required=True
    )
    checks.done(Message(N_("The application scenario cannot be saved")))
    code, name_zh, name_en = code.strip(), name_zh.strip(), name_en.strip()
    row = session.get(UseScenario, code)
    before = None
    if row is None:
        row = UseScenario(
            code=code,
            name_zh=name_zh,
            name_en=name_en,
            active=True,
            created_by_id=user.id if user is not None else None,
        )
        session.add(row)
    else:
        before = {"name_zh": row.name_zh, "name_en": row.name_en}
        row.name_zh, row.name_en = name_zh, name_en
    audit.record(
        session,
        clock.now(),
        "scenario_saved",
        actor_id=user.id if user is not None else None,
        object_type="use_scenario",
        object_ref=code,
        before=before,
        after={"name_zh": name_zh, "name_en": name_en},
    )
    session.flush()
    return _of(row)


def set_active(
    session: Session, clock: Clock, user: User | None, code: str, active: bool
) -> Scenario:
    """Take a scenario out of use for new requests, or back into use; audited."""
    _require(user)
    row = session.get(UseScenario, code)
    if row is None:
        raise NotFound(Message("No application scenario %(code)s.", code=code))
    audit.record(
        session,
        clock.now(),
        "scenario_activated" if active else "scenario_deactivated",
        actor_id=user.id if user is not None else None,
        object_type="use_scenario",
        object_ref=code,
        before={"active": row.active},
        after={"active": active},
    )
    row.active = active
    session.flush()
    return _of(row)
