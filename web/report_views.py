"""The compiled annual report (art. 17) for the authority: submissions, figures, charts, CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.oversight import annual as annual_service
from engine.oversight.evaluation import FIGURE_KEYS

from . import clock, db
from .errors import lookup

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/annual/<int:year>")
@login_required
def annual(year: int):
    page = lookup(annual_service.report_for, db.session, current_user, year)
    return render_template(
        "reports/annual.html", report=page.report, tally=page.tally, keys=FIGURE_KEYS
    )


@bp.get("/annual/<int:year>.pdf")
@login_required
def annual_pdf(year: int):
    return Response(
        lookup(annual_service.report_pdf, db.session, clock(), current_user, year),
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=annual-report-{year}.pdf"},
    )


@bp.get("/annual/<int:year>.csv")
@login_required
def annual_csv(year: int):
    return Response(
        lookup(annual_service.report_csv, db.session, current_user, year, gettext),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=annual-report-{year}.csv"},
    )
