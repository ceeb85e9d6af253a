"""The API's operations, declared once: each view of ``/api/v1`` (and ``/healthz``) carries an
:class:`Operation` naming its request body, query and path parameters as JSON Schema (2020-12)
and its responses. The same declaration checks every incoming request (a 422 naming each field,
before the view runs, so nothing is written) and becomes the OpenAPI 3.1 document, which
:func:`document` builds with apispec from the app's URL map: an operation cannot be served
without being documented, nor documented differently from how it is checked.

How to add an operation: see ``docs/api.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from apispec import APISpec
from flask import Flask, request
from werkzeug.routing import Rule

from engine.errors import GovshareError, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import parse_json
from engine.workflow.deployment import default_processes_dir
from engine.workflow.forms import field_errors, validator_of

MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL
MAX_DEPTH = 32  # nesting of a request body's arrays and objects; the API's bodies need 3
MAX_BODY = 1024 * 1024  # bytes of a JSON body; the largest the API takes is a few kB
# Text the database stores as given: no control characters but tab and line breaks, no lone
# surrogates (PostgreSQL refuses NUL; a surrogate cannot be encoded at all).
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ud800-\udfff]*$"


def labelled(zh: str, en: str, schema: dict) -> dict:
    """A query parameter's schema with its label in both languages: an invalid value is named
    by it, e.g. "每页条数 (limit)"."""
    return {**schema, "title": zh, "x-title-en": en}


def text(max_length: int, min_length: int = 0, **extra: Any) -> dict:
    """A string the database can store: at most ``max_length`` characters (the column's length,
    or a bound for a Text column), no control characters or surrogates."""
    schema = {"type": "string", "maxLength": max_length, "pattern": TEXT_PATTERN, **extra}
    if min_length:
        schema["minLength"] = min_length
    return schema


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict, **extra: Any) -> dict:
    return {"type": "array", "items": items, **extra}


def obj(required: tuple[str, ...] = (), **properties: dict) -> dict:
    """An object with these properties; the ``required`` ones must be present."""
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def form_with_limits(form: str, **limits: int) -> dict:
    """The JSON Schema of a process form (``processes/forms/<form>.schema.json``, which the
    engine validates the data against as well) with what the database can store added: text
    properties (and the text items of lists) at most ``limits[name]`` characters, no control
    characters; lists at most ``limits[name]`` items (100 for a property not named)."""
    path = default_processes_dir() / "forms" / f"{form}.schema.json"
    schema = json.loads(path.read_text("utf-8"))
    for name, prop in schema["properties"].items():
        if prop.get("type") == "string":
            limit = limits.get(name, 100)
            # the widget and the length stay where the engine's input boundary reads them
            shown = {k: v for k, v in prop.items() if k.startswith("x-") or k == "title"}
            schema["properties"][name] = {
                **shown,
                "maxLength": limit,
                "allOf": [prop, text(limit)],
            }
        elif prop.get("type") == "array":
            prop["maxItems"] = limits.get(name, 100)
            prop["items"] = {"allOf": [prop.get("items", {}), text(200)]}
    return schema


NULLABLE_TEXT = {"type": ["string", "null"]}
ERROR = obj(
    ("error", "message", "details"),
    error={"type": "string"},
    message={"type": "string"},
    details=array({"anyOf": [{"type": "string"}, obj(("field", "message"), field={}, message={})]}),
)
# schemas operations refer to by name; the document lists them under components
COMPONENTS: dict[str, dict] = {"Error": ERROR}
# the scope a department system's token needs, by endpoint (web.api fills it; docs/api.md)
ENDPOINT_SCOPES: dict[str, str] = {}
SCOPE_TEXTS = {
    "catalog:read": "read the published catalog",
    "requests:status": "read the status of a share request of the department",
    "grants:check": "check a use against the department's grants (art. 14)",
    "verification:flags": "read whether a record is under verification (art. 15)",
}
TOKEN_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token. A department system's token (registered client, 管理 → "
    "Department systems) acts for its department and carries scopes; each operation's security "
    "requirement names the scope it needs ("
    + "; ".join(f"{k}: {v}" for k, v in SCOPE_TEXTS.items())
    + "). An operation that names no scope is for an official's own token only. A client on the "
    "extranet is refused resources shared only over the internal network (403).",
}

ERROR_TEXTS = {
    401: "no token, or not a valid one (expired or revoked: the message says so)",
    403: "the token's department may not do this, the token lacks the scope, or a system on "
    "the extranet asked about a resource shared only over the internal network",
    404: "no such record",
    409: "someone else was faster; nothing was applied",
    413: "the body is larger than 1 MiB; nothing was written",
    422: "the input is not valid; the details name each field; nothing was written",
    503: "the process failed in a way an administrator must fix",
}


@dataclass(frozen=True)
class Operation:
    """One operation: what it does, what it accepts, what it answers.

    ``responses`` maps a success status to (description, schema); ``errors`` lists the statuses
    of :class:`engine.errors.GovshareError` the operation may answer (401 and 422 are added for
    every operation behind a token, 422 for every operation that takes input)."""

    summary: str
    responses: dict[int, tuple[str, dict | None]]
    errors: tuple[int, ...] = ()
    body: dict | None = None
    query: dict | None = None
    path: dict[str, dict] = field(default_factory=dict)
    description: str = ""
    token: bool = True
    example: dict | None = None  # of the body, for readers and the fuzzer's first cases
    headers: dict[str, str] = field(default_factory=dict)  # of the success answer: name -> text


def operation(
    summary: str,
    responses: dict[int, tuple[str, dict | None]],
    *,
    errors: tuple[int, ...] = (),
    body: dict | None = None,
    query: dict | None = None,
    path: dict[str, dict] | None = None,
    description: str = "",
    token: bool = True,
    example: dict | None = None,
    headers: dict[str, str] | None = None,
) -> Callable:
    """Declare a view's operation and check its input against the declaration.

    The view is called with ``body=`` (the parsed JSON) when ``body`` is declared and ``query=``
    (the parameters, typed) when ``query`` is; path parameters arrive as Flask gives them, after
    their schema (derived from the rule's converter unless ``path`` names one) has passed. A
    ``token`` operation expects the caller to authenticate (``web.api.token_required``) first."""
    op = Operation(
        summary,
        responses,
        errors,
        body,
        query,
        path or {},
        description,
        token,
        example,
        headers or {},
    )

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            problems = _path_problems(op, kwargs)
            extra: dict[str, Any] = {}
            query, query_validator = _checked(op, "query", lambda: query_schema(op))
            typed = _typed_query(query)
            problems += _named(query, field_errors(query, typed, validator=query_validator))
            if op.query is not None:
                extra["query"] = typed
            if op.body is not None:
                extra["body"] = json_body()
                body, body_validator = _checked(op, "body", lambda: op.body or {})
                problems += field_errors(body, extra["body"], validator=body_validator)
            if problems:  # named as the engine names a form's fields: by their labels
                fields = list(dict.fromkeys(p.get("label") or p["field"] for p in problems))
                raise ValidationFailed(
                    Message("The request is not valid: %(fields)s", fields=fields), problems
                )
            return view(**kwargs, **extra)

        OPERATIONS[wrapper] = op
        return wrapper

    return decorate


def _named(schema: dict, problems: list) -> list:
    """Query parameters' problems labelled "label (name)": the reader sees what the parameter
    is and the client's developer which one to fix."""
    for problem in problems:
        name = problem["field"]
        node = schema.get("properties", {}).get(name)
        if isinstance(node, dict) and node.get("title"):
            zh, en = node["title"], node.get("x-title-en") or node["title"]
            problem["label"] = Label(f"{zh} ({name})", f"{en} ({name})")
        else:
            problem["label"] = name
    return problems


def _with_components(schema: dict) -> dict:
    """``schema`` with the components its ``$ref``s name, so it validates on its own; a body
    that is a reference is the component itself (its properties, their widgets and lengths are
    what the engine's input boundary reads)."""
    name = schema.get("$ref", "").removeprefix("#/components/schemas/")
    resolved = COMPONENTS.get(name, schema) if len(schema) == 1 else schema
    return {**resolved, "components": {"schemas": COMPONENTS}}


OPERATIONS: dict[Callable, Operation] = {}  # each declared view (its wrapper) and its operation
# each operation's query, body and path schemas with their components, and their validators:
# built on an operation's first request (the components are all declared by then), not on each
_CHECKED: dict[tuple[int, str], tuple[dict, Any]] = {}


def _checked(op: Operation, part: str, schema: Callable[[], dict]) -> tuple[dict, Any]:
    key = (id(op), part)
    if key not in _CHECKED:
        full = _with_components(schema())
        _CHECKED[key] = (full, validator_of(full))
    return _CHECKED[key]


def operation_of(view: Callable | None) -> Operation | None:
    """The operation declared on ``view`` or on a view it wraps (``functools.wraps``)."""
    while view is not None:
        if view in OPERATIONS:
            return OPERATIONS[view]
        view = getattr(view, "__wrapped__", None)
    return None


def json_body() -> Any:
    """The request body as JSON; 413 past :data:`MAX_BODY`, 422 for anything else, including
    nesting deeper than :data:`MAX_DEPTH` (the input boundary's :func:`engine.inputs.parse_json`)."""
    if (request.content_length or 0) > MAX_BODY:
        raise TooLarge(Message("The request body is larger than %(n)s bytes.", n=MAX_BODY))
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        raise TooLarge(Message("The request body is larger than %(n)s bytes.", n=MAX_BODY))
    return parse_json(raw, Message(N_("The request body")), MAX_DEPTH)


class TooLarge(GovshareError):
    http_status = 413


LANGUAGE = {
    "title": "语言",
    "x-title-en": "language",
    "enum": ["zh_CN", "en"],
    "description": "the language of messages (default zh_CN; remembered in a cookie)",
}


def query_schema(op: Operation) -> dict:
    """The operation's query parameters, ``lang`` (every operation's) among them; no others."""
    declared = op.query or {}
    return {
        **declared,
        "type": "object",
        "properties": {**declared.get("properties", {}), "lang": LANGUAGE},
        "additionalProperties": False,
    }


def _typed_query(schema: dict) -> dict:
    """The query string as the schema's types: integers and booleans converted when they read
    as one (else left as text, which the schema then refuses by name)."""
    props = schema.get("properties", {})
    typed: dict[str, Any] = {}
    for name, value in request.args.items():
        kind = props.get(name, {}).get("type")
        if kind == "integer" and re.fullmatch(r"[+-]?[0-9]{1,30}", value):
            typed[name] = int(value)
        elif kind == "boolean" and value in ("true", "false"):
            typed[name] = value == "true"
        else:
            typed[name] = value
    return typed


def _path_problems(op: Operation, values: dict[str, Any]) -> list:
    rule = request.url_rule
    if rule is None or not values:
        return []
    schema, validator = _checked(op, f"path {rule.rule}", lambda: obj(**path_schemas(rule, op)))
    return field_errors(schema, values, validator=validator)


CONVERTER_SCHEMAS = {
    "IntegerConverter": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "UnicodeConverter": text(200, 1),
    "PathConverter": text(200, 1),
}


def path_schemas(rule: Rule, op: Operation) -> dict[str, dict]:
    """Each path parameter's schema: the operation's, else the one of its converter."""
    return {
        name: op.path.get(name) or CONVERTER_SCHEMAS[type(conv).__name__]
        for name, conv in rule._converters.items()
    }


# -- the document -------------------------------------------------------------------------------
def document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every declared operation the app serves."""
    spec = APISpec(
        title="govshare API",
        version="1",
        openapi_version="3.1.0",
        info={
            "description": "政务数据共享流程引擎 JSON API (宁夏回族自治区政务数据资源共享管理办法)"
        },
    )
    spec.components.security_scheme("token", TOKEN_SCHEME)
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, schema)
    paths: dict[str, dict[str, dict]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = operation_of(app.view_functions[rule.endpoint])
        if op is None:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {}).update({method.lower(): _operation_doc(rule, op)})
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation_doc(rule: Rule, op: Operation) -> dict:
    doc: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_"),
        "summary": op.summary,
        "security": [{"token": _scopes(rule.endpoint)}] if op.token else [],
        "responses": _responses(rule, op),
    }
    if op.description:
        doc["description"] = op.description
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in path_schemas(rule, op).items()
    ]
    query = query_schema(op)
    required = set(query.get("required", []))
    parameters += [
        {"name": name, "in": "query", "required": name in required, "schema": schema}
        for name, schema in query["properties"].items()
    ]
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        media: dict[str, Any] = {"schema": op.body}
        if op.example is not None:
            media["example"] = op.example
        doc["requestBody"] = {"required": True, "content": {"application/json": media}}
    return doc


def _scopes(endpoint: str) -> list[str]:
    scope = ENDPOINT_SCOPES.get(endpoint)
    return [scope] if scope else []


def _responses(rule: Rule, op: Operation) -> dict:
    responses: dict[str, dict] = {}
    for status, (description, schema) in op.responses.items():
        answer: dict[str, Any] = {"description": description}
        if schema is not None:  # None: no body (304)
            answer["content"] = {"application/json": {"schema": schema}}
        if op.headers and 200 <= status < 300:
            answer["headers"] = {
                name: {"description": text_, "schema": {"type": "string"}}
                for name, text_ in op.headers.items()
            }
        responses[str(status)] = answer
    errors = set(op.errors)
    if op.token:
        errors |= {401, 403}  # 403: a department system's token without the scope
    errors |= {422}  # every operation takes parameters (``lang`` at least)
    if op.body is not None:
        errors |= {413}
    for status in sorted(errors):
        responses[str(status)] = {
            "description": ERROR_TEXTS[status],
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return responses
