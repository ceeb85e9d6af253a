"""Figures the system already knows (art. 17, 24): per department and year, or for the region.

Everything is counted from the process facts (``process_fact``, see engine.workflow.facts) that
happened in the year — requests submitted (sent by the requester, received by the instance's
provider), answers with their deadlines and days, refusals and their reasons, negotiations,
coordinations, data errors reported and fixed, catalog updates — and the catalog's own count of
published entries; never from workflow state, process ids, BPMN element ids, task names or form
fields. A fact counts in the year it happened (an answer given in January counts in January's
year, whenever the request came).

The counts are read from the summary the transactions recording facts keep in step
(``figure_tally``, :mod:`engine.oversight.summary`): a page of figures costs the same over 1,000 or
100,000 requests. Days to answer are counted on the official calendar as it is when read. Only
the refusals' reasons (``reasons=True``, no page shows them) are read from the facts themselves.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import load_calendar
from engine.catalog.reading import published_counts
from engine.inputs import check_year
from engine.oversight import summary
from engine.stats import parse_day, weighted_median, working_days_counts
from engine.workflow.models import ProcessFact


def _refusal_reasons(
    session: Session, start: datetime, end: datetime, department_id: int | None
) -> list[dict]:
    """The reasons of the year's refusals, the most frequent first."""
    stmt = select(ProcessFact.reasons).where(
        ProcessFact.kind == "request_answered",
        ProcessFact.decision == "refused",
        ProcessFact.at >= start,
        ProcessFact.at < end,
    )
    if department_id is not None:
        stmt = stmt.where(ProcessFact.department_id == department_id)
    reasons = Counter(
        r or "" for r in session.scalars(stmt.order_by(ProcessFact.at, ProcessFact.id))
    )
    return [{"reason": r, "count": n} for r, n in reasons.most_common()]


def figures(
    session: Session, year: int, department_id: int | None = None, reasons: bool = False
) -> dict:
    """The year's figures for one department (as requester and as provider), or for everyone.

    Read from the summary kept in step with the facts (:mod:`engine.oversight.summary`): a few
    rows per department and figure, whatever the number of requests. ``reasons``: also the
    refusals' reasons, read from the year's refusals (a cost that grows with them: no page asks
    for it)."""
    check_year(year)
    dept = department_id
    tally = summary.read(session, year, dept)

    def count(kind: str, decision: str | None = None, on_time: bool = False) -> int:
        total = 0
        for (figure, value), n in tally.items():
            if figure != f"fact:{kind}":
                continue
            fact_decision, met = value.rsplit("|", 1)
            if decision is not None and fact_decision != decision:
                continue
            if on_time and met == "0":  # late; no deadline counts as on time
                continue
            total += n
        return total

    def instances(figure: str) -> int:
        return tally.get((figure if dept is not None else figure + summary.REGION, ""), 0)

    pairs = []  # the answers' days, the region's own rows for the region
    answers = summary.ANSWER_DATES + ("" if dept is not None else summary.REGION)
    for (figure, value), n in tally.items():
        if figure == answers and n:
            opened, answered = (parse_day(v) for v in value.split("|"))
            if opened and answered:
                pairs.append((opened, answered, n))
    days = working_days_counts(load_calendar(session), pairs) if pairs else {}
    sent = count("request_submitted")
    entries, open_entries = published_counts(session, dept)
    out: dict[str, Any] = {
        "year": year,
        "requests_sent": sent,
        "requests_received": sent if dept is None else tally.get(("received", ""), 0),
        "answered": count("request_answered"),
        "answered_on_time": count("request_answered", on_time=True),
        "median_days_to_answer": weighted_median(days),
        "refusals": count("request_answered", "refused"),
        "negotiations": instances("negotiations"),
        "coordinations": instances("coordinations"),
        "errors_reported": count("error_reported"),
        "errors_fixed": instances("errors_fixed"),
        "catalog_updates": count("catalog_update_required"),
        "catalog_updates_on_time": count("catalog_update_done", on_time=True),
        "catalog_entries": entries,
        "open_entries": open_entries,
        # art. 14: the use checks of department systems (as requester), their items and refusals
        "use_checks": tally.get(("use_checks", ""), 0),
        "use_items": tally.get(("use_items", ""), 0),
        "use_refusals": tally.get(("use_refusals", ""), 0),
    }
    if reasons:
        start, end = summary.year_bounds(year)
        out["refusal_reasons"] = _refusal_reasons(session, start, end, dept)
    return out


PUBLIC_FIGURES = (
    "requests_received",
    "answered",
    "answered_on_time",
    "median_days_to_answer",
    "negotiations",
    "coordinations",
    "errors_reported",
    "errors_fixed",
    "catalog_entries",
    "open_entries",
)


def public_figures(session: Session, year: int) -> dict:
    """The region's figures that the annual report makes public (art. 24): no department detail."""
    f = figures(session, year)
    return {k: f[k] for k in ("year", *PUBLIC_FIGURES)}
