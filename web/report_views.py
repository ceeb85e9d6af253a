"""The compiled annual report (art. 17) for the authority: submissions, figures, charts, CSV."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user, login_required

from engine.oversight.evaluation import FIGURE_KEYS, compiled, export_csv

from . import db

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/annual/<int:year>")
@login_required
def annual(year: int):
    if not current_user.department.is_authority:
        abort(403)
    report = compiled(db.session, year)
    counts = {
        "on_time": sum(u["on_time"] for u in report["units"]),
        "late": sum(u["submitted"] and not u["on_time"] for u in report["units"]),
        "missing": sum(not u["submitted"] for u in report["units"]),
    }
    return render_template("reports/annual.html", report=report, tally=counts, keys=FIGURE_KEYS)


@bp.get("/annual/<int:year>.pdf")
@login_required
def annual_pdf(year: int):
    from engine.oversight.report_pdf import annual_report_pdf

    if not current_user.department.is_authority:
        abort(403)
    return Response(
        annual_report_pdf(compiled(db.session, year)),
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=annual-report-{year}.pdf"},
    )


@bp.get("/annual/<int:year>.csv")
@login_required
def annual_csv(year: int):
    if not current_user.department.is_authority:
        abort(403)
    return Response(
        export_csv(compiled(db.session, year)),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=annual-report-{year}.csv"},
    )
