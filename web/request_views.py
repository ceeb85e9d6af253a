"""Starting a request from the catalog, and the request page with its diagram."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from engine.calendar import load_calendar
from engine.catalog.models import Resource
from engine.directory.models import Department
from engine.errors import ValidationFailed
from engine.sharing import requests as request_service
from engine.workflow.inbox import describe_deadline
from engine.workflow.models import Attachment, HumanTask, ProcessInstance
from engine.workflow.runtime import workflow_states

from . import clock, db
from .templating import render_message

bp = Blueprint("requests", __name__, url_prefix="/requests")


def _instance_or_403(key: str) -> ProcessInstance:
    instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))
    if instance is None:
        abort(404)
    if not instance.involves(current_user.department_id):
        abort(403)
    return instance


def _search(q: str) -> list[Resource]:
    stmt = (
        select(Resource)
        .join(Department, Resource.provider_id == Department.id)
        .options(joinedload(Resource.provider))
        .order_by(Resource.code)
    )
    if q:
        like = f"%{q}%"
        # info items are JSON: matched as text, which the catalog issue replaces with full-text search
        from sqlalchemy import String, cast

        stmt = stmt.where(
            or_(
                Resource.name.like(like),
                Resource.code.like(like),
                Department.name.like(like),
                cast(Resource.info_items, String).like(like),
            )
        )
    return list(db.session.scalars(stmt.limit(50)))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    q = (request.values.get("q") or "").strip()
    code = request.values.get("resource_code") or request.args.get("resource")
    resource = db.session.scalar(select(Resource).where(Resource.code == code)) if code else None
    values, errors = {}, []
    if request.method == "POST":
        values = {
            "resource_code": code or "",
            "info_items": request.form.getlist("info_items"),
            "purpose": request.form.get("purpose", "").strip(),
            "legal_basis": request.form.get("legal_basis", "").strip(),
            "period_start": request.form.get("period_start", ""),
            "period_end": request.form.get("period_end", ""),
        }
        form = {k: v for k, v in values.items() if v}
        try:
            instance = request_service.start_share_request(db.session, clock(), current_user, form)
            db.session.commit()
        except ValidationFailed as err:
            db.session.rollback()
            errors = err.details
            flash(err.message.render(gettext), "danger")
        else:
            return redirect(url_for(".show", key=instance.business_key, started=1))
    expected_due = None
    if resource is not None and resource.share_type == "conditional":
        expected_due = load_calendar(db.session).deadline(clock().now(), request_service.REPLY_DAYS)
    field_errors = {}
    for e in errors:
        field_errors.setdefault(e["field"], []).append(render_message(e["message"]))
    return render_template(
        "request_new.html",
        q=q,
        results=_search(q) if resource is None else [],
        resource=resource,
        values=values,
        field_errors=field_errors,
        expected_due=expected_due,
        own=resource is not None and resource.provider_id == current_user.department_id,
    )


@bp.get("/<key>")
@login_required
def show(key: str):
    instance = _instance_or_403(key)
    status = request_service.request_status(db.session, instance)
    calendar = load_calendar(db.session)
    now = clock().now()
    open_tasks = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open")
    ).all()
    deadlines = {t.id: describe_deadline(calendar, t.due_at, now) for t in open_tasks if t.due_at}
    files = db.session.scalars(
        select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.id)
    ).all()
    mine = {t.id for t in open_tasks if t.department_id == current_user.department_id}
    return render_template(
        "request.html",
        instance=instance,
        status=status,
        deadlines=deadlines,
        files=files,
        my_task_ids=mine,
        started=request.args.get("started"),
        role=_role_of(instance),
    )


def _role_of(instance: ProcessInstance) -> str:
    for role in ("requester", "provider", "authority"):
        if getattr(instance, f"{role}_department_id") == current_user.department_id:
            return role
    return ""


@bp.get("/<key>/diagram.json")
@login_required
def diagram(key: str):
    instance = _instance_or_403(key)
    definition = instance.definition
    raw = json.loads(definition.spec_json)
    xml_by_process = raw.get("diagrams") or {definition.process_id: definition.bpmn_xml}
    states = workflow_states(instance)
    now = clock().now()
    overdue = {
        t.task_name
        for t in db.session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id,
                HumanTask.state == "open",
                HumanTask.due_at <= now,
            )
        )
    }
    diagrams = []
    for process_id, xml in xml_by_process.items():
        s = states.get(process_id, {"completed": set(), "active": set()})
        if process_id != definition.process_id and process_id not in states:
            continue
        diagrams.append(
            {
                "process": process_id,
                "xml": xml,
                "completed": sorted(s["completed"]),
                "active": sorted(s["active"] - s["completed"]),
                "overdue": sorted(o for o in overdue if o in s["active"]),
            }
        )
    return jsonify({"diagrams": diagrams})
