"""JSON Schema (2020-12) forms: validation that names every failing field.

Besides the standard keywords one extension is understood: ``"x-subsetOf": "<data key>"`` on an
array property requires every element to appear in the task data list of that name (a provider may
grant only info items that were requested).
"""

from __future__ import annotations

import json
from functools import cache

from jsonschema import Draft202012Validator, ValidationError

from engine.errors import FieldProblem, ValidationFailed
from engine.i18n import Message


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


def field_errors(schema: dict, data: object, context: dict | None = None) -> list[FieldProblem]:
    """Every problem of ``data`` against ``schema``: ``[{"field": ..., "message": ...}]``."""
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
    if isinstance(data, dict) and context is not None:
        errors += _subset_errors(schema, data, context)
    return errors


def validate_form(form_name: str, schema: dict, data: dict, context: dict | None = None) -> dict:
    """Return ``data`` if valid, else raise :class:`ValidationFailed` listing every field."""
    errors = field_errors(schema, data, context)
    if errors:
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise ValidationFailed(
            Message("Form %(form)s is not valid: %(fields)s", form=form_name, fields=fields), errors
        )
    return data
