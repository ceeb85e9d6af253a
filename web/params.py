"""Numbers read from query strings and forms: ASCII digits within the database's integer range,
anything else is treated as absent (never a 500)."""

from __future__ import annotations

MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL


def number(value: str | None) -> int | None:
    """``value`` as a positive integer, or None when it is not one (e.g. "", "²", "9" * 30)."""
    if value and value.isascii() and value.isdecimal() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None
