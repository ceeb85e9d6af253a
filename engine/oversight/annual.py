"""The compiled annual report (art. 17) as the data-sharing authority reads it: on its page, as
CSV and as PDF. Only officials of a data-sharing authority may."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.directory.models import User
from engine.errors import Forbidden
from engine.i18n import Message
from engine.oversight.evaluation import compiled, export_csv
from engine.oversight.report_pdf import annual_report_pdf


def check_authority(user: User) -> None:
    if not user.department.is_authority:
        raise Forbidden(Message("Only data-sharing authorities compile the annual report."))


@dataclass(frozen=True)
class AnnualReport:
    report: dict  # as :func:`engine.oversight.evaluation.compiled`
    tally: dict[str, int]  # units that reported on_time, late, or are missing


def report_for(session: Session, user: User, year: int) -> AnnualReport:
    """The report about ``year``, with the tally of its reporting units."""
    check_authority(user)
    report = compiled(session, year)
    units = report["units"]
    return AnnualReport(
        report,
        {
            "on_time": sum(u["on_time"] for u in units),
            "late": sum(u["submitted"] and not u["on_time"] for u in units),
            "missing": sum(not u["submitted"] for u in units),
        },
    )


def report_csv(session: Session, user: User, year: int) -> str:
    check_authority(user)
    return export_csv(compiled(session, year))


def report_pdf(session: Session, user: User, year: int) -> bytes:
    check_authority(user)
    return annual_report_pdf(compiled(session, year))
