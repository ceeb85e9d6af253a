"""The external copies of a notification: e-mail and the messaging webhook, rendered in the
recipient's language and handed to the delivery queue (``notifications.delivery``), which sends
them with retries and dead letters. In-app needs nothing: the notification row is the message.

The delivery key ``n<notification id>:<channel>`` makes each copy exactly once. Quiet hours hold
a copy until they end (``not_before``), except on the 催办 and 督办 rungs.
"""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy.orm import Session

from engine.calendar import WorkingCalendar
from engine.clock import Clock
from engine.directory.models import User
from notifications import delivery
from notifications.kinds import is_urgent
from notifications.models import Notification
from notifications.preferences import settings_of
from notifications.render import Rendered, context, render


def base_url() -> str:
    """Where the pages are, for links in e-mail and messages (``GOVSHARE_BASE_URL``)."""
    return os.environ.get("GOVSHARE_BASE_URL", "http://127.0.0.1:5000").rstrip("/")


def rendered_for(
    row: Notification,
    lang: str,
    now: datetime,
    calendar: WorkingCalendar,
    base: str | None = "",
) -> Rendered:
    """A notification's subject and text in ``lang``, its link made absolute with ``base``
    (``base=None``: without the link line, for the in-app list, whose subject is the link)."""
    ctx = context(
        lang,
        row.payload or {},
        key=row.business_key,
        due_at=row.due_at,
        url=f"{base}{row.link}" if row.link and base is not None else "",
        now=now,
        calendar=calendar,
    )
    return render(row.kind, lang, ctx)


def send_external(
    session: Session, clock: Clock, calendar: WorkingCalendar, user: User, row: Notification
) -> int:
    """Queue the e-mail and webhook copies the user's settings ask for; returns how many."""
    settings = settings_of(session, user)
    targets = [("email", settings.email_to), ("webhook", settings.webhook_to)]
    targets = [(channel, address) for channel, address in targets if address]
    if not targets:
        return 0
    now = clock.now()
    message = rendered_for(row, settings.language, now, calendar, base_url())
    urgent = is_urgent(row.kind)
    hold = None if urgent else settings.quiet.hold_until(now)
    queued = 0
    for channel, address in targets:
        queued += bool(
            delivery.enqueue(
                session,
                key=f"n{row.id}:{channel}",
                channel=channel,
                user_id=user.id,
                address=address,
                subject=message.subject,
                text=message.text,
                link=f"{base_url()}{row.link}",
                data={"kind": row.kind, "business_key": row.business_key},
                urgent=urgent,
                not_before=hold,
                now=now,
            )
        )
    return queued
