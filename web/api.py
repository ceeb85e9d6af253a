"""JSON API for department systems: ``/api/v1``. Authenticated with ``Authorization: Bearer``
API tokens (only their SHA-256 is stored). Errors are JSON with the HTTP status of their kind.

Every view declares its operation (``web.openapi.operation``): the request body and parameters
it accepts, checked before it runs, and what it answers; ``/api/v1/openapi.json`` is generated
from these declarations."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext

from engine import directory
from engine.catalog import SHARE_TYPES, network_access
from engine.catalog.entry import CLASSIFICATIONS, NETWORKS
from engine.catalog.reading import published_entry
from engine.catalog.search import Filters, search
from engine.catalog.transfer import export_dcat, published
from engine.directory import clients
from engine.errors import Forbidden, GovshareError
from engine.i18n import Message
from engine.quality import verification
from engine.sharing import requests as share_requests
from engine.sharing.grants import REASONS as GRANT_REASONS
from engine.sharing.grants import UseAsked, check_use
from engine.trust import signatures as signed_decisions
from engine.workflow import inbox as inbox_service
from engine.workflow import tasks as task_service
from notifications import inapp, preferences

from . import clock, db
from .openapi import (
    COMPONENTS,
    ENDPOINT_SCOPES,
    MAX_ID,
    NULLABLE_TEXT,
    array,
    document,
    form_with_limits,
    labelled,
    obj,
    operation,
    ref,
    text,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The scope a department system's token needs for each operation (docs/api.md). Operations not
# listed here are for officials' own tokens only: a department system's token is refused them.
ENDPOINT_SCOPES.update(
    {
        "api.catalog_search": "catalog:read",
        "api.catalog_dcat": "catalog:read",
        "api.catalog_entry": "catalog:read",
        "api.request_status": "requests:status",
        "api.grant_check": "grants:check",
        "api.verification_flag": "verification:flags",
    }
)

LONG_TEXT = 2000  # a Text column filled from one field (purpose, legal basis, proof, note …)
ITEMS = 200  # info items in one request or check
CODE = text(60, 1, examples=["JC-RK/0002"])  # resource.code
BUSINESS_KEY = text(40, 1, examples=["GX-2026-000001"])  # process_instance.business_key
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "examples": [1]}
# a task form's values: text, lists of text, numbers, yes/no (the task's form says which)
FORM_VALUE = {
    "type": ["string", "array", "number", "boolean", "null"],
    **{k: v for k, v in text(5000).items() if k != "type"},
    "items": text(LONG_TEXT),
    "maxItems": ITEMS,
}
DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}

COMPONENTS.update(
    {
        "ShareRequest": form_with_limits(
            "share_request_start",
            resource_code=60,
            info_items=200,
            purpose=LONG_TEXT,
            legal_basis=LONG_TEXT,
        ),
        "Started": obj(
            ("business_key", "status_url"),
            business_key={"type": "string"},
            process={"type": "string"},
            status={"type": "string"},
            summary={"type": "object"},
            status_url={"type": "string"},
        ),
        "Signature": {
            "description": "a department's SM2 signature on a decision, verified as it is read "
            "(docs/trust.md): verify `canonical` (UTF-8 bytes) with `public_key_pem`, "
            "`signature_der_hex` and `signer_id` using SM2 over SM3",
            **obj(
                (
                    "kind",
                    "department",
                    "signed_at",
                    "key_id",
                    "signer_id",
                    "verification_code",
                    "digest_sm3",
                    "valid",
                    "canonical",
                    "signature_der_hex",
                    "public_key_pem",
                ),
                kind={"type": "string", "examples": ["provider_reply"]},
                department={"type": ["object", "string"]},
                official={"type": ["object", "string", "null"]},
                signed_at=DATE_TIME,
                key_id={"type": "string", "description": "SM3 of the public key's DER, hex"},
                signer_id={"type": "string", "examples": ["1234567812345678"]},
                verification_code={"type": "string", "examples": ["ABCD-EFGH-IJKL"]},
                digest_sm3={"type": "string"},
                valid={"type": "boolean"},
                problem={"type": ["string", "null"], "description": "why it is invalid"},
                canonical={"type": "string", "description": "the signed decision, canonical JSON"},
                signature_der_hex={"type": "string"},
                public_key_pem={"type": "string"},
            ),
        },
        "RequestStatus": obj(
            ("business_key", "process", "status", "tasks", "grants", "breaches", "timeline"),
            business_key={"type": "string"},
            process={"type": "string"},
            version={"type": "integer"},
            status={"type": "string", "enum": ["running", "completed", "incident", "suspended"]},
            incident=NULLABLE_TEXT,
            summary={"type": "object"},
            reply_deadline={"type": ["object", "null"]},
            tasks=array({"type": "object"}),
            outcome={
                "description": "what was decided, for both parties (null while undecided)",
                "anyOf": [
                    {"type": "null"},
                    obj(
                        ("decision", "decided_at", "reasons", "conditions"),
                        decision={
                            "type": "string",
                            "enum": [
                                "granted",
                                "granted_in_part",
                                "refused",
                                "refusal_upheld",
                            ],
                        },
                        decided_at={"type": "string"},
                        decided_by={"type": ["object", "string", "null"]},
                        by={"type": "string"},
                        reasons=NULLABLE_TEXT,
                        conditions=NULLABLE_TEXT,
                    ),
                ],
            },
            grants=array({"type": "object"}),
            signatures=array(ref("Signature")),
            declarations=array(
                obj(
                    ("declared_at", "reasons", "ruling"),
                    declared_at=DATE_TIME,
                    declared_by={"type": ["object", "null"]},
                    reasons={"type": "string"},
                    in_time={"type": ["boolean", "null"]},
                    ruling={
                        "description": "the authority's ruling (null while it reviews)",
                        "anyOf": [
                            {"type": "null"},
                            obj(
                                ("decision", "decided_at"),
                                decision={"type": "string", "enum": ["accepted", "returned"]},
                                reasons={"type": "string"},
                                decided_at=DATE_TIME,
                                decided_by={"type": ["object", "null"]},
                            ),
                        ],
                    },
                ),
                description="a catalog update duty's 'no change needed' declarations (art. 8)",
            ),
            breaches=array({"type": "object"}),
            timeline=array(obj(("at", "kind"), at=DATE_TIME, kind={"type": "string"})),
        ),
        "Task": obj(
            ("id", "business_key", "task", "title", "role", "state"),
            id={"type": "integer"},
            business_key={"type": "string"},
            task={"type": "string"},
            title={"type": "string"},
            role={"type": "string"},
            form=NULLABLE_TEXT,
            statute=NULLABLE_TEXT,
            state={"type": "string"},
            due_at=NULLABLE_DATE_TIME,
            assignee=NULLABLE_TEXT,
            form_schema={
                "type": ["object", "null"],
                "description": "the form's JSON Schema (claim and complete answer it; the list "
                "gives form_key and form_schema_url instead)",
            },
            form_key={
                "type": ["string", "null"],
                "description": "process.version.form: GET /api/v1/forms/{form_key}",
            },
            form_schema_url=NULLABLE_TEXT,
            request_status={"type": "string"},
        ),
        "Resource": obj(
            ("code", "name", "provider", "share_type", "info_items"),
            code={"type": "string"},
            name={"type": "string"},
            provider={"type": "string"},
            provider_slug={"type": "string"},
            share_type={"enum": list(SHARE_TYPES)},
            classification={"type": "string"},
            network={"type": "string"},
            open_to_public={"type": "boolean"},
            version={"type": "integer"},
            published_at=NULLABLE_DATE_TIME,
            info_items=array({"type": "object"}),
            metadata={"type": "object"},
        ),
    }
)


class Unauthorized(GovshareError):
    http_status = 401


@bp.errorhandler(GovshareError)
def _error(err: GovshareError):
    db.session.rollback()
    return jsonify(err.to_dict(gettext)), err.http_status


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Unauthorized(Message("An API token is required: Authorization: Bearer <token>."))
        g.client = clients.authenticate(db.session, clock(), header[7:])
        if g.client is not None:  # a department system's token: acts for its department
            g.user = g.client.user
        else:  # an official's own token (and the demo tokens demo-<username>)
            g.user = directory.user_by_token(db.session, clock(), header[7:])
        if g.user is None:
            raise Unauthorized(Message("The API token is not valid."))
        if db.session.new or db.session.dirty:  # the token's last use (audited once an hour)
            db.session.commit()  # else the view goes on in the same transaction, user loaded
        if g.client is not None:
            clients.require_scope(g.client, ENDPOINT_SCOPES.get(request.endpoint or ""))
        return view(*args, **kwargs)

    return wrapper


def _command(fn):
    """Run one engine command in one transaction."""
    try:
        result = fn(db.session)
        db.session.commit()
        return result
    except Exception:
        db.session.rollback()
        raise


@bp.post("/requests")
@token_required
@operation(
    "Apply for a catalog resource (art. 11)",
    {201: ("the request was started", ref("Started"))},
    errors=(404, 503),
    body=ref("ShareRequest"),
    example={
        "resource_code": "JC-RK/0001",
        "info_items": ["姓名"],
        "purpose": "核验申请人身份",
        "legal_basis": "《社会救助暂行办法》",
        "period_start": "2026-12-01",
        "period_end": "2027-11-30",
    },
)
def start_request(body: dict):
    inst = _command(lambda s: share_requests.start_share_request(s, clock(), g.user, body))
    return jsonify(
        {
            "business_key": inst.business_key,
            "process": inst.process_id,
            "status": inst.status,
            "summary": inst.summary,
            "status_url": url_for("api.request_status", key=inst.business_key),
        }
    ), 201


@bp.get("/requests/<key>")
@token_required
@operation(
    "Status, tasks, the outcome (decision, reasons, conditions, decider), grants, breaches and"
    " timeline of a request",
    {200: ("the request as its parties see it", ref("RequestStatus"))},
    errors=(403, 404),
    path={"key": BUSINESS_KEY},
)
def request_status(key: str):
    status = share_requests.status_for(db.session, g.user, key)
    code = (status.get("summary") or {}).get("resource_code")
    if g.client is not None and isinstance(code, str):
        network_access.check_network(db.session, g.client, code)
    # the decisions' signatures, verified as they are read (docs/trust.md)
    status["signatures"] = [c.as_json() for c in signed_decisions.signatures_of(db.session, key)]
    return jsonify(status)


def _common_task_json(t: task_service.TaskRef | inbox_service.ApiTask) -> dict:
    """What a task says wherever the API shows it (one task's answer, a list's item)."""
    return {
        "id": t.id,
        "business_key": t.business_key,
        "task": t.task_name,
        "title": t.title,
        "role": t.role,
        "form": t.form,
        "statute": t.statute,
        "state": t.state,
        "due_at": t.due_at.isoformat() if t.due_at else None,
        "assignee": t.assignee,
    }


def _task_json(t: task_service.TaskRef) -> dict:
    return {**_common_task_json(t), "form_schema": t.form_schema}


def _listed_task_json(t: inbox_service.ApiTask) -> dict:
    return {
        **_common_task_json(t),
        "request_status": t.request_status,
        "form_key": t.form_key,
        "form_schema_url": url_for("api.form_schema", key=t.form_key) if t.form_key else None,
    }


@bp.get("/tasks")
@token_required
@operation(
    "Open tasks of the token's user",
    {200: ("the tasks, earliest deadline first", array(ref("Task")))},
    description="Keyset pages: at most `limit` tasks (default 50, at most 200) in deadline "
    'order; when more follow, the `Link` header (`rel="next"`) and the `X-Next-Cursor` header '
    "give the next page (`after`). Each task names its form by `form_key`; its JSON Schema is "
    "at `form_schema_url` (GET /api/v1/forms/{key}, cacheable with its ETag).",
    query=obj(
        scope=labelled(
            "范围",
            "scope",
            {
                "enum": list(inbox_service.API_SCOPES),
                "description": "mine: claimed by the user; queue: offered to the user's "
                "department and role; inbox (default): both",
            },
        ),
        limit=labelled(
            "每页条数",
            "tasks per page",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": inbox_service.API_MAX_LIMIT,
                "description": f"tasks per page (default {inbox_service.API_LIMIT})",
            },
        ),
        after=labelled(
            "续读位置",
            "cursor",
            text(
                40,
                1,
                pattern=inbox_service.CURSOR_PATTERN,
                description="the cursor of the previous page (its Link header), to read on",
            ),
        ),
    ),
    headers={
        "Link": '<…/api/v1/tasks?…&after=…>; rel="next" — present when more tasks follow',
        "X-Next-Cursor": "the `after` of the next page — present when more tasks follow",
    },
)
def list_tasks(query: dict):
    scope = query.get("scope", "inbox")
    batch = inbox_service.task_batch(
        db.session,
        g.user,
        scope,
        query.get("limit", inbox_service.API_LIMIT),
        query.get("after"),
    )
    response = jsonify([_listed_task_json(t) for t in batch.tasks])
    if batch.next:
        args = {k: v for k, v in request.args.items() if k != "after"}
        nxt = url_for("api.list_tasks", **args, after=batch.next, _external=True)
        response.headers["Link"] = f'<{nxt}>; rel="next"'
        response.headers["X-Next-Cursor"] = batch.next
    return response


@bp.get("/forms/<key>")
@token_required
@operation(
    "The JSON Schema of a task's form",
    {
        200: ("the form's JSON Schema (2020-12)", {"type": "object"}),
        304: ("not modified since the ETag given in If-None-Match", None),
    },
    errors=(404,),
    description="`key` is a task's `form_key` (process.version.form): a deployed version's form "
    "never changes, so the answer carries an ETag and may be cached.",
    path={"key": text(210, 1, pattern=inbox_service.FORM_KEY_PATTERN)},
)
def form_schema(key: str):
    form = inbox_service.form_by_key(db.session, key)
    response = jsonify(form.schema)
    response.set_etag(form.etag)
    response.cache_control.private = True
    response.cache_control.max_age = 86400
    return response.make_conditional(request)


TASK_ID = {"task_id": ID}


@bp.post("/tasks/<int:task_id>/claim")
@token_required
@operation("Claim a task", {200: ("claimed", ref("Task"))}, errors=(403, 404, 409), path=TASK_ID)
def claim_task(task_id: int):
    row = _command(lambda s: task_service.claim(s, clock(), task_id, g.user))
    return jsonify(_task_json(row))


@bp.post("/tasks/<int:task_id>/complete")
@token_required
@operation(
    "Complete a task with its form data",
    {200: ("completed; request_status is the request's status after it", ref("Task"))},
    errors=(403, 404, 409, 503),
    path=TASK_ID,
    body=obj(
        ("data",),
        data={
            "type": "object",
            "description": "the values of the task's form (form_schema of the task)",
            "additionalProperties": FORM_VALUE,
            "maxProperties": 100,
        },
    )
    | {"additionalProperties": False},
    example={"data": {"review_decision": "refuse", "review_reason": "超出职责范围"}},
)
def complete_task(task_id: int, body: dict):
    row = _command(lambda s: task_service.complete(s, clock(), task_id, g.user, body["data"]))
    return jsonify({**_task_json(row), "request_status": row.request_status})


def _resource_json(r) -> dict:
    return {
        "code": r.code,
        "name": r.name,
        "provider": r.provider.name,
        "provider_slug": r.provider.slug,
        "share_type": r.share_type,
        "classification": r.classification,
        "network": r.network,
        "open_to_public": r.open_to_public,
        "version": r.published_version,
        "published_at": r.published_at.isoformat() if r.published_at else None,
        "info_items": r.info_items,
        "metadata": r.metadata,
    }


@bp.get("/catalog")
@token_required
@operation(
    "Search the published catalog",
    {
        200: (
            "one page of matching entries",
            obj(
                ("total", "more", "page", "pages", "resources"),
                total={"type": "integer"},
                more={"type": "boolean"},
                page={"type": "integer"},
                pages={"type": "integer"},
                resources=array(ref("Resource")),
            ),
        )
    },
    query=obj(
        q=labelled(
            "关键词",
            "search words",
            text(200, description="words of the name, code, summary or info items"),
        ),
        share_type=labelled("共享类型", "share type", {"enum": ["", *SHARE_TYPES]}),
        classification=labelled("分类", "classification", {"enum": ["", *CLASSIFICATIONS]}),
        network=labelled("网络", "network", {"enum": ["", *NETWORKS]}),
        open=labelled(
            "向社会开放",
            "open to the public",
            {"enum": ["", "true", "false"], "description": "open to the public (art. 24)"},
        ),
        provider_id=labelled("提供部门", "provider", ID),
        page=labelled("页码", "page", ID),
    ),
)
def catalog_search(query: dict):
    network = query.get("network") or None
    only = network_access.visible_network(g.client)
    if only is not None and network not in (None, only):
        raise Forbidden(
            Message(
                "Resources shared only over the e-government internal network are not listed "
                "for a system that connects over the extranet."
            )
        )
    filters = Filters(
        q=query.get("q", ""),
        share_type=query.get("share_type") or None,
        classification=query.get("classification") or None,
        network=only or network,
        open_to_public={"true": True, "false": False}.get(query.get("open", "")),
        provider_id=query.get("provider_id"),
    )
    results = search(db.session, filters, page=query.get("page", 1))
    return jsonify(
        {
            "total": results.total,
            "more": results.more,
            "page": results.page,
            "pages": results.pages,
            "resources": [_resource_json(r) for r in results.rows],
        }
    )


@bp.get("/catalog/dcat.json")
@token_required
@operation(
    "The published catalog as DCAT-style JSON-LD",
    {200: ("the catalog", obj(("@type", "dcat:dataset"), **{"dcat:dataset": array({})}))},
)
def catalog_dcat():
    entries = published(db.session)
    only = network_access.visible_network(g.client)
    if only is not None:
        entries = [e for e in entries if e.network == only]
    return jsonify(export_dcat(entries, request.host_url.rstrip("/")))


@bp.get("/catalog/<path:code>")
@token_required
@operation(
    "One published catalog entry with its metadata",
    {200: ("the entry", ref("Resource"))},
    errors=(404,),
    path={"code": CODE},
)
def catalog_entry(code: str):
    if g.client is not None:
        network_access.check_network(db.session, g.client, code)
    return jsonify(_resource_json(published_entry(db.session, code)))


@bp.get("/verifications")
@token_required
@operation(
    "Is a record under verification (art. 15)?",
    {
        200: (
            "the record's open verifications and its history of service on proof",
            obj(
                ("under_verification", "verifications"),
                resource={"type": "string"},
                record={"type": "string"},
                under_verification={"type": "boolean"},
                verifications=array(
                    obj(
                        ("id", "business_key"),
                        id={"type": "integer"},
                        field={"type": "string"},
                        reported_at=DATE_TIME,
                        business_key={"type": "string"},
                    )
                ),
                notice={"type": "string"},
                served=array(
                    obj(
                        ("at", "department", "proof", "business_key"),
                        at=DATE_TIME,
                        department={"type": "string"},
                        proof={"type": "string"},
                        service={"type": "string"},
                        business_key={"type": "string"},
                    ),
                    description="citizens served on proof (art. 15), newest first, kept after "
                    "the verifications are closed",
                ),
            ),
        )
    },
    errors=(403, 404),
    description="Only for the provider and departments holding a grant on the resource.",
    query=obj(
        ("resource", "record"),
        resource=labelled("资源代码", "resource code", CODE),
        record=labelled("记录", "record", text(120, 1, examples=["640104198001010011"])),
    ),
)
def verification_flag(query: dict):
    if g.client is not None:
        network_access.check_network(db.session, g.client, query["resource"])
    return jsonify(verification.flag(db.session, g.user, query["resource"], query["record"]))


@bp.post("/verifications")
@token_required
@operation(
    "Report a suspected data error (art. 15)",
    {
        201: (
            "the verification was started",
            obj(("business_key", "status_url"), business_key={}, status_url={}),
        )
    },
    errors=(403, 404, 503),
    body=obj(
        ("resource_code", "record_id", "field", "value_seen"),
        resource_code=CODE,
        record_id=text(120, 1),
        field=text(120, 1),
        value_seen=text(LONG_TEXT, 1),
        value_expected=text(LONG_TEXT),
        note=text(LONG_TEXT),
    )
    | {"additionalProperties": False},
    example={
        "resource_code": "JC-RK/0002",
        "record_id": "640104198001010011",
        "field": "变动类型",
        "value_seen": "迁出",
        "value_expected": "迁入",
        "note": "群众持迁入证明前来办事",
    },
)
def report_error(body: dict):
    inst = _command(lambda s: verification.report_error(s, clock(), g.user, body))
    return jsonify(
        {
            "business_key": inst.business_key,
            "status_url": url_for("api.request_status", key=inst.business_key),
        }
    ), 201


@bp.post("/verifications/<int:verification_id>/served")
@token_required
@operation(
    "Register a citizen served on valid proof while the record is under verification",
    {
        201: (
            "registered",
            obj(
                ("id", "verification_id", "at"),
                id={"type": "integer"},
                verification_id={"type": "integer"},
                at=DATE_TIME,
            ),
        )
    },
    errors=(403, 404),
    path={"verification_id": ID},
    body=obj(("proof",), proof=text(LONG_TEXT), service=text(200))
    | {"additionalProperties": False},
    example={"proof": "户口迁移证 NX-2026-0001", "service": "低保申请受理"},
)
def served_on_proof(verification_id: int, body: dict):
    row = _command(
        lambda s: verification.register_served(
            s, clock(), g.user, verification_id, body["proof"], body.get("service", "")
        )
    )
    return jsonify(
        {"id": row.id, "verification_id": row.verification_id, "at": row.at.isoformat()}
    ), 201


@bp.post("/grants/check")
@token_required
@operation(
    "Art. 12, 14: is a use within a grant, for its purpose?",
    {
        200: (
            "allowed, or refused with its reason; every check is written to the access log, and a"
            " refusal is counted in the breach ledger (art. 23 (4)): one entry per department,"
            " grant (or resource) and day, with the number of refusals",
            obj(
                ("allowed",),
                allowed={"type": "boolean"},
                grant_id={"type": "integer", "description": "the grant that allows the use"},
                grant_concerned={
                    "type": ["integer", "null"],
                    "description": "the grant a refusal is counted against (none: the resource)",
                },
                scenario={"type": ["string", "null"], "description": "the grant's scenario"},
                purpose={"type": "string", "description": "the grant's purpose of use"},
                period_end={"type": ["string", "null"], "format": "date"},
                reason_code={"type": "string", "enum": list(GRANT_REASONS)},
                reason={"type": "string", "description": "the reason, in the token's language"},
                breach_id={"type": "integer"},
                breach_count={
                    "type": "integer",
                    "description": "refusals the day's breach entry stands for, this one included",
                },
            ),
        )
    },
    errors=(404,),
    body=obj(
        ("resource_code", "info_items", "purpose"),
        resource_code=CODE,
        info_items=array(text(200, 1), minItems=1, maxItems=ITEMS),
        purpose=text(LONG_TEXT, 1)
        | {"description": "the purpose of this use, in words (logged; required)"},
        scenario=text(40, 1)
        | {"description": "the application scenario (应用场景) code; or name the grant"},
        grant_id=ID | {"description": "the grant relied on (its number on the request page)"},
    )
    | {"additionalProperties": False},
    example={
        "resource_code": "JC-RK/0002",
        "info_items": ["公民身份号码"],
        "scenario": "YYCJ006",
        "purpose": "核定城乡低保对象户籍状况",
    },
)
def grant_check(body: dict):
    if g.client is not None:
        network_access.check_network(db.session, g.client, body["resource_code"])
    use = UseAsked(
        body["resource_code"],
        body["info_items"],
        body.get("purpose", ""),
        body.get("scenario"),
        body.get("grant_id"),
    )
    client_id = g.client.client_id if g.client is not None else None
    return jsonify(_command(lambda s: check_use(s, clock(), g.user, use, client_id)))


NOTIFICATION = obj(
    ("id", "kind", "subject", "text", "link", "created_at", "read"),
    id={"type": "integer"},
    kind={"type": "string", "description": "the kind (docs/notifications.md)"},
    rung={
        "type": "string",
        "enum": ["task", "reminder", "urgent", "supervision", "outcome", "digest"],
        "description": "new work, 提醒, 催办, 督办, an outcome, the digest",
    },
    subject={"type": "string"},
    text={"type": "string"},
    link={"type": "string", "description": "the page that acts on it (a path of the web app)"},
    business_key=NULLABLE_TEXT,
    created_at=DATE_TIME,
    due_at=NULLABLE_DATE_TIME,
    read={"type": "boolean"},
)
COMPONENTS["Notification"] = NOTIFICATION


@bp.get("/notifications")
@token_required
@operation(
    "The token user's notifications, newest first, with the unread count",
    {
        200: (
            "a page of notifications; pass next_before as before for the next",
            obj(
                ("unread", "items"),
                unread={"type": "integer", "description": "unread, counted up to 100"},
                items=array(ref("Notification")),
                next_before={"type": ["integer", "null"]},
            ),
        )
    },
    query=obj(
        unread=labelled(
            "仅未读", "unread only", {"type": "boolean", "description": "only the unread ones"}
        ),
        before=labelled(
            "起始编号", "page from", {**ID, "description": "the id to page on from (exclusive)"}
        ),
        lang=labelled(
            "语言",
            "language",
            {"enum": ["zh", "en"], "description": "default: the user's chosen language"},
        ),
    ),
)
def notifications_list(query: dict):
    lang = query.get("lang") or preferences.language_of(db.session, g.user)
    page = inapp.page(
        db.session,
        clock(),
        g.user,
        lang,
        before=query.get("before"),
        unread_only=bool(query.get("unread")),
    )
    return jsonify(
        {
            "unread": page.unread,
            "items": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "rung": n.family,
                    "subject": n.subject,
                    "text": n.text,
                    "link": n.link,
                    "business_key": n.business_key,
                    "created_at": n.created_at.isoformat(),
                    "due_at": n.due_at.isoformat() if n.due_at else None,
                    "read": n.read,
                }
                for n in page.items
            ],
            "next_before": page.next_before,
        }
    )


@bp.post("/notifications/<int:notification_id>/read")
@token_required
@operation(
    "Mark one of the token user's notifications read",
    {200: ("marked read; link is the page that acts on it", obj(("link",), link=text(300)))},
    errors=(404,),
    path={"notification_id": ID},
)
def notification_read(notification_id: int):
    link = _command(lambda s: inapp.open_notification(s, clock(), g.user, notification_id))
    return jsonify({"link": link})


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document, generated from the operations the app serves."""
    return jsonify(document(current_app))
