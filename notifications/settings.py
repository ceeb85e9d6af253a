"""Delivery configuration, read from ``GOVSHARE_SMTP_*``, ``GOVSHARE_WEBHOOK_*`` and
``GOVSHARE_DELIVERY_*`` environment variables (docs/notification-delivery.md lists them).

Nothing is required: without ``GOVSHARE_SMTP_HOST`` e-mail is off, without
``GOVSHARE_WEBHOOK_URL`` the webhook is off (:func:`enabled_channels`), and deliveries queued for
a channel that is off wait, pending, until it is configured. A value that is set but wrong stops
the worker's delivery round with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import GovshareError
from engine.i18n import Message


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""  # empty: e-mail is off
    port: int = 587
    starttls: bool = True  # upgrade the connection with STARTTLS before logging in
    tls: bool = False  # implicit TLS from the first byte (port 465); excludes starttls
    username: str = ""  # empty: no AUTH
    password: str = ""
    sender: str = ""  # the From address, e.g. "政务数据共享 <noreply@example.gov.cn>"
    ca_file: str = ""  # a CA bundle for a server with a private certificate
    timeout: float = 20.0  # seconds for connecting and for each SMTP reply

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class WebhookSettings:
    url: str = ""  # empty: the webhook is off (unless a delivery names its own URL)
    secret: str = ""  # the shared secret of the HMAC-SHA256 signature
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class DeliverySettings:
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    base_url: str = ""  # the site's public address, for links given as paths
    max_attempts: int = 8  # after this many failed attempts a delivery is dead
    backoff_seconds: float = 60.0  # pause after the first failure; doubled after each next one
    backoff_max_seconds: float = 6 * 3600.0
    lease_seconds: float = 300.0  # how long a claimed batch is a worker's own
    batch: int = 20  # deliveries claimed per transaction (the lease batch)
    interval: float = 5.0  # seconds between delivery rounds when nothing is due

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1, 2, …)."""
        return min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)


def enabled_channels(settings: DeliverySettings) -> tuple[str, ...]:
    """The external channels configured on this installation."""
    return tuple(
        name
        for name, on in (("email", settings.smtp.enabled), ("webhook", settings.webhook.enabled))
        if on
    )


def from_environ(environ: Mapping[str, str] | None = None) -> DeliverySettings:
    """The delivery settings of this process's environment (or of ``environ``)."""
    env = os.environ if environ is None else environ

    def text(name: str) -> str:
        return env.get(name, "").strip()

    def number(name: str, default: float, low: float, high: float, whole: bool = False) -> float:
        raw = text(name)
        if not raw:
            return default
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise GovshareError(
                Message(
                    "%(name)s must be a number from %(low)s to %(high)s.",
                    name=name,
                    low=low,
                    high=high,
                )
            )
        return value

    def flag(name: str, default: bool) -> bool:
        raw = text(name).lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise GovshareError(Message("%(name)s must be 1 or 0.", name=name))

    tls = flag("GOVSHARE_SMTP_TLS", False)
    smtp = SmtpSettings(
        host=text("GOVSHARE_SMTP_HOST"),
        port=int(number("GOVSHARE_SMTP_PORT", 465 if tls else 587, 1, 65535, whole=True)),
        starttls=flag("GOVSHARE_SMTP_STARTTLS", not tls) and not tls,
        tls=tls,
        username=text("GOVSHARE_SMTP_USERNAME"),
        password=env.get("GOVSHARE_SMTP_PASSWORD", ""),
        sender=text("GOVSHARE_SMTP_SENDER"),
        ca_file=text("GOVSHARE_SMTP_CA_FILE"),
        timeout=number("GOVSHARE_SMTP_TIMEOUT", 20.0, 0.1, 600),
    )
    if smtp.enabled and not smtp.sender:
        raise GovshareError(
            Message("GOVSHARE_SMTP_SENDER (the From address) is required with GOVSHARE_SMTP_HOST.")
        )
    webhook = WebhookSettings(
        url=text("GOVSHARE_WEBHOOK_URL"),
        secret=env.get("GOVSHARE_WEBHOOK_SECRET", ""),
        timeout=number("GOVSHARE_WEBHOOK_TIMEOUT", 10.0, 0.1, 600),
    )
    if webhook.enabled and len(webhook.secret) < 16:
        raise GovshareError(
            Message(
                "GOVSHARE_WEBHOOK_SECRET (at least 16 characters) is required with "
                "GOVSHARE_WEBHOOK_URL."
            )
        )
    return DeliverySettings(
        smtp=smtp,
        webhook=webhook,
        base_url=text("GOVSHARE_BASE_URL").rstrip("/"),
        max_attempts=int(number("GOVSHARE_DELIVERY_MAX_ATTEMPTS", 8, 1, 100, whole=True)),
        backoff_seconds=number("GOVSHARE_DELIVERY_BACKOFF_SECONDS", 60.0, 0.01, 86400),
        backoff_max_seconds=number("GOVSHARE_DELIVERY_BACKOFF_MAX_SECONDS", 21600.0, 0.01, 604800),
        lease_seconds=number("GOVSHARE_DELIVERY_LEASE_SECONDS", 300.0, 0.1, 86400),
        batch=int(number("GOVSHARE_DELIVERY_BATCH", 20, 1, 1000, whole=True)),
        interval=number("GOVSHARE_DELIVERY_INTERVAL", 5.0, 0.01, 3600),
    )
