"""E-mail over SMTP with the standard library: STARTTLS or implicit TLS, optional AUTH, a
timeout on connecting and on every reply (a hanging server fails the attempt, never the worker).

The delivery's key is the local part of the ``Message-ID`` (percent-encoded) and the value of an
``X-Govshare-Delivery`` header, so that a mail system or a reader's filter can drop a second copy
(transport is at-least-once: see :mod:`notifications.delivery`).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

from notifications.outgoing import DeliveryFailed, Outgoing
from notifications.settings import SmtpSettings

KEY_HEADER = "X-Govshare-Delivery"


def message_id(key: str, sender: str) -> str:
    """``<key@domain>`` with the key percent-encoded into valid Message-ID characters."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "govshare.invalid"
    return f"<{quote(key, safe='')}@{domain}>"


def compose(settings: SmtpSettings, out: Outgoing) -> EmailMessage:
    """The e-mail for ``out``: plain text, UTF-8, the link below the text."""
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = out.address or ""
    msg["Subject"] = out.subject
    msg["Date"] = format_datetime(out.created_at)
    msg["Message-ID"] = message_id(out.key, settings.sender)
    msg[KEY_HEADER] = out.key
    msg["X-Govshare-Sender"] = out.sender
    if out.urgent:
        msg["Importance"] = "high"
    body = out.text if not out.link else f"{out.text}\n\n{out.link}\n"
    msg.set_content(body, charset="utf-8")
    return msg


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file or None)


def send(settings: SmtpSettings, out: Outgoing) -> None:
    """Hand ``out`` to the SMTP server; raises :class:`DeliveryFailed` if it is not accepted."""
    msg = compose(settings, out)
    try:
        client: smtplib.SMTP
        if settings.tls:
            client = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout,
                context=_tls_context(settings),
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            client.ehlo()
            if settings.starttls and not settings.tls:
                client.starttls(context=_tls_context(settings))
                client.ehlo()
            if settings.username:
                client.login(settings.username, settings.password)
            refused = client.send_message(msg)
    except (OSError, smtplib.SMTPException) as err:  # socket.timeout is an OSError
        raise DeliveryFailed(f"SMTP {settings.host}:{settings.port}: {_describe(err)}") from err
    if refused:
        raise DeliveryFailed(f"SMTP refused {', '.join(refused)}")


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        raw = err.smtp_error
        detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        return f"{err.smtp_code} {detail}".strip()
    return f"{type(err).__name__}: {err}"
