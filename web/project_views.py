"""IT projects (art. 20): create with the project data-resource catalog, submit, see the gates."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.catalog.models import Resource
from engine.catalog.transfer import parse_csv, parse_json
from engine.errors import GovshareError, ValidationFailed
from engine.oversight import projects as service
from engine.oversight.models import Project
from engine.workflow.models import ProcessInstance

from . import clock, db
from .templating import render_message

bp = Blueprint("projects", __name__, url_prefix="/projects")


def _reviewer() -> bool:
    return current_user.department.is_authority or any(
        d.startswith("project_review:") for d in (current_user.department.duties or [])
    )


def _project(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    if project.department_id != current_user.department_id and not _reviewer():
        abort(403)
    return project


def _entries_from_upload() -> list[dict]:
    upload = request.files.get("catalog")
    if upload is None or not upload.filename:
        return []
    text = upload.stream.read().decode("utf-8-sig", errors="replace")
    parsed = parse_json(text) if upload.filename.lower().endswith(".json") else parse_csv(text)
    return [entry for _lines, entry in parsed]


@bp.get("/")
@login_required
def index():
    stmt = select(Project).order_by(Project.id.desc())
    if not _reviewer():
        stmt = stmt.where(Project.department_id == current_user.department_id)
    return render_template(
        "projects/index.html", projects=db.session.scalars(stmt.limit(200)).all()
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "POST":
        try:
            project = service.create(
                db.session,
                clock(),
                current_user,
                request.form.get("name", ""),
                request.form.get("description", ""),
                _entries_from_upload(),
            )
            db.session.commit()
            return redirect(url_for(".show", project_id=project.id))
        except ValidationFailed as err:
            db.session.rollback()
            flash(err.message.render(gettext), "danger")
    return render_template("projects/new.html", form=request.form)


@bp.route("/<int:project_id>", methods=["GET", "POST"])
@login_required
def show(project_id: int):
    project = _project(project_id)
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "catalog":
                service.set_catalog(db.session, current_user, project, _entries_from_upload())
                flash(gettext("Project catalog replaced."), "success")
            elif action == "submit":
                instance = service.submit(db.session, clock(), current_user, project)
                flash(
                    gettext(
                        "Submitted: complete “Apply for project approval” in your tasks (%(key)s).",
                        key=instance.business_key,
                    ),
                    "success",
                )
            elif action == "connect":
                resource = db.session.scalar(
                    select(Resource).where(Resource.code == request.form.get("code", ""))
                )
                if resource is None or resource.provider_id != current_user.department_id:
                    abort(403)
                service.mark_connected(db.session, clock(), resource.code)
                flash(
                    gettext(
                        "%(code)s marked as connected to the sharing platform.", code=resource.code
                    ),
                    "success",
                )
            db.session.commit()
        except GovshareError as err:
            db.session.rollback()
            flash(err.message.render(gettext), "danger")
        return redirect(url_for(".show", project_id=project_id))
    codes = [e.get("code") for e in project.catalog]
    resources = (
        {r.code: r for r in db.session.scalars(select(Resource).where(Resource.code.in_(codes)))}
        if codes
        else {}
    )
    instance = db.session.get(ProcessInstance, project.instance_id) if project.instance_id else None
    eligibility = service.eligibility(db.session, project)
    return render_template(
        "projects/show.html",
        project=project,
        resources=resources,
        instance=instance,
        eligibility=eligibility,
        problems=[
            (p["field"], render_message(p["message"])) for p in eligibility["approval_problems"]
        ],
        acceptance=[
            (p["field"], render_message(p["message"])) for p in eligibility["acceptance_problems"]
        ],
    )
