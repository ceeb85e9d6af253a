"""A catalog entry's metadata, after 政务信息资源目录编制指南(试行) (2017).

Core elements: classification (base / thematic / department resource, with class code), name,
code (class code + "/" + sequence), provider, summary, format, info items (name, data type, share
type, conditions), share attributes (type, conditions, method), open attribute, update cycle,
publication date, related resources; plus what the measures add: network (art. 5), legal basis for
not sharing (art. 10), the lead department of a thematic resource (art. 10), and the region entry a
city or county entry links to (art. 8).
"""

from __future__ import annotations

CLASSIFICATIONS = ("base", "thematic", "department")
BASE_CATEGORIES = ("population", "legal_entities", "natural_resources_geospatial", "e_licences")
SHARE_METHODS = ("interface", "file", "query", "other")
NETWORKS = ("internal", "extranet")
UPDATE_CYCLES = ("realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular")
FIELDS = (
    "code",
    "name",
    "provider",
    "classification",
    "classification_code",
    "base_category",
    "lead_department",
    "summary",
    "format",
    "share_type",
    "share_conditions",
    "share_method",
    "network",
    "open_to_public",
    "open_conditions",
    "update_cycle",
    "related_codes",
    "legal_basis",
    "region_link",
    "info_items",
)
ITEM_FIELDS = ("name", "data_type", "share_type", "conditions", "base", "basis")


def normalize(entry: dict) -> dict:
    """The entry with every field present, strings stripped, lists and booleans in their types."""
    out: dict = {}
    for f in FIELDS:
        value = entry.get(f)
        if f == "info_items":
            out[f] = [normalize_item(i) for i in (value or []) if isinstance(i, dict)]
        elif f == "related_codes":
            if isinstance(value, str):
                value = [v for v in value.replace("；", ";").replace(",", ";").split(";")]
            out[f] = [str(v).strip() for v in (value or []) if str(v).strip()]
        elif f == "open_to_public":
            out[f] = _bool(value)
        else:
            out[f] = "" if value is None else str(value).strip()
    out["classification_code"] = out["classification_code"] or out["code"].split("/")[0]
    return out


def normalize_item(item: dict) -> dict:
    out: dict[str, str | bool] = {
        f: ("" if item.get(f) is None else str(item.get(f)).strip())
        for f in ITEM_FIELDS
        if f != "base"
    }
    out["base"] = _bool(item.get("base"))
    out["share_type"] = out["share_type"] or ""
    return out


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "yes", "y", "是", "开放")


def search_text(entry: dict) -> str:
    """What full-text search looks in: name, code, summary and info item names."""
    return " ".join(
        [
            entry["name"],
            entry["code"],
            entry["summary"],
            " ".join(i["name"] for i in entry["info_items"]),
        ]
    )
