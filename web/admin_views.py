"""管理 (administration, issue 14): the hub that lists what the signed-in administrator may run.

Each administration area registers its page in ``SECTIONS`` (endpoint, title, what it is for,
who may open it). The hub shows the sections the signed-in user may open; each page's service
checks the same rule again (engine.directory.admin), so a typed URL is refused all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from engine.directory.admin import is_admin, is_system_admin

bp = Blueprint("admin", __name__, url_prefix="/admin")


@dataclass(frozen=True)
class Section:
    endpoint: str
    title: object  # a lazy translation
    summary: object
    system_only: bool  # only the system administrator (not a level's administrator)
    count: str = ""  # a key of nav_counts() shown beside the title when not zero


# One line per administration page; keep them in the order an administrator works.
SECTIONS: list[Section] = [
    Section(
        "directory.index",
        lazy_gettext("Directory"),
        lazy_gettext(
            "Divisions and departments: create, rename with history, move, merge, import; "
            "the authority of each level, review seats and leads."
        ),
        False,
    ),
    Section(
        "accounts.index",
        lazy_gettext("Accounts"),
        lazy_gettext(
            "Create accounts, job roles, moves between departments, deactivation, password "
            "resets, CSV import."
        ),
        False,
    ),
    Section(
        "clients.index",
        lazy_gettext("Department systems"),
        lazy_gettext(
            "Register a department's systems and issue, rotate and revoke their API tokens."
        ),
        False,
    ),
    Section(
        "calendar_admin.index",
        lazy_gettext("Working-day calendar"),
        lazy_gettext(
            "Holiday schedules by year; enter a national or regional notice, preview and apply "
            "the deadlines it moves."
        ),
        True,
    ),
    Section(
        "rules.index",
        lazy_gettext("Statutory rule sets"),
        lazy_gettext("The time limits of every procedure, by version, with their articles."),
        True,
    ),
    Section(
        "scenarios.index",
        lazy_gettext("Application scenarios"),
        lazy_gettext(
            "The application scenarios (应用场景) grants are bound to: add, rename, take out of use."
        ),
        True,
    ),
    Section(
        "cockpit.index",
        lazy_gettext("Process cockpit"),
        lazy_gettext(
            "Processes and their versions, activation and rollback; instances by state, "
            "suspend and resume."
        ),
        True,
    ),
    Section(
        "incidents.index",
        lazy_gettext("Process incidents"),
        lazy_gettext("Instances that failed, with their error; retry after the cause is fixed."),
        True,
        "incidents",
    ),
    Section(
        "deliveries.index",
        lazy_gettext("Notification delivery"),
        lazy_gettext("E-mails and platform messages that failed or wait to be sent."),
        True,
        "dead_letters",
    ),
]


def visible_sections() -> list[Section]:
    system = is_system_admin(current_user)
    return [s for s in SECTIONS if system or not s.system_only]


@bp.get("/")
@login_required
def index():
    if not is_admin(current_user):
        abort(403)
    return render_template("admin/index.html", sections=visible_sections())
