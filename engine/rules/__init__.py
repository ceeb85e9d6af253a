"""Statutory and configured time limits, in versioned rule sets (issue 14, item 8).

Every step that waits on a person has a limit, with the article it serves or none ("no statutory
limit; default"). The limits live in the database as **rule sets** (:mod:`engine.rules.models`):
numbered versions, each published with an effective date. The version in force at an instant is
the published one with the latest effective date on or before that day (Asia/Shanghai). Starting
an instance records the version in force (``process_instance.rule_set_version``) and puts that
version's numbers in its start data, so an instance keeps the limits it started under and a new
version applies to instances started on or after its effective date only.

Version 1, seeded by migration 0037, is the 2018 measures exactly as :data:`LIMITS` says. The
measures bind: a limit they set may be shortened, and lengthened only where the national
政务数据共享条例 (art. 24 of the measures: national rules prevail where they differ) says so, on a
basis naming the national article (:mod:`engine.rules.admin`). Counting is on the official
calendar (``engine.calendar``).

``docs/deadlines.md`` lists every limit; ``tests/test_rules.py`` checks the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import refcache
from engine.clock import SHANGHAI, Clock
from engine.errors import NotFound, ProcessFailed
from engine.i18n import N_, Message
from engine.rules.models import RuleLimit, RuleSet

# rule sets are read by every start and task list: cached per process (engine.refcache)
refcache.watch("rules", RuleSet)
refcache.watch("rules", RuleLimit)

MEASURES_2018 = "宁夏办法（2018）"  # version 1's name
MEASURES_IN_FORCE = date(2018, 11, 1)  # version 1's effective date
ANNUAL_REPORT = "annual_report"  # the one limit given as a month and day
# the national regulation's articles, as a lengthening basis must name one
NATIONAL_ARTICLE = re.compile(r"政务数据共享条例》?\s*第[一二三四五六七八九十百零〇两0-9]+条")


@dataclass(frozen=True)
class Limit:
    """A limit as the 2018 measures (version 1) set it."""

    name: str
    days: int  # working days (for the annual report: 0, see ANNUAL_REPORT_DUE)
    statutory: bool  # set by the measures: may be shortened, lengthened only by national rules
    article: str  # the article, or "" where the measures set no number
    step: str  # what waits, in words an operator understands (translatable)


def _limits(*limits: Limit) -> dict[str, Limit]:
    return {limit.name: limit for limit in limits}


ANNUAL_REPORT_DUE = "01-31"  # 第十七条: "by the end of January"

# fmt: off
LIMITS: dict[str, Limit] = _limits(
    # -- reminders and supervision (every waiting step) --
    Limit("reminder_before", 2, False, "", N_("reminder before a due date")),
    Limit("supervision", 5, False, "", N_("the same-level authority supervises an overdue step")),
    # -- sharing (art. 11-14) --
    Limit("reply", 10, True, "《办法》第十一条", N_("the provider answers a share request")),
    Limit("negotiation", 10, False, "", N_("negotiation between the parties")),
    Limit("negotiation_decision", 5, False, "",
          N_("a refused requester decides whether to negotiate")),
    Limit("coordination", 20, False, "",
          N_("the same-level authority coordinates a failed negotiation")),
    Limit("coordination_info", 5, False, "",
          N_("a party answers the coordinator's request for information (the form's default)")),
    Limit("sharing_supervision", 5, False, "",
          N_("an authority supervises an overdue reply or an overdue coordination")),
    # -- catalog (art. 8) --
    Limit("catalog_update", 15, True, "《办法》第八条",
          N_("a department updates its catalog after a change")),
    Limit("catalog_review", 10, False, "", N_("the authority reviews a submitted catalog change")),
    Limit("catalog_revision", 10, False, "",
          N_("a department revises a returned catalog entry or a returned declaration")),
    Limit("declaration_review", 5, False, "",
          N_("the authority decides on a 'no change needed' declaration")),
    # -- quality (art. 15) --
    Limit("verification", 10, False, "", N_("the provider verifies a reported data error")),
    Limit("more_info", 5, False, "",
          N_("the reporting department gives the provider more information")),
    Limit("verification_review", 5, False, "",
          N_("the reporting department accepts or escalates the provider's answer")),
    Limit("ruling", 10, False, "", N_("the authority decides a disputed data error")),
    Limit("correction", 10, False, "",
          N_("the provider corrects a record the authority ruled wrong")),
    # -- oversight (art. 17, 20, 23) --
    Limit("project_review", 10, False, "", N_("a review seat reviews an IT project")),
    Limit("project_application", 10, False, "",
          N_("the applicant submits (or resubmits) its project application")),
    Limit("rectification", 15, False, "", N_("a department reports its rectification")),
    Limit("rectification_review", 10, False, "",
          N_("the authority confirms a reported rectification")),
    Limit(ANNUAL_REPORT, 0, True, "《办法》第十七条",
          N_("a reporting unit submits its annual report (due date)")),
)
# fmt: on

# which limit each waiting step counts (task names are unique across the processes)
TASK_LIMITS: dict[str, str] = {
    "provider_review": "reply",
    "supervise": "sharing_supervision",
    "after_refusal": "negotiation_decision",
    "requester_position": "negotiation",
    "provider_position": "negotiation",
    "coordinate": "coordination",
    "supervise_coordination": "sharing_supervision",
    "update_catalog": "catalog_update",
    "declaration_review": "declaration_review",
    "review_catalog_change": "catalog_review",
    "revise_change": "catalog_revision",
    "verify_record": "verification",
    "ask_more_info": "more_info",
    "requester_review": "verification_review",
    "authority_review": "ruling",
    "correct_record": "correction",
    "submit_application": "project_application",
    "rectify": "rectification",
    "confirm_rectification": "rectification_review",
    "submit_annual_report": ANNUAL_REPORT,
}


def limit_of_task(task_name: str) -> str | None:
    """The limit a user task's deadline counts, or None (a coordinator's chosen period)."""
    if task_name in TASK_LIMITS:
        return TASK_LIMITS[task_name]
    if task_name.startswith("review_") and task_name.endswith("_supervise"):
        return "supervision"
    if task_name.startswith("review_"):
        return "project_review"
    if task_name.endswith("_supervise") or task_name.startswith("supervise_"):
        return "supervision"
    return None


@dataclass(frozen=True)
class LimitView:
    name: str
    step: str  # msgid: translate where shown
    days: int | None  # working days
    month_day: str | None  # MM-DD (the annual report)
    article: str  # "" = no statutory limit
    statutory: bool

    def amount(self) -> Message:
        """The limit in words: "10 working days" or "31 January"."""
        if self.month_day:
            month, day = self.month_day.split("-")
            return Message(N_("by %(month)s/%(day)s each year"), month=int(month), day=int(day))
        return Message(N_("%(n)s working days"), n=self.days)

    def basis(self) -> Message | str:
        return self.article or Message(N_("no statutory limit; default"))


@dataclass(frozen=True)
class RuleSetView:
    id: int
    version: int
    name: str
    basis: str
    state: str  # draft | published
    effective_from: date | None
    created_at: datetime
    published_at: datetime | None
    limits: tuple[LimitView, ...]

    def limit(self, name: str) -> LimitView:
        for limit in self.limits:
            if limit.name == name:
                return limit
        raise NotFound(
            Message(N_("Rule set %(v)s has no limit %(name)s."), v=self.version, name=name)
        )

    def days(self, name: str) -> int:
        value = self.limit(name).days
        if value is None:
            raise NotFound(
                Message(N_("Rule set %(v)s has no limit %(name)s."), v=self.version, name=name)
            )
        return value

    def label(self) -> Message:
        return Message(N_("rule set version %(v)s «%(name)s»"), v=self.version, name=self.name)


def view_of(row: RuleSet) -> RuleSetView:
    order = list(LIMITS)
    limits = sorted(row.limits, key=lambda r: order.index(r.name) if r.name in order else 999)
    return RuleSetView(
        id=row.id,
        version=row.version,
        name=row.name,
        basis=row.basis or "",
        state=row.state,
        effective_from=row.effective_from,
        created_at=row.created_at,
        published_at=row.published_at,
        limits=tuple(
            LimitView(
                name=r.name,
                step=LIMITS[r.name].step if r.name in LIMITS else r.name,
                days=r.days,
                month_day=r.month_day,
                article=r.article or "",
                statutory=bool(r.statutory),
            )
            for r in limits
        ),
    )


def _with_limits():  # type: ignore[no-untyped-def]
    return select(RuleSet).options(selectinload(RuleSet.limits))


def _published(session: Session) -> tuple[RuleSetView, ...]:
    """Every published rule set, latest in force first (cached per process: ``rules``)."""

    def load() -> tuple[RuleSetView, ...]:
        rows = session.scalars(
            _with_limits()
            .where(RuleSet.state == "published", RuleSet.effective_from.is_not(None))
            .order_by(RuleSet.effective_from.desc(), RuleSet.version.desc())
            # as stored now, not as this session first loaded them (refcache.fresh_rows)
            .execution_options(populate_existing=True)
        )
        return tuple(view_of(row) for row in rows)

    return refcache.cached(session, "rules", "published", load)


def in_force_on(session: Session, day: date) -> RuleSetView:
    """The published rule set in force on ``day`` (Asia/Shanghai)."""
    for view in _published(session):
        if view.effective_from is not None and view.effective_from <= day:
            return view
    raise ProcessFailed(
        Message(N_("No rule set is in force on %(day)s: run the migrations."), day=day.isoformat())
    )


def in_force(session: Session, at: datetime) -> RuleSetView:
    return in_force_on(session, at.astimezone(SHANGHAI).date())


def current(session: Session, clock: Clock) -> RuleSetView:
    """The rule set in force now (what an instance starting now starts under)."""
    return in_force(session, clock.now())


def by_version(session: Session, version: int) -> RuleSetView:
    def load() -> RuleSetView | None:
        row = session.scalar(
            _with_limits()
            .where(RuleSet.version == version)
            .execution_options(populate_existing=True)
        )
        return view_of(row) if row is not None else None

    view = refcache.cached(session, "rules", ("version", version), load)
    if view is None:
        raise NotFound(Message(N_("No rule set version %(v)s."), v=version))
    return view


def days(session: Session, clock: Clock, name: str) -> int:
    """The working days allowed for ``name`` under the rule set in force now."""
    return current(session, clock).days(name)


def start_data(session: Session, clock: Clock, *names: str) -> dict[str, int]:
    """What an instance starts under: the version in force (``rule_set_version``, which the
    start records on the instance), ``<name>_days`` for each of ``names``, and the reminder and
    supervision limits every waiting step uses (``reminder_days_before``, ``supervision_days``)."""
    rules = current(session, clock)
    data = {f"{name}_days": rules.days(name) for name in names}
    data["reminder_days_before"] = rules.days("reminder_before")
    data["supervision_days"] = rules.days("supervision")
    data["rule_set_version"] = rules.version
    return data


def annual_report_due(rules: RuleSetView, year: int) -> date:
    """The last day for the annual report due in ``year`` under ``rules``."""
    month, day = (rules.limit(ANNUAL_REPORT).month_day or ANNUAL_REPORT_DUE).split("-")
    return date(year, int(month), int(day))


# steps whose period the person starting the case may choose, and where the choice is kept
CHOSEN = {"verify_record": "verify_days", "rectify": "rectify_days"}


def rule_line(
    session: Session, version: int | None, task_name: str, summary: dict | None = None
) -> Message | None:
    """What a deadline's explanation says about its rule: the limit, the version, the article
    (None for a step whose period someone chose, e.g. the coordinator's request for information;
    a period chosen at the start that differs from the rule set's says so)."""
    name = limit_of_task(task_name)
    if name is None or version is None:
        return None
    rule = applied(session, version, name)
    chosen = (summary or {}).get(CHOSEN.get(task_name, ""))
    found = applied_limit(session, version, name) if chosen else None
    if found is not None and chosen is not None and found[2].days != int(chosen):
        return Message(
            N_("Period: %(n)s working days, as set when the case started (the rule: %(rule)s)"),
            n=int(chosen),
            rule=rule,
        )
    return rule


def applied_limit(session: Session, version: int, name: str) -> tuple[int, str, LimitView] | None:
    """(version, the rule set's name, the limit) of ``name`` in version ``version``."""
    row = session.execute(
        select(RuleSet.version, RuleSet.name, RuleLimit)
        .join(RuleLimit, RuleLimit.rule_set_id == RuleSet.id)
        .where(RuleSet.version == version, RuleLimit.name == name)
    ).first()
    if row is None:
        return None
    limit = row[2]
    view = LimitView(
        name=name,
        step=LIMITS[name].step if name in LIMITS else name,
        days=limit.days,
        month_day=limit.month_day,
        article=limit.article or "",
        statutory=bool(limit.statutory),
    )
    return row[0], row[1], view


def applied(session: Session, version: int, name: str) -> Message | None:
    """The sentence a deadline's explanation gives about its rule."""
    found = applied_limit(session, version, name)
    if found is None:
        return None
    number, set_name, view = found
    return Message(
        N_("Limit: %(amount)s (%(basis)s), rule set version %(v)s «%(name)s»."),
        amount=view.amount(),
        basis=view.basis(),
        v=number,
        name=set_name,
    )


def applied_dict(session: Session, version: int, name: str) -> dict | None:
    """:func:`applied` as plain data (for JSON answers and templates)."""
    found = applied_limit(session, version, name)
    if found is None:
        return None
    number, set_name, view = found
    return {
        "limit": name,
        "days": view.days,
        "article": view.article,
        "statutory": view.statutory,
        "version": number,
        "rule_set": set_name,
    }
