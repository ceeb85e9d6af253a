"""The compiled annual report (art. 17) as the data-sharing authority reads it: on its page, as
CSV and as PDF. Only officials of a data-sharing authority may."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.clock import SHANGHAI, Clock
from engine.directory.models import User
from engine.errors import Forbidden
from engine.i18n import Message
from engine.oversight.evaluation import compiled
from engine.oversight.evaluation import report_csv as evaluation_csv
from engine.oversight.report_pdf import annual_report_pdf


def check_authority(user: User) -> None:
    if not user.department.is_authority:
        raise Forbidden(Message("Only data-sharing authorities compile the annual report."))


@dataclass(frozen=True)
class AnnualReport:
    report: dict  # as :func:`engine.oversight.evaluation.compiled`
    tally: dict[str, int]  # units on_time, late, missing (past the due date) and not_due


def report_for(session: Session, user: User, year: int) -> AnnualReport:
    """The report about ``year``, with the tally of its reporting units."""
    check_authority(user)
    report = compiled(session, year)
    units = report["units"]
    return AnnualReport(
        report,
        {
            state: sum(u["state"] == state for u in units)
            for state in ("on_time", "late", "missing", "not_due")
        },
    )


def report_csv(
    session: Session, user: User, year: int, gettext_fn: Callable[[str], str] | None = None
) -> str:
    """The report as CSV, headed in the reader's language (``gettext_fn``)."""
    check_authority(user)
    return evaluation_csv(session, year, gettext_fn)


def report_pdf(session: Session, clock: Clock, user: User, year: int) -> bytes:
    """The report as PDF, issued by the user's authority today."""
    check_authority(user)
    today = clock.now().astimezone(SHANGHAI).date()
    return annual_report_pdf(compiled(session, year), user.department.name, today)
