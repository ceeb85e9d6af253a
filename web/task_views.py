"""The task page: the context an official needs to decide, and the task's form."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.calendar import load_calendar
from engine.directory.models import User
from engine.errors import GovshareError, ValidationFailed
from engine.sharing import requests as request_service
from engine.workflow import attachments as attachment_service
from engine.workflow import tasks as task_service
from engine.workflow.inbox import describe_deadline
from engine.workflow.models import Attachment, HumanTask, ProcessInstance
from engine.workflow.runtime import task_data

from . import clock, db
from .schema_form import build_fields, parse
from .templating import task_title, title_of

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def can_view(user, row: HumanTask) -> bool:
    return (
        task_service.eligible(user, row)
        or row.assignee_id == user.id
        or row.completed_by_id == user.id
    )


def _task_or_403(task_id: int) -> HumanTask:
    row = db.session.get(HumanTask, task_id)
    if row is None:
        abort(404)
    if not can_view(current_user, row):
        abort(403)
    return row


def _render(row: HumanTask, values=None, errors=None, status=200):
    instance = row.instance
    context = task_data(instance, row.spiff_task_id) if row.state == "open" else (row.data or {})
    schema = instance.definition.forms.get(row.form) if row.form else None
    fields, general = build_fields(schema, values, errors, context) if schema else ([], [])
    overview = request_service.request_status(db.session, instance)
    meta = instance.definition.task_meta.get(row.task_name, {})
    earlier = [
        t
        for t in db.session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.state == "completed")
            .order_by(HumanTask.completed_at)
        )
        if t.id != row.id
    ]
    files = db.session.scalars(
        select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.id)
    ).all()
    colleagues = []
    if task_service.is_leader_of(current_user, row) and row.state == "open":
        colleagues = [
            u
            for u in db.session.scalars(
                select(User)
                .where(User.department_id == row.department_id, User.active.is_(True))
                .order_by(User.username)
            )
            if task_service.eligible(u, row)
        ]

    deadline = (
        describe_deadline(load_calendar(db.session), row.due_at, clock().now())
        if row.due_at and row.state == "open"
        else None
    )
    return render_template(
        "task.html",
        task=row,
        instance=instance,
        context=context,
        fields=fields,
        general_errors=general,
        overview=overview,
        meta=meta,
        earlier=earlier,
        files=files,
        colleagues=colleagues,
        deadline=deadline,
        limits=attachment_service.LIMITS,
        schema=schema,
    ), status


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int):
    return _render(_task_or_403(task_id))


@bp.post("/<int:task_id>")
@login_required
def complete(task_id: int):
    row = _task_or_403(task_id)
    schema = (
        row.instance.definition.forms.get(row.form)
        if row.form
        else {"type": "object", "properties": {}}
    )
    data = parse(schema, request.form)
    uploads = [f for f in request.files.getlist("attachments") if f and f.filename]
    try:
        for upload in uploads:
            attachment_service.check(upload.filename, upload.mimetype, upload.content_length or 0)
        task_service.complete(db.session, clock(), task_id, current_user, data)
        for upload in uploads:
            attachment_service.store(
                db.session,
                clock(),
                current_app.config["ATTACHMENT_DIR"],
                row.instance_id,
                row.id,
                current_user.id,
                upload.filename,
                upload.mimetype,
                upload.stream,
            )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        row = _task_or_403(task_id)
        properties = schema.get("properties", {})
        labels = [
            title_of(properties[e["field"]]) for e in err.details if e.get("field") in properties
        ]
        if labels:
            flash(
                gettext("Please correct: %(fields)s", fields="、".join(dict.fromkeys(labels))),
                "danger",
            )
        else:  # e.g. an attachment refused
            flash(err.message.render(gettext), "danger")
        return _render(
            row,
            values=dict(
                data,
                **{
                    k: request.form.getlist(k)
                    for k in schema.get("properties", {})
                    if schema["properties"][k].get("type") == "array"
                },
            ),
            errors=err.details,
            status=422,
        )
    flash(gettext("Task “%(title)s” completed.", title=task_title(row)), "success")
    return redirect(url_for("requests.show", key=row.instance.business_key))


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    _task_or_403(task_id)
    task_service.claim(db.session, clock(), task_id, current_user)
    db.session.commit()
    flash(gettext("You claimed this task."), "success")
    return redirect(url_for(".show", task_id=task_id))


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):
    _task_or_403(task_id)
    task_service.unclaim(db.session, clock(), task_id, current_user)
    db.session.commit()
    flash(gettext("The task is back in the department queue."), "info")
    return redirect(url_for("inbox.view", view="queue"))


@bp.post("/<int:task_id>/reassign")
@login_required
def reassign(task_id: int):
    _task_or_403(task_id)
    assignee = db.session.get(User, int(request.form.get("assignee_id") or 0))
    if assignee is None:
        raise GovshareError(gettext("Choose the official to assign the task to."))
    task_service.reassign(db.session, clock(), task_id, current_user, assignee)
    db.session.commit()
    flash(gettext("Task assigned to %(name)s.", name=assignee.display_name), "success")
    return redirect(url_for(".show", task_id=task_id))


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    row = db.session.get(Attachment, attachment_id)
    if row is None:
        abort(404)
    instance = db.session.get(ProcessInstance, row.instance_id)
    if not instance.involves(current_user.department_id):
        abort(403)
    path = attachment_service.path_of(current_app.config["ATTACHMENT_DIR"], row)
    return send_file(
        path, mimetype=row.content_type, as_attachment=True, download_name=row.filename
    )
