"""Messages in the reader's language: one Jinja2 template per kind (``templates/<kind>.txt``),
each extending the template of its family on the ladder, translated through the project's
gettext catalog (``make messages`` extracts the templates; babel.cfg).

A template's first line is the subject, the rest the body; blank lines are dropped. What the
templates see is plain text already in the reader's language (department names, task titles,
decisions, roles), never an internal identifier: :func:`context` builds it from a notification's
payload, its deadline (working days left by the official calendar) and its link.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, TemplateNotFound

from engine.calendar import WorkingCalendar
from engine.clock import SHANGHAI, parse_instant
from engine.i18n import N_, TRANSLATIONS
from engine.workflow.inbox import due_date_of
from engine.workflow.roles import ROLE_LABELS

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = {"zh": "zh_CN", "en": "en"}  # a user's preference -> the gettext catalog
DEFAULT_LANGUAGE = "zh"

# decisions recorded on an instance (its summary) or an appeal, as the reader reads them
DECISIONS = {
    "granted": N_("Granted"),
    "granted_in_part": N_("Granted in part"),
    "refused": N_("Refused"),
    "refusal_upheld": N_("Refusal upheld"),
    "published": N_("Published"),
    "returned": N_("Returned"),
    "updated": N_("Updated"),
    "rectified": N_("Rectified"),
    "upheld": N_("Appeal upheld; the entry is withdrawn"),
    "rejected": N_("Appeal rejected; the entry stands"),
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


def language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


@cache
def _translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation(
        "messages", localedir=TRANSLATIONS, languages=[LANGUAGES[lang]], fallback=True
    )


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,  # plain text: e-mail bodies and messaging cards, escaped where shown
        lstrip_blocks=True,
    )
    env.install_gettext_translations(_translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def template_names() -> list[str]:
    """The kinds that have a template (the files not starting with ``_``)."""
    return sorted(p.stem for p in TEMPLATES.glob("*.txt") if not p.name.startswith("_"))


def translate(lang: str, msgid: str) -> str:
    return _translations(language(lang)).gettext(msgid)


def _both(payload: dict, name: str, lang: str) -> str:
    """A name the payload carries in both languages (``title``/``title_en``)."""
    if lang == "en" and payload.get(f"{name}_en"):
        return str(payload[f"{name}_en"])
    return str(payload.get(name) or "")


def context(
    lang: str,
    payload: dict,
    *,
    key: str | None,
    due_at: datetime | None,
    url: str,
    now: datetime,
    calendar: WorkingCalendar,
) -> dict[str, Any]:
    """What a template sees, in ``lang``: plain values only."""
    lang = language(lang)
    tr = _translations(lang).gettext
    decision = payload.get("decision")
    party = payload.get("party")
    ctx: dict[str, Any] = {
        "lang": lang,
        "key": key or "",
        "url": url,
        "resource": _both(payload, "resource_name", lang),
        "task": _both(payload, "title", lang),
        "who": _both(payload, "who", lang),
        "decision": tr(DECISIONS[decision]) if decision in DECISIONS else "",
        "in_part": decision == "granted_in_part",
        "reasons": payload.get("reason") or payload.get("comment") or payload.get("reasons") or "",
        "year": payload.get("year") or "",
        "code": payload.get("code") or "",
        "party": ROLE_LABELS[party].render(tr) if party in ROLE_LABELS else "",
        "article": payload.get("article") or "",
        "grant_end": payload.get("period_end") or "",
        "due_date": "",
        "days_left": None,
        "overdue": False,
        "days_over": 0,
    }
    if due_at is not None:
        today = now.astimezone(SHANGHAI).date()
        last = due_date_of(due_at)
        left = calendar.working_days_between(today, last)
        ctx.update(
            due_date=last.isoformat(),
            days_left=max(left, 0),
            overdue=now >= due_at,
            days_over=max(-left, 0),
        )
    for name in ("overdue_tasks", "due_soon", "new_tasks"):  # the digest's lists
        ctx[name] = [
            {**item, "task": _both(item, "task", lang)} for item in payload.get(name) or []
        ]
    ctx["soon_days"] = payload.get("soon_days") or 0
    moved_from = parse_due(payload.get("before"))  # deadline_moved: the deadline before
    ctx["moved_from"] = due_date_of(moved_from).isoformat() if moved_from else ""
    return ctx


def render(kind: str, lang: str, ctx: dict[str, Any]) -> Rendered:
    """The subject and text of a ``kind`` message in ``lang`` (an unknown kind, from a process
    newer than this module, reads as a generic update rather than failing)."""
    env = environment(language(lang))
    try:
        template = env.get_template(f"{kind}.txt")
    except TemplateNotFound:
        template = env.get_template("_fallback.txt")
    lines = [line.strip() for line in template.render(ctx).splitlines()]
    lines = [line for line in lines if line]
    return Rendered(lines[0] if lines else "", "\n".join(lines[1:]))


def parse_due(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_instant(value)
    except (TypeError, ValueError):
        return None
