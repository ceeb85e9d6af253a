"""What makes a catalog entry acceptable. Each problem names the field and says what to do.

Art. 9: every resource and info item has a share type; conditional ones state their conditions.
Art. 10: not shared needs a legal or State Council basis; the base databases (population, legal
entities, natural resources & geospatial, e-licences) keep their base items unconditional; a
thematic resource names its lead department. Codes are class code + "/" + sequence, unique.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog.entry import (
    BASE_CATEGORIES,
    CLASSIFICATIONS,
    NETWORKS,
    SHARE_METHODS,
    UPDATE_CYCLES,
)
from engine.catalog.models import Resource
from engine.directory.models import Department
from engine.errors import FieldProblem
from engine.i18n import N_, Message
from engine.inputs import Checks, column_length, digits_problem

CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*/[0-9]{4,6}$", re.ASCII)
CODE_LENGTH = column_length(Resource.code)
NAME_LENGTH = column_length(Resource.name)
SLUG_LENGTH = column_length(Department.slug)
SHORT = 200  # a data type, a format: one line
LABELS = {
    "code": Message(N_("Code")),
    "name": Message(N_("Name")),
    "provider": Message(N_("Providing department")),
    "classification": Message(N_("Classification")),
    "classification_code": Message(N_("Class code")),
    "base_category": Message(N_("Base database")),
    "lead_department": Message(N_("Lead department")),
    "summary": Message(N_("Summary")),
    "format": Message(N_("Format")),
    "share_type": Message(N_("Share type")),
    "share_conditions": Message(N_("Sharing conditions")),
    "share_method": Message(N_("Share method")),
    "network": Message(N_("Network")),
    "open_conditions": Message(N_("Conditions of opening")),
    "update_cycle": Message(N_("Update cycle")),
    "related_codes": Message(N_("Related resources")),
    "legal_basis": Message(N_("Legal basis")),
    "region_link": Message(N_("Region entry")),
    "info_items": Message(N_("Info items")),
}
# field -> (length, multi-line); the rest are single lines of at most SHORT characters
TEXTS = {
    "code": (CODE_LENGTH, False),
    "name": (NAME_LENGTH, False),
    "provider": (SLUG_LENGTH, False),
    "classification_code": (CODE_LENGTH, False),
    "lead_department": (SLUG_LENGTH, False),
    "region_link": (CODE_LENGTH, False),
    "summary": (None, True),
    "share_conditions": (None, True),
    "open_conditions": (None, True),
    "legal_basis": (None, True),
}
ITEM_TEXTS = {"name": (NAME_LENGTH, False), "conditions": (None, True), "basis": (None, True)}
SHARE_TYPES = ("unconditional", "conditional", "not_shared")


def _p(field: str, msgid: str, **params: object) -> FieldProblem:
    return {"field": field, "message": Message(msgid, **params)}


def check(session: Session, entry: dict, resource_id: int | None = None) -> list[FieldProblem]:
    """Every problem of a normalized entry; empty when it may be saved and published. An entry
    whose texts fail the input boundary gets those problems alone (nothing is looked up)."""
    problems = text_problems(entry)
    if problems:
        return problems
    for field in (
        "code",
        "name",
        "provider",
        "classification",
        "summary",
        "share_type",
        "share_method",
        "network",
        "update_cycle",
    ):
        if not entry.get(field):
            problems.append(_p(field, "is required"))
    code = entry["code"]
    wrong_digits = digits_problem(code) if code else None
    if wrong_digits is not None:
        problems.append({"field": "code", "label": LABELS["code"], "message": wrong_digits})
    elif code and not CODE.match(code):
        problems.append(
            _p(
                "code",
                "must be a class code, “/” and a 4–6 digit sequence number, e.g. JC-RK/000123",
            )
        )
    elif (
        code and entry["classification_code"] and code.split("/")[0] != entry["classification_code"]
    ):
        problems.append(
            _p("code", "must start with its class code %(cls)s", cls=entry["classification_code"])
        )
    if code:
        other = session.scalar(select(Resource.id).where(Resource.code == code))
        if other is not None and other != resource_id:
            problems.append(_p("code", "%(code)s is already used by another resource", code=code))
    for field, allowed in (
        ("classification", CLASSIFICATIONS),
        ("share_type", SHARE_TYPES),
        ("share_method", SHARE_METHODS),
        ("network", NETWORKS),
        ("update_cycle", UPDATE_CYCLES),
    ):
        if entry.get(field) and entry[field] not in allowed:
            problems.append(_p(field, "must be one of %(values)s", values=", ".join(allowed)))
    if entry["provider"] and _department(session, entry["provider"]) is None:
        problems.append(_p("provider", "unknown department '%(slug)s'", slug=entry["provider"]))
    problems += _share_rules(entry)
    problems += _class_rules(session, entry)
    problems += _item_rules(entry)
    return problems


def text_problems(entry: dict) -> list[FieldProblem]:
    """The input boundary for an entry: every text valid, without control characters, within its
    column (:mod:`engine.inputs`)."""
    checks = Checks()
    for field, label in LABELS.items():
        value = entry.get(field)
        length, multiline = TEXTS.get(field, (SHORT, False))
        if field == "related_codes":
            checks.texts(field, value or [], label, max_length=CODE_LENGTH)
        elif field != "info_items":
            checks.text(field, value, label, max_length=length, multiline=multiline)
    for n, item in enumerate(entry.get("info_items") or [], 1):
        for field, value in item.items():
            if isinstance(value, bool):
                continue
            length, multiline = ITEM_TEXTS.get(field, (SHORT, False))
            label = Message(N_("info item %(n)s"), n=n)
            checks.text(f"info_items[{n}]", value, label, max_length=length, multiline=multiline)
    return checks.problems


def _department(session: Session, slug: str) -> Department | None:
    return session.scalar(select(Department).where(Department.slug == slug))


def _share_rules(entry: dict) -> list[FieldProblem]:
    out = []
    if entry["share_type"] == "conditional" and not entry["share_conditions"]:
        out.append(
            _p("share_conditions", "a conditional resource states its sharing conditions (art. 9)")
        )
    if entry["share_type"] == "not_shared" and not entry["legal_basis"]:
        out.append(
            _p(
                "legal_basis",
                "a resource that is not shared needs a legal or State Council basis (art. 10)",
            )
        )
    if entry["open_to_public"] and entry["share_type"] == "not_shared":
        out.append(
            _p("open_to_public", "a resource that is not shared cannot be open to the public")
        )
    if entry["open_to_public"] and entry["network"] == "internal":
        out.append(
            _p(
                "open_to_public",
                "a resource on the e-government internal network cannot be open to the public (art. 5, 19)",
            )
        )
    return out


def _class_rules(session: Session, entry: dict) -> list[FieldProblem]:
    out = []
    if entry["classification"] == "base":
        if entry["base_category"] not in BASE_CATEGORIES:
            out.append(
                _p(
                    "base_category",
                    "a base resource names its base database: %(values)s",
                    values=", ".join(BASE_CATEGORIES),
                )
            )
        if entry["share_type"] == "not_shared":
            out.append(_p("share_type", "a base resource cannot be “not shared” (art. 10)"))
        if not any(i["base"] for i in entry["info_items"]):
            out.append(_p("info_items", "a base resource marks its base info items (art. 10)"))
    if entry["classification"] == "thematic":
        if not entry["lead_department"]:
            out.append(
                _p("lead_department", "a thematic resource names its lead department (art. 10)")
            )
        elif _department(session, entry["lead_department"]) is None:
            out.append(
                _p(
                    "lead_department",
                    "unknown department '%(slug)s'",
                    slug=entry["lead_department"],
                )
            )
    return out


def _item_rules(entry: dict) -> list[FieldProblem]:
    out = []
    items = entry["info_items"]
    if not items:
        out.append(_p("info_items", "list at least one info item"))
    seen = set()
    for n, item in enumerate(items, 1):
        where = f"info_items[{n}]"
        if not item["name"]:
            out.append(_p(where, "info item %(n)s has no name", n=n))
        elif item["name"] in seen:
            out.append(_p(where, "info item “%(name)s” is listed twice", name=item["name"]))
        seen.add(item["name"])
        if not item["data_type"]:
            out.append(_p(where, "info item “%(name)s” needs a data type", name=item["name"]))
        share = item["share_type"] or entry["share_type"]
        if share not in SHARE_TYPES:
            out.append(
                _p(
                    where,
                    "info item “%(name)s”: share type must be one of %(values)s",
                    name=item["name"],
                    values=", ".join(SHARE_TYPES),
                )
            )
            continue
        if share == "conditional" and not (item["conditions"] or entry["share_conditions"]):
            out.append(
                _p(
                    where,
                    "conditional info item “%(name)s” states its conditions (art. 9)",
                    name=item["name"],
                )
            )
        if share == "not_shared" and not (item["basis"] or entry["legal_basis"]):
            out.append(
                _p(
                    where,
                    "info item “%(name)s” is not shared and needs a legal basis (art. 10)",
                    name=item["name"],
                )
            )
        if entry["classification"] == "base" and item["base"] and share != "unconditional":
            out.append(
                _p(
                    where,
                    "base info item “%(name)s” of a base database must be shared unconditionally (art. 10)",
                    name=item["name"],
                )
            )
        if entry["share_type"] == "not_shared" and share != "not_shared":
            out.append(
                _p(
                    where,
                    "info item “%(name)s” is shared although its resource is not shared",
                    name=item["name"],
                )
            )
        if entry["share_type"] == "unconditional" and share != "unconditional":
            out.append(
                _p(
                    where,
                    "info item “%(name)s” is restricted although its resource is unconditional: make the resource conditional",
                    name=item["name"],
                )
            )
    return out
