"""The breach ledger (art. 23): list, filter and export; one entry with its evidence; appeals."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.directory.models import Department
from engine.errors import GovshareError
from engine.oversight import breaches as service
from engine.workflow.models import ProcessInstance

from . import clock, db

bp = Blueprint("breaches", __name__, url_prefix="/breaches")
KINDS = (
    "reply_overdue",
    "catalog_update_overdue",
    "verification_overdue",
    "data_inconsistency",
    "use_outside_grant",
)


def _filters(args) -> service.Filters:
    def day(name):
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    dept = args.get("department", "")
    return service.Filters(
        department_id=int(dept) if dept.isdigit() else None,
        kind=args.get("kind") or None,
        date_from=day("from"),
        date_to=day("to"),
        appeal_status=args.get("appeal") or None,
    )


@bp.get("/")
@login_required
def ledger():
    f = _filters(request.args)
    rows, total = service.ledger(
        db.session,
        current_user,
        f,
        page=int(request.args.get("page", "1")) if request.args.get("page", "1").isdigit() else 1,
    )
    if request.args.get("format") == "csv":
        rows = _all(f)
        return Response(
            service.export_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=breaches.csv"},
        )
    departments = (
        db.session.scalars(
            select(Department).order_by(Department.division_code, Department.name)
        ).all()
        if current_user.department.is_authority
        else []
    )
    return render_template(
        "breaches/ledger.html",
        rows=rows,
        total=total,
        args=request.args,
        kinds=KINDS,
        departments=departments,
    )


def _all(f: service.Filters) -> list:
    """Every entry the filters select, page by page (the export is not limited to one page)."""
    rows, page = [], 1
    while True:
        chunk, _ = service.ledger(db.session, current_user, f, page=page)
        rows += chunk
        if len(chunk) < service.PAGE_SIZE:
            return rows
        page += 1


@bp.route("/<int:breach_id>", methods=["GET", "POST"])
@login_required
def show(breach_id: int):
    row = service.breach_for(db.session, current_user, breach_id)
    if request.method == "POST":
        try:
            if request.form.get("action") == "rectify":
                instance = service.open_rectification(db.session, clock(), current_user, breach_id)
                flash(
                    gettext(
                        "Rectification ordered (%(key)s): due in 15 working days.",
                        key=instance.business_key,
                    ),
                    "success",
                )
            elif request.form.get("action") == "appeal":
                service.appeal(
                    db.session, clock(), current_user, breach_id, request.form.get("reason", "")
                )
                flash(gettext("Appeal sent to the data-sharing authority."), "success")
            else:
                service.decide_appeal(
                    db.session,
                    clock(),
                    current_user,
                    breach_id,
                    request.form.get("decision") == "upheld",
                    request.form.get("reasons", ""),
                )
                flash(gettext("Decision on the appeal recorded."), "success")
            db.session.commit()
        except GovshareError as err:
            db.session.rollback()
            flash(err.message.render(gettext), "danger")
        return redirect(url_for(".show", breach_id=breach_id))
    instance = db.session.get(ProcessInstance, row.instance_id) if row.instance_id else None
    rectification = (
        db.session.get(ProcessInstance, row.rectification_instance_id)
        if row.rectification_instance_id
        else None
    )
    return render_template(
        "breaches/entry.html", b=row, instance=instance, rectification=rectification
    )
