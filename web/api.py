"""JSON API for department systems: ``/api/v1``. Authenticated with ``Authorization: Bearer``
API tokens (only their SHA-256 is stored). Errors are JSON with the HTTP status of their kind."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request, url_for

from engine import directory
from engine.catalog.reading import published_entry
from engine.catalog.search import Filters, search
from engine.catalog.transfer import export_dcat, published
from engine.errors import GovshareError, ValidationFailed
from engine.i18n import N_, Message
from engine.inputs import parse_json
from engine.quality import verification
from engine.sharing import requests as share_requests
from engine.sharing.grants import check_use
from engine.workflow import tasks as task_service

from . import clock, db
from .openapi import document
from .params import number

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class Unauthorized(GovshareError):
    http_status = 401


@bp.errorhandler(GovshareError)
def _error(err: GovshareError):
    db.session.rollback()
    return jsonify(err.to_dict()), err.http_status


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Unauthorized(Message("An API token is required: Authorization: Bearer <token>."))
        g.user = directory.user_by_token(db.session, header[7:])
        if g.user is None:
            raise Unauthorized(Message("The API token is not valid."))
        return view(*args, **kwargs)

    return wrapper


def _json_body() -> dict:
    # parsed by the input boundary: 100,000 nested arrays are a 422, not a RecursionError
    body = parse_json(request.get_data(cache=True), Message(N_("The request body")))
    if not isinstance(body, dict):
        raise ValidationFailed(Message("The request body must be a JSON object."))
    return body


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
def start_request():
    body = _json_body()
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
def request_status(key: str):
    return jsonify(share_requests.status_for(db.session, g.user, key))


def _task_json(t: task_service.TaskRef) -> dict:
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
        "form_schema": t.form_schema,
    }


@bp.get("/tasks")
@token_required
def list_tasks():
    scope = request.args.get("scope", "inbox")
    if scope not in ("inbox", "mine", "queue"):
        raise ValidationFailed(Message("scope must be inbox, mine or queue."))
    return jsonify([_task_json(t) for t in task_service.list_tasks(db.session, g.user, scope)])


@bp.post("/tasks/<int:task_id>/claim")
@token_required
def claim_task(task_id: int):
    row = _command(lambda s: task_service.claim(s, clock(), task_id, g.user))
    return jsonify(_task_json(row))


@bp.post("/tasks/<int:task_id>/complete")
@token_required
def complete_task(task_id: int):
    body = _json_body()
    data = body.get("data", body)
    row = _command(lambda s: task_service.complete(s, clock(), task_id, g.user, data))
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
def catalog_search():
    args = request.args
    page = number(args.get("page")) or 1
    filters = Filters(
        q=args.get("q", ""),
        share_type=args.get("share_type") or None,
        classification=args.get("classification") or None,
        network=args.get("network") or None,
        open_to_public={"true": True, "false": False}.get(args.get("open", "")),
        provider_id=number(args.get("provider_id")),
    )
    results = search(db.session, filters, page=page)
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
def catalog_dcat():
    return jsonify(export_dcat(published(db.session), request.host_url.rstrip("/")))


@bp.get("/catalog/<path:code>")
@token_required
def catalog_entry(code: str):
    return jsonify(_resource_json(published_entry(db.session, code)))


@bp.get("/verifications")
@token_required
def verification_flag():
    resource, record = request.args.get("resource", ""), request.args.get("record", "")
    if not resource or not record:
        raise ValidationFailed(
            Message("Give both resource and record."),
            [
                {"field": f, "message": Message("is required")}
                for f, v in (("resource", resource), ("record", record))
                if not v
            ],
        )
    return jsonify(verification.flag(db.session, g.user, resource, record))


@bp.post("/verifications")
@token_required
def report_error():
    body = _json_body()
    inst = _command(
        lambda s: verification.report_error(
            s, clock(), g.user, body, verify_days=current_app.config["GOVSHARE_VERIFY_DAYS"]
        )
    )
    return jsonify(
        {
            "business_key": inst.business_key,
            "status_url": url_for("api.request_status", key=inst.business_key),
        }
    ), 201


@bp.post("/verifications/<int:verification_id>/served")
@token_required
def served_on_proof(verification_id: int):
    body = _json_body()
    row = _command(
        lambda s: verification.register_served(
            s, clock(), g.user, verification_id, body.get("proof", ""), body.get("service", "")
        )
    )
    return jsonify(
        {"id": row.id, "verification_id": row.verification_id, "at": row.at.isoformat()}
    ), 201


@bp.post("/grants/check")
@token_required
def grant_check():
    body = _json_body()
    items = body.get("info_items")
    if not body.get("resource_code") or not isinstance(items, list) or not items:
        raise ValidationFailed(Message("Give resource_code and a non-empty info_items list."))
    return jsonify(
        _command(
            lambda s: check_use(
                s, clock(), g.user, body["resource_code"], items, body.get("purpose", "")
            )
        )
    )


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
