"""目录管理 (directory administration, issue 14): divisions, departments (create, rename with
history, move, merge with a preview), the authority of each level, review seats and leads, and
importing a directory file. Every view calls an engine service, which checks the administrator
(engine.directory.admin) and audits the change."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.directory import administration as service
from engine.errors import Forbidden, GovshareError
from engine.reorganisation import merge, move, split
from engine.reorganisation.importing import import_directory

from . import clock, db
from .params import number

bp = Blueprint("directory", __name__, url_prefix="/admin/directory")


def _refused(err: GovshareError) -> None:
    """A refused change: shown on the page it came from (its message names each field by its
    label); a refusal of who may do it is a 403 page."""
    db.session.rollback()
    if isinstance(err, Forbidden):
        raise err
    flash(err.message.render(gettext), "error")


def _change(service_call, *fields: str, done: str, **options) -> bool:
    """Run an administration service with the signed-in administrator and the form's ``fields``
    (in order), commit, and say ``done``; a refusal is shown instead (:func:`_refused`)."""
    f = request.form
    try:
        service_call(
            db.session, clock(), current_user, *(f.get(name, "") for name in fields), **options
        )
        db.session.commit()
    except GovshareError as err:
        _refused(err)
        return False
    flash(done, "success")
    return True


@bp.get("/")
@login_required
def index():
    division = request.args.get("division") or None
    page = service.list_departments(
        db.session,
        current_user,
        division=division,
        query=request.args.get("q", ""),
        show_inactive=request.args.get("inactive") == "1",
        after=number(request.args.get("after")),
    )
    return render_template(
        "directory/index.html",
        tree=service.division_tree(db.session, current_user),
        divisions=service.division_choices(db.session, current_user),
        page=page,
        levels=service.LEVEL_LABELS,
    )


@bp.post("/divisions")
@login_required
def create_division():
    fields = ("code", "name", "name_en", "level", "parent")
    _change(service.create_division, *fields, done=gettext("The division was created."))
    return redirect(url_for("directory.index"))


@bp.post("/divisions/rename")
@login_required
def rename_division():
    fields = ("code", "name", "name_en")
    _change(service.rename_division, *fields, done=gettext("The division was renamed."))
    return redirect(url_for("directory.index"))


@bp.post("/departments")
@login_required
def create_department():
    fields = ("slug", "name", "name_en", "division")
    if not _change(service.create_department, *fields, done=gettext("The department was created.")):
        return redirect(url_for("directory.index"))
    return redirect(url_for("directory.department", slug=request.form.get("slug", "")))


@bp.get("/departments/<slug>")
@login_required
def department(slug: str):
    detail = service.department_detail(db.session, current_user, slug)
    return render_template(
        "directory/department.html",
        d=detail,
        divisions=service.division_choices(db.session, current_user),
    )


@bp.post("/departments/<slug>/rename")
@login_required
def rename(slug: str):
    def rename_it(session, now, actor, name, name_en, reason):
        return service.rename_department(session, now, actor, slug, name, name_en, reason)

    done = gettext("The department was renamed; its former name stays in the history.")
    _change(rename_it, "name", "name_en", "reason", done=done)
    return redirect(url_for("directory.department", slug=slug))


@bp.post("/departments/<slug>/move")
@login_required
def move_department(slug: str):
    def move_it(session, now, actor, division, reason):
        return move(session, now, actor, slug, division, reason)

    _change(move_it, "division", "reason", done=gettext("The department was moved."))
    return redirect(url_for("directory.department", slug=slug))


@bp.route("/merge", methods=["GET", "POST"])
@login_required
def merge_page():
    choices = service.department_choices(db.session, current_user)
    if request.method == "GET":
        return render_template("directory/merge.html", choices=choices, plan=None, form={})
    f = request.form
    sources = f.getlist("sources")
    apply = f.get("action") == "apply"

    def planned(dry_run: bool):
        return merge(
            db.session,
            clock(),
            current_user,
            sources,
            f.get("target", ""),
            f.get("reason", ""),
            dry_run=dry_run,
            expected=f.get("token") if not dry_run else None,
        )

    try:
        plan = planned(dry_run=not apply)
        db.session.commit()
    except GovshareError as err:
        _refused(err)
        again = None
        if apply:  # a refused apply (e.g. no reason) shows the preview again, not an empty form
            try:
                again = planned(dry_run=True)
            except GovshareError:
                pass
            db.session.rollback()
        return render_template("directory/merge.html", choices=choices, plan=again, form=f), 422
    if plan.applied:
        flash(
            gettext("The departments were merged; everything listed moved to the successor."),
            "success",
        )
        return redirect(url_for("directory.department", slug=f.get("target", "")))
    return render_template("directory/merge.html", choices=choices, plan=plan, form=f)


@bp.route("/split", methods=["GET", "POST"])
@login_required
def split_page():
    """Split a department: choose it and its successors, then assign each item in the
    preview (everything not reassigned goes to the first successor); apply."""
    choices = service.department_choices(db.session, current_user)
    if request.method == "GET":
        return render_template("directory/split.html", choices=choices, plan=None, form={})
    f = request.form
    assignment = {
        name.removeprefix("assign:"): value
        for name, value in f.items()
        if name.startswith("assign:") and value
    }
    apply = f.get("action") == "apply"
    try:
        plan = split(
            db.session,
            clock(),
            current_user,
            f.get("source", ""),
            [s for s in f.getlist("successors") if s],
            assignment,
            f.get("reason", ""),
            dry_run=not apply,
            expected=f.get("token") if apply else None,
        )
        db.session.commit()
    except GovshareError as err:
        _refused(err)
        return render_template("directory/split.html", choices=choices, plan=None, form=f), 422
    if plan.applied:
        flash(gettext("The department was split as assigned."), "success")
        return redirect(url_for("directory.department", slug=f.get("source", "")))
    return render_template(
        "directory/split.html", choices=choices, plan=plan, form=f, assignment=assignment
    )


@bp.get("/duties")
@login_required
def duties():
    return render_template(
        "directory/duties.html",
        authorities=service.authorities(db.session, current_user),
        seats=service.seats(db.session, current_user),
        candidates=service.seat_candidates(db.session, current_user),
    )


@bp.post("/duties/authority")
@login_required
def authority():
    done = gettext("The data-sharing authority was designated.")
    _change(service.designate_authority, "division", "department", "reason", done=done)
    return redirect(url_for("directory.duties"))


@bp.post("/duties/seat")
@login_required
def seat():
    release = request.form.get("action") == "release"
    _change(
        service.assign_duty,
        "duty",
        "department",
        done=gettext("The duty was assigned."),
        release=release,
    )
    return redirect(url_for("directory.duties"))


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_page():
    if request.method == "GET":
        service.division_tree(db.session, current_user)  # refuses non-administrators
        return render_template("directory/import.html", diff=None, content="", fmt="csv")
    f = request.form
    upload = request.files.get("file")
    content = upload.read() if upload and upload.filename else f.get("content", "").encode()
    fmt = f.get("format", "csv")
    apply = f.get("action") == "apply"
    try:
        diff = import_directory(
            db.session,
            clock(),
            current_user,
            content,
            fmt,
            dry_run=not apply,
            source=upload.filename if upload and upload.filename else "",
        )
        db.session.commit()
    except GovshareError as err:
        db.session.rollback()
        if isinstance(err, Forbidden):
            raise
        return render_template(
            "directory/import.html", diff=None, content="", fmt=fmt, error=err.to_dict(gettext)
        ), err.http_status
    if diff.applied:
        flash(gettext("The directory file was imported."), "success")
        return redirect(url_for("directory.index"))
    return render_template(
        "directory/import.html", diff=diff, content=content.decode("utf-8-sig"), fmt=fmt
    )
