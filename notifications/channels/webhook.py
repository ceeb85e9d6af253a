"""The outgoing webhook: a JSON POST signed with HMAC-SHA256, for messaging gateways
(政务钉钉, 企业微信 and the like).

Headers:

* ``X-Govshare-Timestamp``: the sending time in Unix seconds;
* ``X-Govshare-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the shared secret, of
  ``<timestamp>.`` followed by the raw body bytes. Signing the timestamp lets a receiver refuse
  a replayed request older than a few minutes (:func:`verify` allows 300 seconds);
* ``Idempotency-Key``: the delivery's key; a receiver that remembers keys sees each message once.

Any 2xx answer is success; anything else (401 for a bad signature, 5xx, a timeout, a refused
connection) fails the attempt and the worker retries later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from notifications.outgoing import DeliveryFailed, Outgoing
from notifications.settings import WebhookSettings

SIGNATURE_HEADER = "X-Govshare-Signature"
TIMESTAMP_HEADER = "X-Govshare-Timestamp"
KEY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect fails the attempt: urllib would repeat a POST as a GET without its body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def body(out: Outgoing) -> bytes:
    """The JSON document posted for ``out`` (UTF-8, Chinese kept readable)."""
    document: dict[str, Any] = {
        "idempotency_key": out.key,
        "subject": out.subject,
        "text": out.text,
        "link": out.link,
        "urgent": out.urgent,
        "created_at": out.created_at.isoformat(),
        "attempt": out.attempt,
        "message": out.data,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def sign(secret: str, timestamp: int, raw: bytes) -> str:
    """The value of the signature header for ``raw`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, raw: bytes, signature: str, now: float) -> bool:
    """What a receiver checks: a fresh timestamp and a signature made with ``secret``."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, sent, raw), signature)


def post(settings: WebhookSettings, out: Outgoing, timestamp: int) -> None:
    """POST ``out`` to its URL (or the configured one); raises :class:`DeliveryFailed` unless
    the receiver answers 2xx within the timeout."""
    url = out.address or settings.url
    if not url.startswith(("https://", "http://")):
        raise DeliveryFailed(f"webhook URL {url!r} is not http(s)")
    raw = body(out)
    request = urllib.request.Request(
        url,
        data=raw,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "govshare-webhook/1",
            KEY_HEADER: out.key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(settings.secret, timestamp, raw),
            "X-Govshare-Sender": out.sender,
        },
    )
    try:
        with _OPENER.open(request, timeout=settings.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        raise DeliveryFailed(f"webhook {url}: HTTP {err.code} {err.reason}") from err
    except (OSError, ValueError) as err:  # URLError, timeouts, refused connections
        raise DeliveryFailed(f"webhook {url}: {type(err).__name__}: {err}") from err
    if not 200 <= status < 300:
        raise DeliveryFailed(f"webhook {url}: HTTP {status}")
