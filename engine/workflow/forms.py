"""JSON Schema (2020-12) forms: validation that names every failing field.

Besides the standard keywords these extensions are understood: ``"x-subsetOf": "<data key>"`` on
an array property requires every element to appear in the task data list of that name (a provider
may grant only info items that were requested); ``"x-notBefore"`` / ``"x-notAfter": "<data key>"``
on a date property keep it within the dates of those names in the task data (no one grants a
longer period than was asked).

Every form also passes the input boundary (:mod:`engine.inputs`) before the schema: each string
(property, list element or unknown value) is valid Unicode without control characters (line
breaks and tab only where ``x-widget`` is ``textarea``) and within ``maxLength`` — or, where the
schema sets none, :data:`SINGLE_LINE_CAP` characters for a text input and :data:`inputs.TEXT_CAP`
for a text area; a required string is more than blank or zero-width characters; a ``format: date``
lies between 2000-01-01 and 2100-12-31; and a date property ``<name>_end`` is not before its
sibling ``<name>_start`` (a period, e.g. ``granted_period_start`` / ``granted_period_end``).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache

from jsonschema import Draft202012Validator, ValidationError

from engine import inputs
from engine.errors import FieldProblem, ValidationFailed
from engine.i18n import Label, Message

SINGLE_LINE_CAP = 500  # characters of a text input whose schema sets no maxLength


def form_label(schema: dict) -> Label:
    """A form's title in both languages (``title`` Chinese, ``x-title-en`` English)."""
    return Label(str(schema.get("title") or ""), schema.get("x-title-en"))


def field_label(schema: dict, name: str) -> Label | None:
    """The label of a form's top-level field in both languages, None for a name it lacks."""
    node = schema.get("properties", {}).get(name.split(".")[0])
    if not isinstance(node, dict) or not node.get("title"):
        return None
    return Label(str(node["title"]), node.get("x-title-en"))


def enum_label(node: dict, value: str) -> Label | None:
    """An enum value's label (``x-enum-labels: {value: [Chinese, English]}``), None if it has none."""
    pair = (node.get("x-enum-labels") or {}).get(value)
    if not isinstance(pair, list) or not pair:
        return None
    return Label(str(pair[0]), str(pair[1]) if len(pair) > 1 else None)


def label_problems(schema: dict) -> list[str]:
    """What a form lacks for officials to read it in both languages (``govshare processes lint``):
    the form's and every field's ``title`` and ``x-title-en``, and both labels of each value of an
    ``enum`` (on a field or on the items of a list field) in ``x-enum-labels``."""
    problems = []
    if not schema.get("title") or not schema.get("x-title-en"):
        problems.append("the form needs 'title' (Chinese) and 'x-title-en' (English)")
    for name, node in (schema.get("properties") or {}).items():
        if not isinstance(node, dict):
            continue
        if not node.get("title") or not node.get("x-title-en"):
            problems.append(f"field '{name}' needs 'title' (Chinese) and 'x-title-en' (English)")
        items = node.get("items")
        for holder in (node, items if isinstance(items, dict) else {}):
            labels = node.get("x-enum-labels") or holder.get("x-enum-labels") or {}
            for value in holder.get("enum") or []:
                pair = labels.get(value)
                if not (isinstance(pair, list) and len(pair) == 2 and all(pair)):
                    problems.append(
                        f"value '{value}' of field '{name}' needs labels "
                        f"[Chinese, English] in 'x-enum-labels'"
                    )
    return problems


@cache
def _validator(schema_key: str, schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _message(err: ValidationError) -> Message:
    """What is wrong with one field, in words an official understands."""
    kind, value = err.validator, err.validator_value
    if kind == "additionalProperties":
        return Message("unknown field: %(detail)s", detail=err.message)
    if kind == "enum":
        node = err.schema if isinstance(err.schema, dict) else {}
        labels = [enum_label(node, v) or str(v) for v in value]
        return Message("must be one of %(values)s", values=labels)
    if kind == "pattern" and isinstance(err.instance, str) and err.instance.strip():
        return Message("is not in the expected form (or contains control characters)")
    if kind in ("minLength", "pattern") and isinstance(err.instance, str):
        return Message("must not be empty")
    if kind == "maxLength":
        return Message("is longer than %(n)s characters", n=value)
    if kind == "maxItems":
        return Message("lists more than %(n)s items", n=value)
    if kind in ("minimum", "maximum"):
        return Message("is out of range")
    if kind == "format" and value == "date":
        return Message("must be a date (YYYY-MM-DD)")
    if kind == "minItems":
        return Message("choose at least %(n)s", n=value)
    if kind == "uniqueItems":
        return Message("lists an item twice")
    if kind == "type":
        return Message("has the wrong type (expected %(type)s)", type=value)
    return Message("is not valid: %(detail)s", detail=err.message)


def _subset_errors(schema: dict, data: dict, context: dict) -> list[FieldProblem]:
    """``x-subsetOf``: a list may only hold values of the named list in the task data."""
    errors: list[FieldProblem] = []
    for name, prop in schema.get("properties", {}).items():
        source = prop.get("x-subsetOf")
        if source and isinstance(data.get(name), list):
            allowed = set(context.get(source) or [])
            extra = [v for v in data[name] if v not in allowed]
            if extra:
                items = ", ".join(map(str, extra))
                message = Message("not among the requested items: %(items)s", items=items)
                errors.append({"field": name, "message": str(message)})
    return errors


def _bound_errors(schema: dict, data: dict, context: dict) -> list[FieldProblem]:
    """``x-notBefore`` / ``x-notAfter``: a date may not precede (follow) the date of that name in
    the task data (a grant's period lies within the period requested)."""
    errors: list[FieldProblem] = []
    for name, prop in schema.get("properties", {}).items():
        value = data.get(name)
        if not isinstance(value, str) or inputs.day_problem(value, date.min, date.max) is not None:
            continue  # absent, or not a date: the schema names it
        earliest, latest = (
            context.get(prop.get("x-notBefore", "")),
            context.get(prop.get("x-notAfter", "")),
        )
        if isinstance(earliest, str) and value < earliest[:10]:
            message = Message(
                "must not be before %(date)s, the start requested", date=earliest[:10]
            )
            errors.append({"field": name, "message": message})
        if isinstance(latest, str) and value > latest[:10]:
            message = Message("must not be after %(date)s, the end requested", date=latest[:10])
            errors.append({"field": name, "message": message})
    return errors


def _string_problem(node: dict, value: object, required: bool) -> Message | None:
    if not isinstance(value, str):
        return inputs.strings_problem(value)  # the schema's type check names a wrong type
    multiline = node.get("x-widget") == "textarea"
    cap = node.get("maxLength") or (inputs.TEXT_CAP if multiline else SINGLE_LINE_CAP)
    return inputs.text_problem(value, max_length=cap, multiline=multiline, required=required)


def _property_problem(node: dict, value: object, required: bool) -> Message | None:
    if isinstance(value, list):
        items = node.get("items")
        item: dict = items if isinstance(items, dict) else {}
        for element in value:
            problem = _string_problem(item, element, True)
            if problem is not None:
                return problem
        return None
    return _string_problem(node, value, required)


def boundary_errors(schema: dict, data: object) -> list[FieldProblem]:
    """The text problems of a form (see the module's docstring), by field."""
    if not isinstance(data, dict):
        problem = inputs.strings_problem(data)
        return [] if problem is None else [{"field": "(form)", "message": problem}]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    errors: list[FieldProblem] = []
    for name, value in data.items():
        found = properties.get(name)
        node: dict = found if isinstance(found, dict) else {}
        key_problem = inputs.text_problem(name, max_length=SINGLE_LINE_CAP)
        if key_problem is not None:
            errors.append({"field": "(form)", "message": key_problem})
            continue
        problem = _property_problem(node, value, name in required)
        if problem is not None:
            label = field_label(schema, name) or name
            errors.append({"field": name, "label": label, "message": problem})
    return errors


def _date_errors(schema: dict, data: dict) -> list[FieldProblem]:
    """Dates in the plausible range; ``<name>_end`` not before ``<name>_start``."""
    checks = inputs.Checks()
    properties = schema.get("properties", {})
    for name, node in properties.items():
        value = data.get(name)
        if node.get("format") != "date" or not isinstance(value, str):
            continue
        if inputs.day_problem(value, date.min, date.max) is None:  # else the schema names it
            checks.day(name, value, field_label(schema, name) or name)
        start = name.removesuffix("_end") + "_start"
        if name.endswith("_end") and start in properties:
            checks.period(name, data.get(start), value, field_label(schema, name) or name)
    return checks.problems


def validator_of(schema: dict) -> Draft202012Validator:
    """The (cached) validator of ``schema``; building its cache key serializes the schema, so a
    caller that checks against the same schema again and again keeps the validator instead."""
    return _validator(schema.get("$id", ""), json.dumps(schema, sort_keys=True))


def field_errors(
    schema: dict,
    data: object,
    context: dict | None = None,
    validator: Draft202012Validator | None = None,
) -> list[FieldProblem]:
    """Every problem of ``data`` against ``schema``: ``[{"field": ..., "message": ...}]``;
    ``validator``: ``schema``'s own (:func:`validator_of`), when the caller keeps it.

    A form that fails the input boundary is reported with those problems alone: the schema's
    messages would only repeat the values that cannot be shown."""
    boundary = boundary_errors(schema, data)
    if boundary:
        return boundary
    validator = validator or validator_of(schema)
    errors: list[FieldProblem] = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            errors.append({"field": missing, "message": Message("is required")})
        else:
            path = ".".join(str(p) for p in err.absolute_path) or "(form)"
            errors.append({"field": path, "message": _message(err)})
    if isinstance(data, dict):
        errors += _date_errors(schema, data)
    if isinstance(data, dict) and context is not None:
        errors += _subset_errors(schema, data, context)
        errors += _bound_errors(schema, data, context)
    for error in errors:
        label = field_label(schema, error["field"])
        if label is not None and "label" not in error:
            error["label"] = label
    return errors


def validate_form(form_name: str, schema: dict, data: dict, context: dict | None = None) -> dict:
    """Return ``data`` if valid, else raise :class:`ValidationFailed` listing every field."""
    errors = field_errors(schema, data, context)
    if errors:
        labels = list(dict.fromkeys(e.get("label") or e["field"] for e in errors))
        form = form_label(schema) if schema.get("title") else form_name
        raise ValidationFailed(
            Message("Form %(form)s is not valid: %(fields)s", form=form, fields=labels), errors
        )
    return data
