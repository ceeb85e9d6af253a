"""What a channel sends: a plain snapshot of one claimed delivery, taken in the claiming
transaction so that sending needs no database session (and holds no row lock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class DeliveryFailed(Exception):
    """The channel did not accept the message; the text is kept as the delivery's last error."""


@dataclass(frozen=True)
class Outgoing:
    id: int
    key: str
    channel: str
    address: str | None  # e-mail address or webhook URL (None: the configured URL)
    subject: str
    text: str
    link: str | None  # absolute
    data: dict[str, Any]
    urgent: bool
    created_at: datetime
    attempt: int  # 1 for the first attempt
    sender: str  # which worker sends it: "host/pid"
