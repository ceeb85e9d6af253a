"""The breach ledger (art. 23): list, filter and export; one entry with its evidence; appeals."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import GovshareError
from engine.oversight import breaches as service

from . import clock, db
from .params import number

bp = Blueprint("breaches", __name__, url_prefix="/breaches")
KINDS = (
    "reply_overdue",
    "catalog_update_overdue",
    "verification_overdue",
    "data_inconsistency",
    "use_outside_grant",
)


def _filters(args) -> service.Filters:
    dept = args.get("department", "")
    return service.Filters(
        department_id=number(dept),
        kind=args.get("kind") or None,
        date_from=args.get("from", "").strip(),
        date_to=args.get("to", "").strip(),
        appeal_status=args.get("appeal") or None,
        key=args.get("key") or None,
    )


@bp.get("/")
@login_required
def ledger():
    f = _filters(request.args)
    if request.args.get("format") == "csv":
        batches = service.ledger_batches(db.session, current_user, f)  # filters checked here
        return Response(
            stream_with_context(service.export_csv_stream(batches, gettext)),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=breaches.csv"},
        )
    page = service.ledger(db.session, current_user, f, page=number(request.args.get("page")) or 1)
    return render_template(
        "breaches/ledger.html",
        page=page,
        args=request.args,
        kinds=KINDS,
        departments=service.filter_departments(db.session, current_user),
    )


@bp.route("/<int:breach_id>", methods=["GET", "POST"])
@login_required
def show(breach_id: int):
    page = service.breach_page(db.session, current_user, breach_id)
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
            return _entry(page), err.http_status  # shown again with the refusal; nothing written
        return redirect(url_for(".show", breach_id=breach_id))
    return _entry(page)


def _entry(page: service.BreachPage) -> str:
    return render_template(
        "breaches/entry.html",
        b=page.breach,
        instance=page.instance,
        rectification=page.rectification,
        may_decide=page.may_decide,
        own=page.own,
    )
