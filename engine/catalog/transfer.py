"""Bulk import and export of catalog entries: CSV (one row per info item), JSON, DCAT-style JSON.

Import is all or nothing: every row is checked (the catalog rules, the department's right to edit,
consistent resource columns across an entry's rows) and a file with any bad row imports nothing
and lists every bad row with its reason. Imported entries become drafts to submit for publication.
"""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import inputs
from engine.catalog import find_resource
from engine.catalog.entry import FIELDS, ITEM_FIELDS, normalize
from engine.catalog.models import Resource
from engine.catalog.rules import check
from engine.catalog.versions import latest_version, may_edit, save_draft
from engine.catalog.views import Entry, Version, entry_of, version_of
from engine.clock import Clock
from engine.directory.models import User
from engine.errors import ValidationFailed
from engine.exports import SafeDictWriter, read_cell
from engine.i18n import N_, Message

RESOURCE_COLUMNS = [f for f in FIELDS if f != "info_items"]
ITEM_COLUMNS = [f"item_{f}" for f in ITEM_FIELDS]
CSV_COLUMNS = RESOURCE_COLUMNS + ITEM_COLUMNS


def parse_csv(text: str) -> list[tuple[list[int], dict]]:
    """Entries from CSV rows, each with the line numbers it came from."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [
        c for c in ("code", "name", "provider", "item_name") if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise ValidationFailed(
            Message("The CSV file lacks the columns: %(cols)s", cols=", ".join(missing)),
            [
                {
                    "field": "(header)",
                    "message": Message("expected columns: %(cols)s", cols=", ".join(CSV_COLUMNS)),
                }
            ],
        )
    entries: dict[str, tuple[list[int], dict]] = {}
    conflicts = []
    for line, raw_row in enumerate(reader, start=2):
        row = {k: read_cell(v) if isinstance(v, str) else v for k, v in raw_row.items()}
        code = (row.get("code") or "").strip()
        key = code or f"(line {line})"
        resource = {c: row.get(c, "") for c in RESOURCE_COLUMNS}
        item = {f: row.get(f"item_{f}", "") for f in ITEM_FIELDS}
        if key not in entries:
            entries[key] = ([line], {**resource, "info_items": [item]})
            continue
        lines, entry = entries[key]
        lines.append(line)
        differing = [
            c
            for c in RESOURCE_COLUMNS
            if (row.get(c) or "").strip() not in ("", str(entry.get(c) or "").strip())
        ]
        if differing:
            conflicts.append(
                {
                    "field": f"line {line}",
                    "message": Message(
                        "%(code)s: differs from line %(first)s in %(cols)s",
                        code=code,
                        first=lines[0],
                        cols=", ".join(differing),
                    ),
                }
            )
        entry["info_items"].append(item)
    if conflicts:
        raise ValidationFailed(
            Message(
                "%(n)s row(s) of the file are not valid; nothing was imported.", n=len(conflicts)
            ),
            conflicts,
        )
    return list(entries.values())


def parse_json(text: str) -> list[tuple[list[int], dict]]:
    data = inputs.parse_json(text, Message(N_("The file")))
    items = data.get("entries") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
        raise ValidationFailed(
            Message("A JSON import is a list of entries, or an object with “entries”.")
        )
    return [([n], e) for n, e in enumerate(items, start=1)]


def read_upload(data: bytes, filename: str) -> tuple[str, str]:
    """An uploaded catalog file as (text, format): UTF-8 text, JSON by its ``.json`` name and CSV
    otherwise, else a refusal naming the file."""
    inputs.require("file", filename, Message(N_("File name")), max_length=255, required=True)
    fmt = "json" if filename.lower().endswith(".json") else "csv"
    return inputs.decode_text(data, filename), fmt


def parse_upload(data: bytes, filename: str) -> list[tuple[list[int], dict]]:
    """The entries of an uploaded catalog file (:func:`read_upload`)."""
    text, fmt = read_upload(data, filename)
    return parse_json(text) if fmt == "json" else parse_csv(text)


def import_entries(
    session: Session, clock: Clock, user: User, text: str, fmt: str
) -> list[Version]:
    """Check every entry, then save them all as drafts — or raise listing every bad row."""
    parsed = parse_csv(text) if fmt == "csv" else parse_json(text)
    unit = "line" if fmt == "csv" else "entry"
    problems = []
    for lines, raw in parsed:
        entry = normalize(raw)
        where = f"{unit} {', '.join(map(str, lines))}"
        resource = find_resource(session, entry["code"])
        if not may_edit(user, resource, entry):
            problems.append(
                {
                    "field": where,
                    "message": Message(
                        "%(code)s: only officials of the providing department may edit it",
                        code=entry["code"] or "-",
                    ),
                }
            )
            continue
        for p in check(session, entry, resource.id if resource is not None else None):
            problems.append(
                {
                    "field": where,
                    "message": Message(
                        "%(code)s %(field)s: %(problem)s",
                        code=entry["code"] or "-",
                        field=p["field"],
                        problem=p["message"],
                    ),
                }
            )
    if problems:
        raise ValidationFailed(
            Message("%(n)s problem(s) in the file; nothing was imported.", n=len(problems)),
            problems,
        )
    versions = []
    for _lines, raw in parsed:
        entry = normalize(raw)
        resource = session.scalar(select(Resource).where(Resource.code == entry["code"]))
        latest = latest_version(session, resource) if resource is not None else None
        if latest is not None and latest.data == entry:
            continue  # unchanged entries make no new version
        versions.append(save_draft(session, clock, user, entry, note="import", resource=resource))
    authors = {user.id: user.label}
    return [version_of(v, authors) for v in versions]


def published(session: Session, provider_id: int | None = None) -> list[Entry]:
    stmt = (
        select(Resource)
        .where(Resource.status == "published")
        .options(selectinload(Resource.provider))
        .order_by(Resource.code)
    )
    if provider_id is not None:
        stmt = stmt.where(Resource.provider_id == provider_id)
    return [entry_of(r) for r in session.scalars(stmt)]


def export_json(resources: list[Entry]) -> str:
    return json.dumps({"entries": [r.metadata for r in resources]}, ensure_ascii=False, indent=1)


def export_csv(resources: list[Entry]) -> str:
    out = io.StringIO()
    writer = SafeDictWriter(out, CSV_COLUMNS)
    writer.writeheader()
    for r in resources:
        entry = r.metadata
        base = {
            c: ";".join(entry[c])
            if c == "related_codes"
            else ("true" if entry[c] is True else "false" if entry[c] is False else entry[c])
            for c in RESOURCE_COLUMNS
        }
        for item in entry["info_items"] or [{}]:
            writer.writerow(
                {
                    **base,
                    **{
                        f"item_{f}": (
                            "true"
                            if item.get(f) is True
                            else "false"
                            if item.get(f) is False
                            else item.get(f, "")
                        )
                        for f in ITEM_FIELDS
                    },
                }
            )
    return (
        "\ufeff" + out.getvalue()
    )  # BOM: spreadsheet software opens the UTF-8 Chinese text correctly


def export_dcat(resources: list[Entry], base_url: str = "") -> dict:
    """A DCAT-style (W3C Data Catalog Vocabulary) JSON-LD view of the published catalog."""
    return {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "govshare": base_url + "/catalog/terms#",
        },
        "@type": "dcat:Catalog",
        "dct:title": "宁夏回族自治区政务数据资源目录",
        "dcat:dataset": [
            {
                "@id": f"{base_url}/catalog/{r.code}",
                "@type": "dcat:Dataset",
                "dct:identifier": r.code,
                "dct:title": r.name,
                "dct:description": r.summary,
                "dct:publisher": {"@type": "foaf:Organization", "foaf:name": r.provider.name.zh},
                "dct:issued": r.published_at.date().isoformat() if r.published_at else None,
                "dct:accrualPeriodicity": r.metadata.get("update_cycle"),
                "dcat:keyword": [i["name"] for i in r.info_items],
                "dct:accessRights": r.share_type,
                "govshare:openToPublic": r.open_to_public,
                "govshare:network": r.network,
                "govshare:classification": r.classification,
                "dct:conformsTo": r.legal_basis or None,
                "dcat:distribution": [
                    {
                        "@type": "dcat:Distribution",
                        "dct:format": r.metadata.get("format"),
                        "govshare:shareMethod": r.metadata.get("share_method"),
                    }
                ],
            }
            for r in resources
        ],
    }
