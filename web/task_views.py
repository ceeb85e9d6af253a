"""The task page: the context an official needs to decide, and the task's form."""

from __future__ import annotations

from flask import (
    Blueprint,
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

from engine.errors import ValidationFailed
from engine.sharing import requests as request_service
from engine.workflow import attachments as attachment_service
from engine.workflow import tasks as task_service
from engine.workflow.calendar_notices import deadline_changes

from . import clock, db
from .errors import lookup
from .params import number
from .schema_form import build_fields, parse
from .templating import task_title, title_of

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _task_or_403(task_id: int):
    lookup(task_service.check_visible, db.session, current_user, task_id, clock())


def _render(task_id: int, values=None, errors=None, status=200):
    full = lookup(request_service.task_request_page, db.session, clock(), current_user, task_id)
    page = full.page
    fields, general = (
        build_fields(page.schema, values, errors, page.context) if page.schema else ([], [])
    )
    return render_template(
        "task.html",
        task=page.task,
        instance=page.instance,
        context=page.context,
        fields=fields,
        general_errors=general,
        overview=full.overview,
        meta=page.meta,
        earlier=page.earlier,
        files=page.files,
        colleagues=page.colleagues,
        deadline=page.deadline,
        stands_in_for=page.stands_in_for,
        limits=attachment_service.LIMITS,
        schema=page.schema,
        dossier=full.dossier,
        deadline_moves=deadline_changes(db.session, page.instance.id),
    ), status


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int):
    return _render(task_id)


@bp.post("/<int:task_id>")
@login_required
def complete(task_id: int):
    page = lookup(task_service.task_form, db.session, current_user, task_id, clock())
    row = page.task
    schema = page.schema or {"type": "object", "properties": {}}
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
            task_id,
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
    return redirect(url_for("requests.show", key=page.business_key))


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
    assignee_id = request.form.get("assignee_id", "")
    row = task_service.reassign_to(
        db.session, clock(), task_id, current_user, number(assignee_id) or 0
    )
    db.session.commit()
    flash(gettext("Task assigned to %(name)s.", name=row.assignee_name), "success")
    return redirect(url_for(".show", task_id=task_id))


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    row = lookup(attachment_service.attachment_for, db.session, current_user, attachment_id)
    path = attachment_service.path_of(current_app.config["ATTACHMENT_DIR"], row)
    response = send_file(
        path, mimetype=row.content_type, as_attachment=True, download_name=row.filename
    )
    response.headers["X-Content-Type-Options"] = "nosniff"  # never rendered as another type
    return response
