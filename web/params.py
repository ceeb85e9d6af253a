"""Numbers read from query strings, forms and addresses: ASCII digits within the database's
integer range, anything else is treated as absent (never a 500)."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

from engine.inputs import INT32

MAX_ID = INT32  # INTEGER on PostgreSQL


class IdConverter(IntegerConverter):
    """``<int:...>`` in an address: 1 to 2**31 - 1, so /tasks/99999999999 is a 404 like any
    unknown task, not a database error (registered as the app's ``int`` converter)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def number(value: str | None) -> int | None:
    """``value`` as a positive integer, or None when it is not one (e.g. "", "²", "9" * 30)."""
    if value and value.isascii() and value.isdecimal() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None
