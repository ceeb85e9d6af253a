"""The yearly evaluation (art. 17): on 1 January (Asia/Shanghai) every region department and every
city reports on the previous year by the end of January; the authority compiles the annual report.

Cities report through their data-sharing authority, which acts for the city government here (the
directory has no separate city-government accounts). The campaign row makes the start exactly-once
even with several workers: the second insert of a year fails and is skipped.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import rules
from engine.clock import SHANGHAI, Clock
from engine.directory import authority_of, departments, region_code
from engine.directory.models import Department, Division
from engine.exports import SafeWriter
from engine.i18n import N_, Label, Message
from engine.inputs import check_year
from engine.oversight.models import EvaluationCampaign
from engine.oversight.reports import figures
from engine.workflow.deployment import active_definition
from engine.workflow.facts import facts_of
from engine.workflow.forms import field_label
from engine.workflow.models import ProcessFact, ProcessInstance
from engine.workflow.runtime import start_instance

FIGURE_KEYS = (
    "requests_sent",
    "requests_received",
    "answered_on_time",
    "median_days_to_answer",
    "refusals",
    "negotiations",
    "coordinations",
    "errors_reported",
    "errors_fixed",
    "catalog_updates_on_time",
)


def reporting_units(session: Session) -> list[Department]:
    region = region_code(session)
    departments = session.scalars(
        select(Department)
        .where(Department.division_code == region, Department.is_authority.is_(False))
        .order_by(Department.slug)
    ).all()
    cities = session.scalars(
        select(Division.code).where(Division.level == "city").order_by(Division.code)
    ).all()
    return list(departments) + [authority_of(session, code) for code in cities]


def start_campaign(session: Session, clock: Clock, year: int) -> int:
    """Start the evaluation due in ``year`` (reports about ``year - 1``); nothing if already
    started. Returns the number of reports started (one per reporting unit)."""
    check_year(year)
    try:
        with session.begin_nested():
            session.add(EvaluationCampaign(year=year, started_at=clock.now()))
            session.flush()
    except IntegrityError:
        return 0
    region_authority = authority_of(session, region_code(session))
    definition = active_definition(session, "annual_evaluation")
    # the rule set in force (第十七条 "by the end of January": 24:00 of 31 January), a week's notice
    in_force = rules.current(session, clock)
    last_day = rules.annual_report_due(in_force, year)
    due = datetime.combine(last_day + timedelta(days=1), time(0), SHANGHAI)
    reminder = due - timedelta(days=7)
    started = 0
    for unit in reporting_units(session):
        f = figures(session, year - 1, unit.id, reasons=False)
        data = {
            "report_year": year - 1,
            "report_due": due.isoformat(),
            "report_reminder_at": reminder.isoformat(),
            "provider_name": unit.name,
            **rules.start_data(session, clock),
            **{f"figure_{k}": "" if f[k] is None else str(f[k]) for k in FIGURE_KEYS},
        }
        summary = {
            "report_year": year - 1,
            "provider_name": unit.name,
            "resource_name": f"{year - 1}年度共享工作情况",
        }
        start_instance(
            session,
            clock,
            definition,
            data,
            {"provider": unit.id, "authority": region_authority.id},
            None,
            summary,
        )
        started += 1
    return started


def start_due_campaigns(session: Session, clock: Clock) -> int:
    """Called by the worker: from 1 January (Asia/Shanghai) the year's evaluation runs. A worker
    that was down on 1 January catches up during January; later starts are an administrator's
    decision (``govshare evaluation start YEAR``), never a surprise."""
    local = clock.now().astimezone(SHANGHAI)
    year = local.year
    if local.month != 1 or session.get(EvaluationCampaign, year) is not None:
        return 0
    return start_campaign(session, clock, year)


def compiled(session: Session, year: int) -> dict:
    """The annual report about ``year``: each unit's submission and the region's figures.

    A unit's submission, its timeliness and its content come from the facts its evaluation
    recorded (``annual_report_submitted``, ``annual_report_overdue``), never from the task."""
    check_year(year)
    instances = session.scalars(
        select(ProcessInstance).where(
            ProcessInstance.process_id == "annual_evaluation",
            ProcessInstance.summary["report_year"].as_integer() == year,
        )
    ).all()
    facts: dict[int, dict[str, ProcessFact]] = {}
    for fact in facts_of(
        session, (i.id for i in instances), ("annual_report_submitted", "annual_report_overdue")
    ):
        facts.setdefault(fact.instance_id, {}).setdefault(fact.kind, fact)
    units = []
    units_of = {
        d.id: d for d in departments(session, {i.provider_department_id or 0 for i in instances})
    }
    for inst in instances:
        submitted = facts.get(inst.id, {}).get("annual_report_submitted")
        unit = units_of.get(inst.provider_department_id or 0)
        overdue = "annual_report_overdue" in facts.get(inst.id, {})
        on_time = submitted is not None and submitted.met is not False
        units.append(
            {
                "name": inst.summary.get("provider_name"),
                "name_en": unit.name_en if unit else None,
                # the unit's name in the reader's language
                "label": unit.label if unit else Label(inst.summary.get("provider_name") or ""),
                "division_code": unit.division_code if unit else "",
                # on_time | late | missing (due date passed) | not_due (may still report on time)
                "state": "on_time"
                if on_time
                else "late"
                if submitted
                else "missing"
                if overdue
                else "not_due",
                "business_key": inst.business_key,
                "submitted": submitted is not None,
                "on_time": submitted is not None and submitted.met is not False,
                "overdue": "annual_report_overdue" in facts.get(inst.id, {}),
                "submitted_at": submitted.at if submitted else None,
                "report": dict(submitted.details.get("report") or {}) if submitted else {},
            }
        )
    return {
        "year": year,
        "units": sorted(units, key=lambda u: (u["division_code"], u["name"] or "")),
        "figures": figures(session, year, reasons=False),
    }


def report_csv(session: Session, year: int, gettext_fn: Callable[[str], str] | None = None) -> str:
    """The compiled report about ``year`` as CSV, its figures labelled by the active report form."""
    form = active_definition(session, "annual_evaluation").forms.get("annual_report")
    return export_csv(compiled(session, year), form, gettext_fn)


CSV_COLUMNS = {  # the report's own columns; the figures are labelled by the report form
    "unit": Message(N_("Reporting unit")),
    "state": Message(N_("State")),
    "submitted": Message(N_("Submitted")),
    "on_time": Message(N_("Submitted on time")),
    "submitted_at": Message(N_("Submitted at")),
}
STATE_LABELS = {
    "on_time": Message(N_("on time")),
    "late": Message(N_("late")),
    "missing": Message(N_("not submitted")),
    "not_due": Message(N_("not yet due")),
}


def export_csv(
    report: dict, form: dict | None = None, gettext_fn: Callable[[str], str] | None = None
) -> str:
    """The report as CSV (UTF-8 with BOM, for spreadsheet programs): headers and yes/no in the
    reader's language (``gettext_fn``; the CLI's language without one). ``form`` is the annual
    report form (its field labels head the figures' columns)."""

    def text(message: Message) -> str:
        return message.render(gettext_fn)

    def label(key: str) -> str:
        found = field_label(form or {}, key)
        return text(found) if found is not None else key

    yes, no = text(Message(N_("Yes"))), text(Message(N_("No")))
    out = io.StringIO()
    w = SafeWriter(out)
    w.writerow(
        [
            *[text(m) for m in CSV_COLUMNS.values()],
            *[label(k) for k in FIGURE_KEYS],
            label("achievements"),
            label("problems"),
            label("plans"),
        ]
    )
    for u in report["units"]:
        r = u["report"]
        w.writerow(
            [
                text(Label(u["name"] or "", u.get("name_en"))),
                text(STATE_LABELS[u["state"]]),
                yes if u["submitted"] else no,
                yes if u["on_time"] else no,
                u["submitted_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
                if u["submitted_at"]
                else "",
                *[r.get(k, "") for k in FIGURE_KEYS],
                r.get("achievements", ""),
                r.get("problems", ""),
                r.get("plans", ""),
            ]
        )
    w.writerow([])
    w.writerow([text(Message(N_("Region"))), *[report["figures"][k] for k in FIGURE_KEYS]])
    return "\ufeff" + out.getvalue()
