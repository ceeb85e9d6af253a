"""CSV files for spreadsheets, safe to open: every CSV export of the engine writes through here.

A spreadsheet (Excel, WPS, LibreOffice) runs a cell that begins with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return as a formula, so a catalog entry named ``=HYPERLINK("http://…")`` would
become a live link (or worse) in the coordinator's copy of the catalog. Following OWASP's
CSV-injection guidance, such a text cell is written with a leading ``'``, which the spreadsheet
shows and never runs.

Decisions the callers rely on:

* Only text is neutralised. A value that is a number in Python (``int``, ``float``, ``Decimal``;
  ``bool`` is written as ``True``/``False``) stays a number, negative ones included: ``-3`` is
  no formula and a report's figures must stay summable. Text that merely looks like a number
  (``"-3"``, ``"+1"``) is text a person typed and is neutralised like any other.
* The mark is reversible: text that already begins with ``'`` followed (after any further
  quotes) by one of those characters gets one more ``'``, so :func:`read_cell` gives back exactly
  what was exported. The catalog's CSV import reads its own export this way (round trip).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MARK = "'"
_MARKED = re.compile(r"'+[=+\-@\t\r]")
_NEEDS_MARK = re.compile(r"'*[=+\-@\t\r]")


def cell(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet will run as a formula (see the module's rules)."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    text = str(value)
    return MARK + text if _NEEDS_MARK.match(text) else text


def read_cell(text: str) -> str:
    """The value :func:`cell` wrote as ``text`` (strips the protecting quote where it was added)."""
    return text[1:] if _MARKED.match(text) else text


class SafeWriter:
    """``csv.writer`` whose rows pass through :func:`cell`."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])


class SafeDictWriter:
    """``csv.DictWriter`` whose values pass through :func:`cell`."""

    def __init__(self, out: TextIO, fieldnames: list[str]) -> None:
        self._writer = csv.DictWriter(out, fieldnames=fieldnames)

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: cell(v) for k, v in row.items()})


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """``rows`` as CSV text through :class:`SafeWriter`: one piece of a streamed export."""
    out = io.StringIO()
    writer = SafeWriter(out)
    for row in rows:
        writer.writerow(row)
    return out.getvalue()
