"""IT projects (art. 20): create with the project data-resource catalog, submit, see the gates."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.catalog.transfer import parse_upload
from engine.errors import GovshareError, ValidationFailed
from engine.oversight import projects as service

from . import clock, db
from .errors import lookup
from .templating import render_message

bp = Blueprint("projects", __name__, url_prefix="/projects")


def _entries_from_upload() -> list[dict]:
    upload = request.files.get("catalog")
    if upload is None or not upload.filename:
        return []
    return [entry for _lines, entry in parse_upload(upload.stream.read(), upload.filename)]


@bp.get("/")
@login_required
def index():
    q = request.args.get("q") or ""
    return render_template(
        "projects/index.html", projects=service.projects_for(db.session, current_user, q=q), q=q
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "POST":
        try:
            project = service.create_project(
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
            return render_template("projects/new.html", form=request.form), 422
    return render_template("projects/new.html", form=request.form)


@bp.route("/<int:project_id>", methods=["GET", "POST"])
@login_required
def show(project_id: int):
    refused = _act(project_id, request.form.get("action")) if request.method == "POST" else None
    if request.method == "POST" and refused is None:
        return redirect(url_for(".show", project_id=project_id))
    page = lookup(service.project_page, db.session, current_user, project_id)
    return render_template(
        "projects/show.html",
        project=page.project,
        resources=page.resources,
        instance=page.instance,
        eligibility=page.eligibility,
        reviews=page.reviews,
        returned=page.returned,
        forms=page.forms,
        problems=[
            (p["field"], render_message(p["message"]))
            for p in page.eligibility["approval_problems"]
        ],
        acceptance=[
            (p["field"], render_message(p["message"]))
            for p in page.eligibility["acceptance_problems"]
        ],
    ), (refused or 200)


def _act(project_id: int, action: str | None) -> int | None:
    """Replace the catalog, submit, or mark a resource connected. A refusal is flashed and its
    HTTP status returned (the page is shown again with it, nothing written); marking another
    department's resource is forbidden (403)."""
    lookup(service.check_project, db.session, current_user, project_id)
    if action == "connect":
        code = request.form.get("code", "")
        service.mark_connected(db.session, clock(), current_user, code)
        db.session.commit()
        flash(
            gettext("%(code)s marked as connected to the sharing platform.", code=code), "success"
        )
        return None
    try:
        if action == "catalog":
            service.set_catalog_of(
                db.session, clock(), current_user, project_id, _entries_from_upload()
            )
            flash(gettext("Project catalog replaced."), "success")
        elif action == "submit":
            instance = service.submit_project(db.session, clock(), current_user, project_id)
            flash(
                gettext(
                    "Approval procedure started (%(key)s): claim “Apply for project approval” in your "
                    "department queue and submit the application.",
                    key=instance.business_key,
                ),
                "success",
            )
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        flash(err.message.render(gettext), "danger")
        return err.http_status
    return None
