"""Statutory and configured time limits: how many working days each waiting step may take.

Every step that waits on a person has a limit here, with the article it serves or the words "no
statutory limit" and the default chosen. Processes receive the numbers in their start data (so an
instance keeps the limits it started under) and count them on the official calendar
(``engine.calendar``). An operator may change a default with ``GOVSHARE_DAYS_<NAME>`` (e.g.
``GOVSHARE_DAYS_VERIFICATION=15``); a statutory limit may be shortened but never lengthened,
since the measures bind. A later issue turns this table into versioned rule sets administrators
edit (the national 政务数据共享条例 prevailing where it differs, art. 24).

``docs/deadlines.md`` lists every limit; ``tests/test_rules.py`` checks the two agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from engine.errors import GovshareError
from engine.i18n import Message


@dataclass(frozen=True)
class Limit:
    name: str
    days: int  # working days (the default)
    statutory: bool  # set by the measures: may be shortened by configuration, never lengthened
    basis: str  # the article, or why this default where the measures set no number
    step: str  # what waits, in words an operator understands


def _limits(*limits: Limit) -> dict[str, Limit]:
    return {limit.name: limit for limit in limits}


LIMITS: dict[str, Limit] = _limits(
    # -- reminders and supervision (every waiting step) --------------------------------------
    Limit(
        "reminder_before", 2, False, "no statutory limit; default 2", "reminder before a due date"
    ),
    Limit(
        "supervision",
        5,
        False,
        "no statutory limit; default 5",
        "the same-level authority supervises an overdue step",
    ),
    # -- sharing (art. 11-14) -----------------------------------------------------------------
    Limit("reply", 10, True, "第十一条", "the provider answers a share request"),
    Limit(
        "negotiation",
        10,
        False,
        "no statutory limit; default 10",
        "negotiation between the parties",
    ),
    Limit(
        "negotiation_decision",
        5,
        False,
        "no statutory limit; default 5",
        "a refused requester decides whether to negotiate (第十一条)",
    ),
    Limit(
        "coordination",
        20,
        False,
        "no statutory limit; default 20",
        "the same-level authority coordinates a failed negotiation (第十一条)",
    ),
    Limit(
        "coordination_info",
        5,
        False,
        "no statutory limit; default 5",
        "a party answers the coordinator's request for information (the coordinator may choose"
        " 3, 5 or 10)",
    ),
    Limit(
        "sharing_supervision",
        5,
        False,
        "no statutory limit; default 5",
        "an authority supervises an overdue reply or an overdue coordination (第四条)",
    ),
    # -- catalog (art. 8) ---------------------------------------------------------------------
    Limit("catalog_update", 15, True, "第八条", "a department updates its catalog after a change"),
    Limit(
        "catalog_review",
        10,
        False,
        "no statutory limit; default 10",
        "the authority reviews a submitted catalog change",
    ),
    Limit(
        "catalog_revision",
        10,
        False,
        "no statutory limit; default 10",
        "a department revises a returned catalog entry, or updates its catalog after a"
        " declaration the authority returned once the update deadline had passed",
    ),
    Limit(
        "declaration_review",
        5,
        False,
        "no statutory limit; default 5",
        "the authority decides on a 'no change needed' declaration",
    ),
    # -- quality (art. 15) --------------------------------------------------------------------
    Limit(
        "verification",
        10,
        False,
        "no statutory limit; default 10",
        "the provider verifies a reported data error",
    ),
    Limit(
        "more_info",
        5,
        False,
        "no statutory limit; default 5",
        "the reporting department gives the provider more information",
    ),
    Limit(
        "verification_review",
        5,
        False,
        "no statutory limit; default 5",
        "the reporting department accepts or escalates the provider's answer",
    ),
    Limit(
        "ruling",
        10,
        False,
        "no statutory limit; default 10",
        "the authority decides a disputed data error",
    ),
    Limit(
        "correction",
        10,
        False,
        "no statutory limit; default 10",
        "the provider corrects a record the authority ruled wrong",
    ),
    # -- oversight (art. 20, 23) --------------------------------------------------------------
    Limit(
        "project_review",
        10,
        False,
        "no statutory limit; default 10",
        "a review seat reviews an IT project",
    ),
    Limit(
        "project_application",
        10,
        False,
        "no statutory limit; default 10",
        "the applicant submits (or resubmits) its project application",
    ),
    Limit(
        "rectification",
        15,
        False,
        "no statutory limit; default 15",
        "a department reports its rectification",
    ),
    Limit(
        "rectification_review",
        10,
        False,
        "no statutory limit; default 10",
        "the authority confirms a reported rectification",
    ),
)


def days(name: str, environ: Mapping[str, str] | None = None) -> int:
    """The working days allowed for ``name``: the configured value, else the default."""
    limit = LIMITS[name]
    raw = (os.environ if environ is None else environ).get(f"GOVSHARE_DAYS_{name.upper()}")
    if raw is None or raw == "":
        return limit.days
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1 or value > 365 or (limit.statutory and value > limit.days):
        raise GovshareError(
            Message(
                "GOVSHARE_DAYS_%(name)s must be a whole number of working days from 1 to %(max)s.",
                name=name.upper(),
                max=limit.days if limit.statutory else 365,
            )
        )
    return value


def start_data(*names: str) -> dict[str, int]:
    """What an instance starts under: ``<name>_days`` for each of ``names``, and the reminder
    and supervision limits every waiting step uses (``reminder_days_before``,
    ``supervision_days``)."""
    data = {f"{name}_days": days(name) for name in names}
    data["reminder_days_before"] = days("reminder_before")
    data["supervision_days"] = days("supervision")
    return data
