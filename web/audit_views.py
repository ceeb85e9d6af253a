"""The audit viewer for authorities (issue 16): filters, keyset pages, CSV export, chain status."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.oversight import audit_log as service

from . import db
from .params import number

bp = Blueprint("audit_log", __name__, url_prefix="/audit")


def _filters(args) -> service.Filters:
    return service.Filters(
        date_from=args.get("from", "").strip(),
        date_to=args.get("to", "").strip(),
        kind=args.get("kind", "").strip() or None,
        object_type=args.get("object_type", "").strip() or None,
        object_ref=args.get("object_ref", "").strip() or None,
        actor=args.get("actor", "").strip() or None,
        department_id=number(args.get("department", "")),
    )


@bp.get("/")
@login_required
def events():
    f = _filters(request.args)
    if request.args.get("format") == "csv":
        batches = service.export_batches(db.session, current_user, f)  # checked here
        return Response(
            stream_with_context(service.export_csv_stream(batches, gettext)),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=audit-events.csv"},
        )
    page = service.events_page(db.session, current_user, f, after=request.args.get("after"))
    status = service.chain_status(db.session, current_user)
    return render_template(
        "audit/events.html",
        page=page,
        args=request.args,
        status=status,
        problem=status.problem.render(gettext) if status.problem else "",
        departments=service.filter_departments(db.session, current_user),
    )
