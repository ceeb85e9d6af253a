"""JSON Schema (2020-12) forms: validation that names every failing field.

Besides the standard keywords one extension is understood: ``"x-subsetOf": "<data key>"`` on an
array property requires every element to appear in the task data list of that name (a provider may
grant only info items that were requested).

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
from engine.i18n import Message

SINGLE_LINE_CAP = 500  # characters of a text input whose schema sets no maxLength


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
        return Message("must be one of %(values)s", values=", ".join(map(str, value)))
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
            label = str(node.get("title") or name)
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
            checks.day(name, value, node.get("title", name))
        start = name.removesuffix("_end") + "_start"
        if name.endswith("_end") and start in properties:
            checks.period(name, data.get(start), value, node.get("title", name))
    return checks.problems


def field_errors(schema: dict, data: object, context: dict | None = None) -> list[FieldProblem]:
    """Every problem of ``data`` against ``schema``: ``[{"field": ..., "message": ...}]``.

    A form that fails the input boundary is reported with those problems alone: the schema's
    messages would only repeat the values that cannot be shown."""
    boundary = boundary_errors(schema, data)
    if boundary:
        return boundary
    validator = _validator(schema.get("$id", ""), json.dumps(schema, sort_keys=True))
    errors: list[FieldProblem] = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            errors.append({"field": missing, "message": Message("is required")})
        else:
            path = ".".join(str(p) for p in err.absolute_path) or "(form)"
            message = _message(err)
            # enum and subset messages are rendered at once (their values are data, not words)
            rendered = str(message) if err.validator == "enum" else message
            errors.append({"field": path, "message": rendered})
    if isinstance(data, dict):
        errors += _date_errors(schema, data)
    if isinstance(data, dict) and context is not None:
        errors += _subset_errors(schema, data, context)
    return errors


def validate_form(form_name: str, schema: dict, data: dict, context: dict | None = None) -> dict:
    """Return ``data`` if valid, else raise :class:`ValidationFailed` listing every field."""
    errors = field_errors(schema, data, context)
    if errors:
        properties = schema.get("properties", {})
        names = sorted({e["field"] for e in errors})
        fields = ", ".join(str(properties.get(n, {}).get("title") or n) for n in names)
        raise ValidationFailed(
            Message("Form %(form)s is not valid: %(fields)s", form=form_name, fields=fields), errors
        )
    return data
