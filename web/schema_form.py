"""Render a JSON Schema form on the server, and read a submitted one back into JSON.

Widgets follow the schema: ``enum`` → radio buttons (labels from ``x-enum-labels``), an array
limited by ``x-subsetOf`` → checkboxes of the request's items, ``format: date`` → date input,
``x-widget: textarea`` → text area; ``x-default-from`` pre-fills from the task data;
``x-show-when: {field: [values]}`` shows a field only for those answers of another field (the
page hides it, and the server drops it when the condition is not met, so a refusal never carries
a pre-filled grant scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from .templating import is_english, render_message, title_of


@dataclass
class Field:
    name: str
    label: str
    widget: str  # radio | checkboxes | date | textarea | text
    required: bool
    value: object
    options: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    help: str = ""
    show_when: dict = field(default_factory=dict)


def _options(name: str, node: dict, context: dict) -> list[tuple[str, str]]:
    if "enum" in node:
        labels = node.get("x-enum-labels", {})
        return [
            (v, (labels.get(v, [v, v])[1] if is_english() else labels.get(v, [v, v])[0]))
            for v in node["enum"]
        ]
    source = node.get("x-subsetOf")
    if source:
        return [(v, v) for v in context.get(source) or []]
    return []


def build_fields(
    schema: dict, values: dict | None, errors: list[dict] | None, context: dict
) -> tuple[list[Field], list[str]]:
    """Fields in schema order with values (submitted, else defaults) and their errors."""
    errors = errors or []
    by_field: dict[str, list[str]] = {}
    for e in errors:
        by_field.setdefault(e["field"].split(".")[0], []).append(render_message(e["message"]))
    required = set(schema.get("required", []))
    fields = []
    for name, node in schema.get("properties", {}).items():
        if node.get("type") == "array":
            widget = "checkboxes"
        elif "enum" in node:
            widget = "radio"
        elif node.get("format") == "date":
            widget = "date"
        elif node.get("x-widget") == "textarea":
            widget = "textarea"
        else:
            widget = "text"
        if values is not None:
            value = values.get(name, [] if widget == "checkboxes" else "")
        else:
            value = context.get(node["x-default-from"]) if node.get("x-default-from") else None
            value = value if value is not None else ([] if widget == "checkboxes" else "")
        fields.append(
            Field(
                name,
                title_of(node),
                widget,
                name in required,
                value,
                _options(name, node, context),
                by_field.pop(name, []),
                node.get("x-help-en" if is_english() else "description", ""),
                node.get("x-show-when", {}),
            )
        )
    general = [m for msgs in by_field.values() for m in msgs]
    return fields, general


def parse(schema: dict, form: MultiDict) -> dict:
    """The submitted form as JSON data: empty inputs are left out so that ``required`` applies."""
    data: dict = {}
    for name, node in schema.get("properties", {}).items():
        if node.get("type") == "array":
            values = [v.strip() for v in form.getlist(name) if v.strip()]
            if values:
                data[name] = values
        else:
            value = (form.get(name) or "").strip()
            if value:
                data[name] = value
    for name, node in schema.get("properties", {}).items():
        condition = node.get("x-show-when") or {}
        if name in data and any(
            data.get(other) not in allowed for other, allowed in condition.items()
        ):
            del data[name]
    return data
