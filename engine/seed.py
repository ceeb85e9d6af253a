"""Seed data: the Ningxia directory, demo users and a small catalog. Idempotent.

Divisions come from ``engine/data/divisions.json`` (GB/T 2260), region departments from
``engine/data/departments.json``. Every city and county gets its data-sharing authority and the
departments most requests involve. The authority's display name is configurable
(``GOVSHARE_REGION_AUTHORITY_NAME``) because the body behind it has changed over time.

Demo accounts (demo mode only, ``GOVSHARE_DEMO=1``): every department has ``<slug>.clerk`` (official); region
departments also ``<slug>.lead`` (official + leader); every authority and the region
government's general office ``<slug>.coord`` (official + coordinator; ``gov.coord``
coordinates where the region's authority is itself a party); the region's authority has
``data.admin`` (the system administrator) and every city's and county's authority
``<slug>.admin`` (administrator of that level, docs/administration.md). They share the password ``demo``
and each has the API token ``demo-<username>``. Seeding again creates missing demo accounts only; it never re-activates,
re-passwords or re-tokens an existing one.
"""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog.entry import normalize
from engine.catalog.models import Resource, ResourceVersion
from engine.catalog.rules import check
from engine.catalog.versions import latest_version, publish_version
from engine.clock import Clock
from engine.db import Base
from engine.directory.clients import seed_demo_clients
from engine.directory.models import ApiToken, Department, Division, User
from engine.directory.passwords import hash_password, token_digest
from engine.errors import ValidationFailed
from engine.i18n import Message
from engine.workflow.deployment import deploy

Row = TypeVar("Row", bound=Base)

LOCAL_DEPARTMENTS = [
    ("samr", "市场监督管理局", "Administration for Market Regulation"),
    ("civil", "民政局", "Civil Affairs Bureau"),
    ("hrss", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("health", "卫生健康委员会", "Health Commission"),
    ("natres", "自然资源局", "Natural Resources Bureau"),
]


def _place_slug(name_en: str) -> str:
    return name_en.split()[0].lower()


def _upsert(session: Session, model: type[Row], key: dict[str, Any], values: dict[str, Any]) -> Row:
    row = session.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key, **values)
        session.add(row)
    else:
        for k, v in values.items():
            setattr(row, k, v)
    return row


def _data(name: str) -> dict:
    return json.loads(resources.files("engine").joinpath(f"data/{name}").read_text("utf-8"))


def _division(session: Session, place: dict, level: str, parent: str | None) -> None:
    values = {
        "name": place["name"],
        "name_en": place["name_en"],
        "level": level,
        "parent_code": parent,
    }
    _upsert(session, Division, {"code": place["code"]}, values)


def _seed_divisions(session: Session, divisions: dict) -> list[dict]:
    """The region, its cities and counties (GB/T 2260); returns the cities and counties."""
    region = divisions["region"]
    _division(session, region, "region", None)
    session.flush()
    places = []
    for city in divisions["cities"]:
        _division(session, city, "city", region["code"])
        session.flush()
        places.append(city)
        for county in city["counties"]:
            _division(session, county, "county", city["code"])
            places.append(county)
    session.flush()
    return places


def _department(
    session: Session, slug: str, name: str, name_en: str, division: str, duties: list
) -> None:
    values = {
        "name": name,
        "name_en": name_en,
        "division_code": division,
        "is_authority": "authority" in duties,
        "duties": duties,
    }
    _upsert(session, Department, {"slug": slug}, values)


def seed_directory(session: Session) -> None:
    divisions = _data("divisions.json")
    places = _seed_divisions(session, divisions)
    region = divisions["region"]["code"]
    authority_name = os.environ.get("GOVSHARE_REGION_AUTHORITY_NAME", "")
    for d in _data("departments.json")["departments"]:
        is_authority = "authority" in d["roles"]
        name = authority_name if (is_authority and authority_name) else d["name"]
        _department(session, d["slug"], name, d["name_en"], region, d["roles"])
    for place in places:
        p, code = _place_slug(place["name_en"]), place["code"]
        name, name_en = place["name"], place["name_en"]
        _department(
            session,
            f"{p}-data",
            f"{name}数据共享主管部门",
            f"{name_en} data-sharing authority",
            code,
            ["authority"],
        )
        for slug, local, local_en in LOCAL_DEPARTMENTS:
            _department(session, f"{p}-{slug}", f"{name}{local}", f"{name_en} {local_en}", code, [])
    session.flush()


# a demo account's job title in Chinese and in English, by user-name suffix
TITLES = {
    "clerk": ("经办人", "Clerk"),
    "coord": ("协调员", "Coordinator"),
    "lead": ("负责人", "Head"),
    "admin": ("系统管理员", "System Administrator"),
    "ladmin": ("管理员", "Administrator"),
}


def _demo_accounts(dept: Department, region_code: str) -> list[tuple[str, list[str]]]:
    accounts = [("clerk", ["official"])]
    if dept.coordinates:  # the authorities, and the general office (no one decides their own case)
        accounts.append(("coord", ["official", "coordinator"]))
    elif dept.division_code == region_code:
        accounts.append(("lead", ["official", "leader"]))
    if dept.is_authority and dept.division_code == region_code:
        accounts.append(("admin", ["official", "admin"]))
    elif dept.is_authority:  # a city's or county's authority administers its level (issue 14)
        accounts.append(("admin", ["official", "level_admin"]))
    return accounts


def short_name_en(name_en: str) -> str:
    """A department's English name as a title prefix: "Department of Civil Affairs" → "Civil
    Affairs", "Yinchuan Civil Affairs Bureau" → "Yinchuan Civil Affairs", "Data-sharing authority
    of the region" → "Region Data-sharing Authority"."""
    name = re.sub(r"\s*\(.*?\)", "", name_en).strip()
    if name.startswith("General Office of"):
        return "General Office"
    name = re.sub(r"^Department of ", "", name)
    name = re.sub(r" (Department|Bureau)$", "", name)
    if name.endswith(" of the region"):
        name = "Region " + name.removesuffix(" of the region")
    small = {"and", "for", "of", "the"}
    return " ".join(w if w[:1].isupper() or w in small else w.capitalize() for w in name.split())


def _title(dept: Department, suffix: str) -> tuple[str, str]:
    if suffix == "admin" and not dept.division_code.endswith("0000"):  # below the region
        return TITLES["ladmin"]
    return TITLES[suffix]


def demo_name_en(dept: Department, suffix: str) -> str:
    """A demo account's English display name: "Civil Affairs Clerk"."""
    return f"{short_name_en(dept.name_en)} {_title(dept, suffix)[1]}"


def seed_demo_users(session: Session) -> int:
    """Create the demo accounts that do not exist yet (demo mode only); returns how many.

    An existing account is never touched (only an empty English name is filled in): a deactivated
    demo user stays deactivated, a changed password stays changed, and no token is given back."""
    password = hash_password("demo")
    region_code = _data("divisions.json")["region"]["code"]
    existing = {u.username: u for u in session.scalars(select(User))}
    created = 0
    for dept in session.scalars(select(Department)).all():
        for suffix, roles in _demo_accounts(dept, region_code):
            username = f"{dept.slug}.{suffix}"
            if username in existing:
                if not existing[username].display_name_en:  # accounts seeded before 0021
                    existing[username].display_name_en = demo_name_en(dept, suffix)
                continue
            user = User(
                username=username,
                display_name=f"{dept.name}{_title(dept, suffix)[0]}",
                display_name_en=demo_name_en(dept, suffix),
                department_id=dept.id,
                job_roles=roles,
                password_hash=password,
                active=True,
            )
            session.add(user)
            session.flush()
            session.add(
                ApiToken(
                    token_sha256=token_digest(f"demo-{username}"),
                    user_id=user.id,
                    label="demo token",
                )
            )
            created += 1
    session.flush()
    return created


def seed_catalog(session: Session, clock: Clock) -> None:
    """Publish the sample catalog (engine/data/catalog_seed.json) as version 1 of each entry,
    or as a new version where the shipped entry changed; entries pass every catalog rule."""
    entries = _data("catalog_seed.json")["entries"]
    for raw in entries:
        entry = normalize(raw)
        resource = session.scalar(select(Resource).where(Resource.code == entry["code"]))
        problems = check(session, entry, resource.id if resource else None)
        if problems:
            raise ValidationFailed(
                Message(
                    "The catalog entry %(code)s breaks %(n)s rule(s).",
                    code=entry["code"],
                    n=len(problems),
                ),
                problems,
            )
        latest = latest_version(session, resource) if resource is not None else None
        if latest is not None and latest.data == entry:
            continue
        if resource is None:
            resource = Resource(
                code=entry["code"],
                name=entry["name"],
                provider_id=session.scalar(
                    select(Department.id).where(Department.slug == entry["provider"])
                ),
                share_type=entry["share_type"],
                status="draft",
                published_version=0,
            )
            session.add(resource)
            session.flush()
        version = ResourceVersion(
            resource_id=resource.id,
            number=(latest.number if latest else 0) + 1,
            status="draft",
            data=entry,
            changed_fields=[],
            note="seed",
            created_at=clock.now(),
        )
        session.add(version)
        session.flush()
        publish_version(session, clock, version, None)


def demo_mode() -> bool:
    """Whether this installation runs as a demo (``GOVSHARE_DEMO=1``, set by ``make demo``)."""
    return os.environ.get("GOVSHARE_DEMO", "").strip().lower() in ("1", "true", "yes", "on")


def seed_all(session: Session, clock: Clock, demo: bool = False) -> None:
    """Load the directory, the catalog sample and the processes; the demo accounts only when
    ``demo`` (demo mode, ``GOVSHARE_DEMO=1``). Running it again changes no existing account."""
    seed_directory(session)
    seed_catalog(session, clock)
    if demo:
        seed_demo_users(session)
        seed_demo_clients(session, clock)
    deploy(session, clock)
