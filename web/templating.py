"""Template helpers: local times, deadlines, translated engine messages, navigation counts."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g, request
from flask_babel import get_locale, gettext, lazy_gettext
from flask_login import current_user

from engine import paging
from engine.calendar import due_label, regional_gap
from engine.catalog import rules as catalog_rules
from engine.catalog.events import KIND_LABELS
from engine.clock import SHANGHAI
from engine.directory import is_administrator
from engine.directory.admin import is_admin
from engine.i18n import Message
from engine.workflow import incidents, roles
from engine.workflow.inbox import counts
from notifications import dead_letters, inapp

from . import LANGUAGES, clock, db, select_locale

# the lanes' labels (engine.workflow.roles), translated where they are shown
ROLE_LABELS = {role: lazy_gettext(label.msgid) for role, label in roles.ROLE_LABELS.items()}
PROCESS_LABELS = {
    "share_request": lazy_gettext("Data-sharing request"),
    "negotiation": lazy_gettext("Negotiation and coordination"),
    "catalog_publication": lazy_gettext("Catalog publication"),
    "catalog_update": lazy_gettext("Catalog update"),
    "data_error_verification": lazy_gettext("Data error verification"),
    "annual_evaluation": lazy_gettext("Annual evaluation"),
    "project_approval": lazy_gettext("IT project approval"),
    "rectification": lazy_gettext("Rectification"),
}
STATUS_LABELS = {
    "running": lazy_gettext("In progress"),
    "completed": lazy_gettext("Completed"),
    "incident": lazy_gettext("Incident"),
    "suspended": lazy_gettext("Suspended"),
    "open": lazy_gettext("Open"),
    "cancelled": lazy_gettext("Cancelled"),
}
SHARE_TYPE_LABELS = {
    "unconditional": lazy_gettext("Unconditional"),
    "conditional": lazy_gettext("Conditional"),
    "not_shared": lazy_gettext("Not shared"),
}
DECISION_LABELS = {
    "granted": lazy_gettext("Granted"),
    "granted_in_part": lazy_gettext("Granted in part"),
    "refused": lazy_gettext("Refused"),
    "refusal_upheld": lazy_gettext("Refusal upheld"),
    "published": lazy_gettext("Published"),
    "returned": lazy_gettext("Returned"),
    "updated": lazy_gettext("Updated"),
    "no_change_declared": lazy_gettext("Declared no change needed"),
    "open": lazy_gettext("Rectification under way"),
    "rectified": lazy_gettext("Rectified"),
    "reported": lazy_gettext("Report submitted"),
}
DECISION_BADGES = {
    "granted": "normal",
    "granted_in_part": "soon",
    "published": "normal",
    "updated": "normal",
    "no_change_declared": "normal",
}
# the authority's ruling on a "no change needed" declaration (engine.catalog.declarations)
RULING_LABELS = {
    "pending": lazy_gettext("Awaiting the authority's review"),
    "accepted": lazy_gettext("Accepted: no change needed"),
    "returned": lazy_gettext("Returned: the catalog must be updated"),
}
RULING_BADGES = {"pending": "soon", "accepted": "normal", "returned": "overdue"}
OUTCOME_BY_LABELS = {
    "catalog": lazy_gettext("The catalog (unconditional sharing)"),
    "provider": lazy_gettext("The providing department"),
    "negotiation": lazy_gettext("Agreed in negotiation"),
    "coordination": lazy_gettext("Coordination (binding decision)"),
}
BASIS_LABELS = {
    "unconditional": lazy_gettext("Unconditional sharing"),
    "approved": lazy_gettext("Approved by the provider"),
    "partial": lazy_gettext("Approved in part"),
    "negotiated": lazy_gettext("Agreed in negotiation"),
    "coordinated": lazy_gettext("Decided by coordination"),
}


CLASS_LABELS = {
    "base": lazy_gettext("Base resource"),
    "thematic": lazy_gettext("Thematic resource"),
    "department": lazy_gettext("Department resource"),
}
BASE_LABELS = {
    "population": lazy_gettext("Population"),
    "legal_entities": lazy_gettext("Legal entities"),
    "natural_resources_geospatial": lazy_gettext("Natural resources and geospatial"),
    "e_licences": lazy_gettext("E-licences"),
}
NETWORK_LABELS = {
    "internal": lazy_gettext("E-government internal network"),
    "extranet": lazy_gettext("E-government extranet"),
}
METHOD_LABELS = {
    "interface": lazy_gettext("Interface"),
    "file": lazy_gettext("File"),
    "query": lazy_gettext("Query"),
    "other": lazy_gettext("Other"),
}
CYCLE_LABELS = {
    "realtime": lazy_gettext("Real time"),
    "daily": lazy_gettext("Daily"),
    "weekly": lazy_gettext("Weekly"),
    "monthly": lazy_gettext("Monthly"),
    "quarterly": lazy_gettext("Quarterly"),
    "yearly": lazy_gettext("Yearly"),
    "irregular": lazy_gettext("Irregular"),
}
VERSION_LABELS = {
    "draft": lazy_gettext("Draft"),
    "submitted": lazy_gettext("Under review"),
    "returned": lazy_gettext("Returned"),
    "published": lazy_gettext("Published"),
    "superseded": lazy_gettext("Superseded"),
}
BREACH_LABELS = {
    "reply_overdue": lazy_gettext("Reply overdue"),
    "catalog_update_overdue": lazy_gettext("Catalog not updated in time"),
    "verification_overdue": lazy_gettext("Data error not verified in time"),
    "data_inconsistency": lazy_gettext("Inconsistent data"),
    "use_outside_grant": lazy_gettext("Use outside a grant"),
    "annual_report_overdue": lazy_gettext("Annual report late"),
}
USE_REFUSAL_LABELS = {  # why a use check was refused (engine/sharing/grants.py REASONS)
    "wrong_scenario": lazy_gettext("Not the grant's application scenario"),
    "items_outside_grant": lazy_gettext("Info items outside the grant"),
    "expired": lazy_gettext("Grant period ended"),
    "not_yet_valid": lazy_gettext("Grant period not begun"),
    "no_grant": lazy_gettext("No grant on the resource"),
    "unknown_grant": lazy_gettext("No such grant"),
}
PROJECT_LABELS = {
    "draft": lazy_gettext("Draft"),
    "in_review": lazy_gettext("In joint review"),
    "returned": lazy_gettext("Returned"),
    "approved": lazy_gettext("Approved"),
    "accepted": lazy_gettext("Accepted"),
}
APPEAL_LABELS = {
    "pending": lazy_gettext("Appeal pending"),
    "upheld": lazy_gettext("Appeal upheld"),
    "rejected": lazy_gettext("Appeal rejected"),
}
DOSSIER_LABELS = {
    "info_request": lazy_gettext("Information requested"),
    "info_answer": lazy_gettext("Information provided"),
    "meeting": lazy_gettext("Coordination meeting"),
    "decision": lazy_gettext("Decision"),
    "info_missed": lazy_gettext("Information not provided in time"),
    "position_missed": lazy_gettext("Negotiation position not given in time"),
}
EVENT_LABELS = {
    "started": lazy_gettext("Started"),
    "task_completed": lazy_gettext("Task completed"),
    "task_withdrawn": lazy_gettext("Task withdrawn"),
    "timers_fired": lazy_gettext("Deadline timer fired"),
    "breach_recorded": lazy_gettext("Breach recorded"),
    "grant_issued": lazy_gettext("Grant issued"),
    "scenario_saved": lazy_gettext("Application scenario saved"),
    "scenario_activated": lazy_gettext("Application scenario back in use"),
    "scenario_deactivated": lazy_gettext("Application scenario taken out of use"),
    "grant_issued_in_part": lazy_gettext("Grant issued in part"),
    "deadline_reminder": lazy_gettext("Reminder sent"),
    "deadline_missed": lazy_gettext("Time limit passed, step closed"),
    "deadline_overdue": lazy_gettext("Time limit passed, marked overdue"),
    "incident": lazy_gettext("Stopped by a technical error"),
    "incident_retried": lazy_gettext("Retried after an error"),
    "incident_resolved": lazy_gettext("Running again after the error"),
    "task_claimed": lazy_gettext("Task claimed"),
    "task_unclaimed": lazy_gettext("Task returned to the queue"),
    "task_reassigned": lazy_gettext("Task reassigned"),
    "attachment_added": lazy_gettext("Attachment added"),
    "served_on_proof": lazy_gettext("Citizen served on proof"),
    "breach_appealed": lazy_gettext("Breach appealed"),
    "breach_appeal_decided": lazy_gettext("Appeal decided"),
    "decision_signed": lazy_gettext("Decision signed (SM2)"),
    "signing_key_created": lazy_gettext("Signing key made"),
    "signing_key_retired": lazy_gettext("Signing key retired"),
    "deadlines_moved": lazy_gettext("Deadline moved by a calendar notice"),
    "instance_suspended": lazy_gettext("Suspended by an administrator"),
    "instance_resumed": lazy_gettext("Resumed by an administrator"),
    "audit_checkpoint": lazy_gettext("Audit chain checkpoint recorded"),
    "sign_in": lazy_gettext("Signed in"),
    "sign_in_failed": lazy_gettext("Sign-in refused"),
    "sign_in_locked": lazy_gettext("Sign-in locked after failed attempts"),
    "grant_revoked": lazy_gettext("Grant revoked"),
    "bundle_exported": lazy_gettext("Auditor's bundle exported"),
    "api_token_used": lazy_gettext("API token used"),
    "api_client_token_used": lazy_gettext("Department system's token used"),
    "version_deployed": lazy_gettext("Process version deployed"),
    "version_activated": lazy_gettext("Process version activated"),
}


# a catalog entry's fields, as "changed" lists name them; the kinds of catalog events
CATALOG_FIELD_LABELS = {k: lazy_gettext(m.msgid) for k, m in catalog_rules.LABELS.items()}
CATALOG_EVENT_LABELS = {k: lazy_gettext(m.msgid) for k, m in KIND_LABELS.items()}


def is_english() -> bool:
    return get_locale().language == "en"


def render_message(value) -> str:
    """An engine :class:`~engine.i18n.Message` in the reader's language; a department's,
    division's or official's name (a :class:`~engine.i18n.Label`) in English for an English
    reader where the directory has one, else in Chinese."""
    if isinstance(value, Message):
        return value.render(gettext)
    return str(value)


def field_errors(err) -> dict[str, list[str]]:
    """A refused form's problems by field, rendered in the reader's language (a
    :class:`~engine.errors.ValidationFailed`'s details)."""
    errors: dict[str, list[str]] = {}
    for d in err.details:
        if isinstance(d, dict):
            errors.setdefault(d["field"], []).append(render_message(d["message"]))
    return errors


def finalize(value):
    """What ``{{ … }}`` prints: engine messages and names in the reader's language (so no
    template decides a language itself), anything else unchanged."""
    return value.render(gettext) if isinstance(value, Message) else value


def catalog_fields(names) -> str:
    """Field names of a catalog entry as their labels, joined in the reader's language."""
    labels = [str(CATALOG_FIELD_LABELS.get(n) or gettext("other field")) for n in names or []]
    return (", " if is_english() else "、").join(labels)


def local(dt, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored instant (aware datetime or ISO string) in Beijing time."""
    if not dt:
        return ""
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return dt.astimezone(SHANGHAI).strftime(fmt)


def task_title(task) -> str:
    """A task's title in the reader's language (BPMN names are Chinese; ``title_en`` is English)."""
    if isinstance(task, dict):
        return (task.get("title_en") if is_english() else None) or task["title"]
    return (getattr(task, "title_en", None) if is_english() else None) or task.title


def title_of(node: dict) -> str:
    """A schema node's label in the reader's language."""
    return (node.get("x-title-en") if is_english() else None) or node.get("title") or ""


def statute_label(text: str) -> str:
    """第十一条、第十二条 → Art. 11, 12 in English."""
    if not text or not is_english():
        return text or ""
    numerals = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

    def number(cn: str) -> str:
        if cn.startswith("十"):
            cn = "一" + cn
        if "十" in cn:
            tens, _, ones = cn.partition("十")
            return str(numerals.get(tens, 0) * 10 + numerals.get(ones, 0))
        return str(numerals.get(cn, cn))

    parts = [p.strip("第条") for p in text.replace("，", "、").split("、")]
    return "Art. " + ", ".join(
        number(p.split("条")[0]) + (p.split("条", 1)[1] if "条" in p else "") for p in parts
    )


def capped(n: int, cap: int | None = None) -> str:
    """A capped count as lists show it: "1000+" above :data:`engine.paging.COUNT_CAP` (or
    ``cap``)."""
    cap = paging.COUNT_CAP if cap is None else cap
    return f"{cap}+" if n > cap else str(n)


def badge(n: int) -> str:
    """A navigation badge's count: "99+" above :data:`engine.paging.BADGE_CAP`."""
    return capped(n, paging.BADGE_CAP)


def nav_counts() -> dict:
    """The navigation's badges: the inbox counts, each capped (engine.workflow.inbox.counts:
    the same statements whatever is stored), shown through :func:`badge` ("99+")."""
    if "nav_counts" not in g:
        if "inbox_counts" in g:  # an inbox page read them with its list
            g.nav_counts = dict(g.inbox_counts)
        elif current_user.is_authenticated:
            g.nav_counts = counts(db.session, current_user, clock())
        else:
            g.nav_counts = {}
        if current_user.is_authenticated and is_administrator(current_user):
            g.nav_counts["incidents"] = incidents.open_count(db.session)
            g.nav_counts["dead_letters"] = dead_letters.count(db.session, "dead")
    return g.nav_counts


def unread_notifications() -> int:
    """The bell's count: the user's unread notifications (one indexed count, capped at 100)."""
    if "unread_notifications" not in g:
        g.unread_notifications = (
            inapp.unread_count(db.session, current_user.id) if current_user.is_authenticated else 0
        )
    return g.unread_notifications


def calendar_gap() -> list[int]:
    """The years without Ningxia's regional holidays, for the one notice that administrators and
    the authorities' staff see (everyone else sees a short mark on the deadlines concerned)."""
    if "calendar_gap" not in g:
        g.calendar_gap = []
        user = current_user
        if user.is_authenticated and (is_administrator(user) or user.department.is_authority):
            g.calendar_gap = regional_gap(db.session, clock().now().astimezone(SHANGHAI).date())
    return g.calendar_gap


def init_app(app: Flask) -> None:
    app.jinja_env.finalize = finalize
    app.jinja_env.filters.update(
        local=local,
        due=due_label,
        msg=render_message,
        name=render_message,
        title_of=title_of,
        catalog_fields=catalog_fields,
        statute=statute_label,
        task_title=task_title,
        capped=capped,
        badge=badge,
    )
    app.jinja_env.add_extension("jinja2.ext.do")

    @app.context_processor
    def _context():
        return {
            "nav_counts": nav_counts,
            "COUNT_CAP": paging.COUNT_CAP,  # lists say "more than 1000" past it
            "is_admin": is_admin,
            "unread_notifications": unread_notifications,
            "calendar_gap": calendar_gap,
            "LANGUAGES": LANGUAGES,
            "current_lang": select_locale(),
            "ROLE_LABELS": ROLE_LABELS,
            "PROCESS_LABELS": PROCESS_LABELS,
            "STATUS_LABELS": STATUS_LABELS,
            "SHARE_TYPE_LABELS": SHARE_TYPE_LABELS,
            "DECISION_LABELS": DECISION_LABELS,
            "EVENT_LABELS": EVENT_LABELS,
            "CATALOG_EVENT_LABELS": CATALOG_EVENT_LABELS,
            "CLASS_LABELS": CLASS_LABELS,
            "DOSSIER_LABELS": DOSSIER_LABELS,
            "BREACH_LABELS": BREACH_LABELS,
            "USE_REFUSAL_LABELS": USE_REFUSAL_LABELS,
            "PROJECT_LABELS": PROJECT_LABELS,
            "APPEAL_LABELS": APPEAL_LABELS,
            "BASE_LABELS": BASE_LABELS,
            "NETWORK_LABELS": NETWORK_LABELS,
            "METHOD_LABELS": METHOD_LABELS,
            "CYCLE_LABELS": CYCLE_LABELS,
            "VERSION_LABELS": VERSION_LABELS,
            "BASIS_LABELS": BASIS_LABELS,
            "DECISION_BADGES": DECISION_BADGES,
            "RULING_LABELS": RULING_LABELS,
            "RULING_BADGES": RULING_BADGES,
            "OUTCOME_BY_LABELS": OUTCOME_BY_LABELS,
            "is_english": is_english,
            "request_path": request.full_path,
        }
