"""JSON Schema (2020-12) forms: validation that names every failing field.

Besides the standard keywords one extension is understood: ``"x-subsetOf": "<data key>"`` on an
array property requires every element to appear in the task data list of that name (a provider may
grant only info items that were requested).
"""

from __future__ import annotations

from functools import cache

from jsonschema import Draft202012Validator

from engine.errors import ValidationFailed
from engine.i18n import Message


@cache
def _validator(schema_key: str, schema_json: str) -> Draft202012Validator:
    import json

    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def field_errors(schema: dict, data: object, context: dict | None = None) -> list[dict]:
    """Every problem of ``data`` against ``schema``: ``[{"field": ..., "message": ...}]``."""
    import json

    validator = _validator(schema.get("$id", ""), json.dumps(schema, sort_keys=True))
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            errors.append({"field": missing, "message": Message("is required")})
            continue
        path = ".".join(str(p) for p in err.absolute_path) or "(form)"
        if err.validator == "additionalProperties":
            errors.append(
                {"field": path, "message": Message("unknown field: %(detail)s", detail=err.message)}
            )
        elif err.validator == "enum":
            errors.append(
                {
                    "field": path,
                    "message": str(
                        Message(
                            "must be one of %(values)s",
                            values=", ".join(map(str, err.validator_value)),
                        )
                    ),
                }
            )
        elif err.validator in ("minLength", "pattern") and isinstance(err.instance, str):
            errors.append({"field": path, "message": Message("must not be empty")})
        elif err.validator == "format" and err.validator_value == "date":
            errors.append({"field": path, "message": Message("must be a date (YYYY-MM-DD)")})
        elif err.validator == "minItems":
            errors.append(
                {"field": path, "message": Message("choose at least %(n)s", n=err.validator_value)}
            )
        elif err.validator == "uniqueItems":
            errors.append({"field": path, "message": Message("lists an item twice")})
        elif err.validator == "type":
            errors.append(
                {
                    "field": path,
                    "message": Message(
                        "has the wrong type (expected %(type)s)", type=err.validator_value
                    ),
                }
            )
        else:
            errors.append(
                {"field": path, "message": Message("is not valid: %(detail)s", detail=err.message)}
            )
    if isinstance(data, dict) and context is not None:
        for name, prop in schema.get("properties", {}).items():
            source = prop.get("x-subsetOf")
            if source and isinstance(data.get(name), list):
                allowed = set(context.get(source) or [])
                extra = [v for v in data[name] if v not in allowed]
                if extra:
                    errors.append(
                        {
                            "field": name,
                            "message": str(
                                Message(
                                    "not among the requested items: %(items)s",
                                    items=", ".join(map(str, extra)),
                                )
                            ),
                        }
                    )
    return errors


def validate_form(form_name: str, schema: dict, data: object, context: dict | None = None) -> dict:
    """Return ``data`` if valid, else raise :class:`ValidationFailed` listing every field."""
    errors = field_errors(schema, data, context)
    if errors:
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise ValidationFailed(
            Message("Form %(form)s is not valid: %(fields)s", form=form_name, fields=fields), errors
        )
    return data  # type: ignore[return-value]
