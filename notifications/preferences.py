"""Notification preferences: each official's channels, addresses, quiet hours, digest and
language, over their department's defaults (which the department's leader edits).

In-app is always on: the bell cannot be switched off. E-mail goes out when the user has an
address and e-mail is on (default on); the messaging webhook when the user has an account name on
the platform and the webhook is on (default off); the digest is on by default. Quiet hours
(Asia/Shanghai) hold e-mail and webhook deliveries until they end, except the 催办 and 督办
rungs (overdue excepted, issue 13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from engine import audit
from engine.clock import SHANGHAI, Clock
from engine.directory.models import User
from engine.errors import Forbidden
from engine.i18n import N_, Message
from engine.inputs import Checks, column_length
from notifications.models import DepartmentNotificationDefaults, NotificationPreference
from notifications.render import LANGUAGES, language

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULTS = DepartmentNotificationDefaults(email=True, webhook=False, digest=True)


@dataclass(frozen=True)
class QuietHours:
    start: str  # "HH:MM"
    end: str

    def hold_until(self, now: datetime) -> datetime | None:
        """When a delivery made at ``now`` may go out: the end of the quiet hours if ``now`` is
        inside them, else None (at once). A window may run over midnight (22:00–07:00)."""
        if not self.start or not self.end or self.start == self.end:
            return None
        local = now.astimezone(SHANGHAI)
        start, end = _time(self.start), _time(self.end)
        t = local.time()
        inside = (start <= t < end) if start < end else (t >= start or t < end)
        if not inside:
            return None
        day = local.date() if t < end else local.date() + timedelta(days=1)
        return datetime.combine(day, end, SHANGHAI)


def _time(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


@dataclass(frozen=True)
class Settings:
    """What a user gets, their choices and the department's defaults resolved."""

    language: str  # zh | en
    email: bool
    webhook: bool
    digest: bool
    email_address: str
    messaging_id: str
    quiet: QuietHours

    @property
    def email_to(self) -> str | None:
        return self.email_address if self.email and self.email_address else None

    @property
    def webhook_to(self) -> str | None:
        return self.messaging_id if self.webhook and self.messaging_id else None


@dataclass(frozen=True)
class DepartmentDefaults:
    email: bool
    webhook: bool
    digest: bool
    quiet_from: str
    quiet_until: str


@dataclass(frozen=True)
class PreferencesPage:
    """The preferences page: the user's own choices (None: the default) and the defaults."""

    language: str
    email: bool | None
    webhook: bool | None
    digest: bool | None
    email_address: str
    messaging_id: str
    quiet_from: str
    quiet_until: str
    effective: Settings
    defaults: DepartmentDefaults
    may_edit_defaults: bool  # the department's leader
    department_name: str
    department_name_en: str


def _defaults(session: Session, department_id: int) -> DepartmentNotificationDefaults:
    return session.get(DepartmentNotificationDefaults, department_id) or DEFAULTS


def _pick(own: bool | None, default: bool | None) -> bool:
    return bool(default) if own is None else own


def settings_of(session: Session, user: User) -> Settings:
    own = session.get(NotificationPreference, user.id)
    dept = _defaults(session, user.department_id)
    quiet_from = own.quiet_from if own and own.quiet_from is not None else dept.quiet_from
    quiet_until = own.quiet_until if own and own.quiet_until is not None else dept.quiet_until
    return Settings(
        language=language(own.language if own else None),
        email=_pick(own.email if own else None, dept.email),
        webhook=_pick(own.webhook if own else None, dept.webhook),
        digest=_pick(own.digest if own else None, dept.digest),
        email_address=own.email_address if own else "",
        messaging_id=own.messaging_id if own else "",
        quiet=QuietHours(quiet_from or "", quiet_until or ""),
    )


def language_of(session: Session, user: User) -> str:
    """The language the user reads their notifications in (zh unless they chose English)."""
    own = session.get(NotificationPreference, user.id)
    return language(own.language if own else None)


def _department_defaults(session: Session, department_id: int) -> DepartmentDefaults:
    d = _defaults(session, department_id)
    return DepartmentDefaults(
        bool(d.email), bool(d.webhook), bool(d.digest), d.quiet_from or "", d.quiet_until or ""
    )


def preferences_page(session: Session, user: User) -> PreferencesPage:
    own = session.get(NotificationPreference, user.id)
    return PreferencesPage(
        language=language(own.language if own else None),
        email=own.email if own else None,
        webhook=own.webhook if own else None,
        digest=own.digest if own else None,
        email_address=own.email_address if own else "",
        messaging_id=own.messaging_id if own else "",
        quiet_from=(own.quiet_from or "") if own else "",
        quiet_until=(own.quiet_until or "") if own else "",
        effective=settings_of(session, user),
        defaults=_department_defaults(session, user.department_id),
        may_edit_defaults="leader" in (user.job_roles or []),
        department_name=user.department.name,
        department_name_en=user.department.name_en,
    )


CHOICES = {"default": None, "on": True, "off": False}


def _choice(checks: Checks, name: str, value: str | None, label: Message) -> bool | None:
    if (value or "default") not in CHOICES:
        checks.add(name, label, Message(N_("must be on, off or the department's default")))
        return None
    return CHOICES[value or "default"]


def _quiet(checks: Checks, name: str, value: str | None, label: Message) -> str:
    text = (value or "").strip().replace("：", ":")
    if text and not HHMM.match(text) and HHMM.match("0" + text):
        text = "0" + text  # 7:30 is 07:30
    if text and not HHMM.match(text):
        checks.add(name, label, Message(N_("must be a time such as 22:00 (HH:MM)")))
    return text


def _quiet_hours(checks: Checks, form: dict) -> tuple[str, str]:
    """The quiet hours of a form: both times (HH:MM) or both empty."""
    quiet_from = _quiet(checks, "quiet_from", form.get("quiet_from"), Message(N_("Quiet from")))
    quiet_until = _quiet(checks, "quiet_until", form.get("quiet_until"), Message(N_("Quiet until")))
    if bool(quiet_from) != bool(quiet_until):
        checks.add(
            "quiet_until",
            Message(N_("Quiet until")),
            Message(
                N_("must be given together with the start of the quiet hours, or both left empty")
            ),
        )
    return quiet_from, quiet_until


def save_preferences(session: Session, clock: Clock, user: User, form: dict) -> Settings:
    """Store a user's choices (``form``: language, email/webhook/digest as default|on|off, the
    addresses, quiet hours HH:MM or empty for the department's). Audited; nothing is written
    when a field is wrong (ValidationFailed naming it)."""
    checks = Checks()
    lang = str(form.get("language") or "zh")
    if lang not in LANGUAGES:
        checks.add(
            "language",
            Message(N_("Language of my notifications")),
            Message(N_("must be Chinese or English")),
        )
    email = _choice(checks, "email", form.get("email"), Message(N_("E-mail")))
    webhook = _choice(checks, "webhook", form.get("webhook"), Message(N_("Messaging platform")))
    digest = _choice(checks, "digest", form.get("digest"), Message(N_("Daily digest")))
    address = str(form.get("email_address") or "").strip()
    checks.text(
        "email_address",
        address,
        Message(N_("E-mail address")),
        max_length=column_length(NotificationPreference.email_address),
    )
    if address and not EMAIL.match(address):
        checks.add(
            "email_address",
            Message(N_("E-mail address")),
            Message(N_("must be an e-mail address such as name@example.gov.cn")),
        )
    messaging = str(form.get("messaging_id") or "").strip()
    checks.text(
        "messaging_id",
        messaging,
        Message(N_("Account on the messaging platform")),
        max_length=column_length(NotificationPreference.messaging_id),
    )
    quiet_from, quiet_until = _quiet_hours(checks, form)
    checks.done(Message(N_("The notification settings were not saved")))
    row = session.get(NotificationPreference, user.id)
    before = _snapshot(row)
    if row is None:
        row = NotificationPreference(user_id=user.id)
        session.add(row)
    row.language, row.email, row.webhook, row.digest = lang, email, webhook, digest
    row.email_address, row.messaging_id = address, messaging
    row.quiet_from, row.quiet_until = (quiet_from or None), (quiet_until or None)
    audit.record(
        session,
        clock.now(),
        "notification_preferences_saved",
        actor_id=user.id,
        object_type="user",
        object_ref=user.username,
        before=before,
        after=_snapshot(row),
    )
    session.flush()
    return settings_of(session, user)


def set_language(session: Session, clock: Clock, user: User, lang: str) -> None:
    """The language a user chose for the pages becomes that of their messages too."""
    lang = "en" if lang == "en" else "zh"
    row = session.get(NotificationPreference, user.id)
    if row is not None and row.language == lang:
        return
    if row is None:
        row = NotificationPreference(user_id=user.id)
        session.add(row)
    before = row.language
    row.language = lang
    audit.record(
        session,
        clock.now(),
        "notification_language_set",
        actor_id=user.id,
        object_type="user",
        object_ref=user.username,
        before=before,
        after=lang,
    )
    session.flush()


def save_department_defaults(
    session: Session, clock: Clock, user: User, form: dict
) -> DepartmentDefaults:
    """The department's leader sets what its officials get unless they choose otherwise."""
    if "leader" not in (user.job_roles or []):
        raise Forbidden(Message(N_("Only the department's leader sets its defaults.")))
    checks = Checks()
    quiet_from, quiet_until = _quiet_hours(checks, form)
    checks.done(Message(N_("The department's defaults were not saved")))
    row = session.get(DepartmentNotificationDefaults, user.department_id)
    before = _snapshot(row)
    if row is None:
        row = DepartmentNotificationDefaults(department_id=user.department_id)
        session.add(row)
    row.email = _flag(form.get("email"))
    row.webhook = _flag(form.get("webhook"))
    row.digest = _flag(form.get("digest"))
    row.quiet_from, row.quiet_until = quiet_from, quiet_until
    audit.record(
        session,
        clock.now(),
        "notification_defaults_saved",
        actor_id=user.id,
        object_type="department",
        object_ref=user.department.slug,
        before=before,
        after=_snapshot(row),
    )
    session.flush()
    return _department_defaults(session, user.department_id)


def _flag(value: object) -> bool:
    return str(value or "").lower() in ("1", "on", "true", "yes")


def _snapshot(row: object | None) -> dict | None:
    if row is None:
        return None
    names = ("language", "email", "webhook", "digest", "email_address", "messaging_id")
    out = {n: getattr(row, n) for n in names if hasattr(row, n)}
    out["quiet"] = f"{getattr(row, 'quiet_from', '') or ''}-{getattr(row, 'quiet_until', '') or ''}"
    return out
