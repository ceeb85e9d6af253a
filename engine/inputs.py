"""The input boundary: every value that enters from outside is checked here before it is written.

Forms, API bodies, CSV/JSON imports, query strings, file names and CLI arguments all reach the
engine's services, and the services check what they receive with these functions before they
write anything. A value that fails is refused with :class:`~engine.errors.ValidationFailed`,
whose message names the field by its label and whose details name the field and the problem
(``{"field": name, "label": label, "message": problem}``), so web, API and CLI answer 4xx/exit 2.

What holds for every text (:func:`text_problem`): valid Unicode (a lone surrogate cannot be
stored in UTF-8), no NUL or other C0/C1 control character (tab and line breaks only in multi-line
fields), no Unicode noncharacter, a length within its column, and — where a value is required —
more than white space, zero-width and format characters. Integers lie in a declared range that
fits the column; dates lie in a plausible range (2000-01-01 to 2100-12-31 unless a field says
otherwise); a period ends on or after its start; codes that consist of digits have ASCII digits
(a full-width ``０`` is refused with a message, never silently folded). JSON is parsed with a
depth limit (:func:`parse_json`) and uploaded text must be UTF-8 (:func:`decode_text`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from engine.errors import FieldProblem, ValidationFailed
from engine.i18n import N_, Message

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
INT32 = 2**31 - 1  # INTEGER on PostgreSQL, and every id column
TEXT_CAP = 10_000  # characters of a Text column, a JSON string or a form field without a length
MAX_JSON_DEPTH = 32  # nesting of a JSON body or import: deep enough for any document we read
MAX_JSON_STRINGS = 100_000  # strings a JSON value may hold (checked while walking it)

_LINE_BREAKS = frozenset("\n\r\t")
_BLANK_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me"})
_BLANK_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # fillers drawn as nothing


def _unicode_problem(value: str) -> Message | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Message(N_("is not valid Unicode text (it holds a lone surrogate)"))
    return None


def _character_problem(value: str, multiline: bool) -> Message | None:
    for ch in value:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            if multiline and ch in _LINE_BREAKS:
                continue
            if ch == "\x00":
                return Message(N_("must not contain a NUL character"))
            if ch in _LINE_BREAKS:
                return Message(N_("must be a single line"))
            return Message(N_("must not contain control characters (U+%(code)04X)"), code=code)
        if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
            return Message(N_("must not contain Unicode noncharacters (U+%(code)04X)"), code=code)
    return None


def is_blank(value: str) -> bool:
    """Nothing a reader would see: white space, zero-width, format and control characters."""
    return all(
        ch.isspace() or ch in _BLANK_EXTRA or unicodedata.category(ch) in _BLANK_CATEGORIES
        for ch in value
    )


def text_problem(
    value: object,
    *,
    max_length: int | None = None,
    multiline: bool = False,
    required: bool = False,
) -> Message | None:
    """What is wrong with one text value, or None. ``None`` and "" are fine unless required."""
    if value is None or value == "":
        return Message(N_("is required")) if required else None
    if not isinstance(value, str):
        return Message(N_("must be text"))
    problem = _unicode_problem(value) or _character_problem(value, multiline)
    if problem is not None:
        return problem
    limit = max_length or TEXT_CAP
    if len(value) > limit:
        return Message(
            N_("is too long: %(n)s characters, at most %(max)s"), n=len(value), max=limit
        )
    if required and is_blank(value):
        return Message(N_("must not be empty"))
    return None


def storable(value: object, max_length: int = TEXT_CAP) -> bool:
    """A key a lookup may send to the database: a string that a row could hold. Anything else
    (a NUL, a lone surrogate, a number, 10 kB) matches no row, so callers answer "not found"
    without asking — PostgreSQL would refuse the query with an error."""
    return isinstance(value, str) and text_problem(value, max_length=max_length) is None


def column_length(attribute: Any) -> int | None:
    """The length of a ``String(n)`` model column (``Model.attr``), None for Text."""
    length = getattr(attribute.property.columns[0].type, "length", None)
    return int(length) if length else None


def strings_problem(value: object, *, multiline: bool = True, depth: int = 0) -> Message | None:
    """The first problem of any string (key or value) inside a JSON value, or None."""
    if depth > MAX_JSON_DEPTH:
        return Message(N_("is nested too deeply (at most %(max)s levels)"), max=MAX_JSON_DEPTH)
    if isinstance(value, str):
        return text_problem(value, multiline=multiline)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = strings_problem(key, multiline=False, depth=depth + 1) or strings_problem(
                item, multiline=multiline, depth=depth + 1
            )
            if problem is not None:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = strings_problem(item, multiline=multiline, depth=depth + 1)
            if problem is not None:
                return problem
    return None


def integer_problem(value: object, low: int = 1, high: int = INT32) -> Message | None:
    """What is wrong with an integer (an int, or a string of ASCII digits), or None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return Message(N_("must be a whole number"))
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,19}", value.strip(), re.ASCII):
        return Message(N_("must be a whole number"))
    if not low <= int(value) <= high:
        return Message(N_("must be between %(low)s and %(high)s"), low=low, high=high)
    return None


def day_problem(value: object, earliest: date = EARLIEST, latest: date = LATEST) -> Message | None:
    """What is wrong with a date (a ``date`` or ``YYYY-MM-DD``), or None."""
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value, re.ASCII):
        try:
            day = date.fromisoformat(value)
        except ValueError:  # written right, but no such day (2026-02-30, 2026-13-01)
            return Message(
                N_("is not a day of the calendar (%(value)s does not exist)"), value=value
            )
    else:
        return Message(N_("must be a date (YYYY-MM-DD)"))
    if not earliest <= day <= latest:
        return Message(
            N_("must lie between %(earliest)s and %(latest)s"),
            earliest=earliest.isoformat(),
            latest=latest.isoformat(),
        )
    return None


def day_filters(
    values: Mapping[str, tuple[object, Message]], what: Message | None = None
) -> dict[str, date | None]:
    """The date filters of a list, ``{name: (value, label)}``: empty (``""`` or None) is no
    filter, anything else must be a date (``date`` or ``YYYY-MM-DD``); one bad value refuses the
    whole list (:class:`ValidationFailed` naming each bad filter by its label), never silently
    ignored. Two filters are a range (from, until): an end before its start is refused too, since
    the empty list it gives would look like an answer. Returns the dates by name."""
    checks = Checks()
    out: dict[str, date | None] = {}
    for name, (value, label) in values.items():
        if value in (None, ""):
            out[name] = None
        elif checks.day(name, value, label):
            out[name] = value if isinstance(value, date) else date.fromisoformat(str(value))
    if len(values) == 2:
        (start, (_, start_label)), (end, (_, end_label)) = values.items()
        checks.in_order(end, end_label, out.get(start), out.get(end), start_label)
    checks.done(what)
    return out


def digits_problem(value: str) -> Message | None:
    """A number written with other digits than 0–9 (full-width ``０``, Arabic-Indic ``٠``...)."""
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        return Message(N_("must be written with the digits 0–9 (not full-width or other digits)"))
    return None


def check_year(value: object, label: Message | str | None = None) -> int:
    """A report or evaluation year: a whole number in the years of :data:`EARLIEST`–:data:`LATEST`."""
    checks = Checks()
    checks.integer("year", value, label or Message(N_("Year")), EARLIEST.year, LATEST.year)
    checks.done()
    return int(value)  # type: ignore[call-overload]


class Checks:
    """Collects every problem of one input, then :meth:`done` refuses it naming each label.

    ``label`` is what the person sees beside the field (a :class:`Message` marked with ``N_``);
    ``field`` is the name forms and the API use.
    """

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def add(self, field: str, label: Message | str, problem: Message | None) -> bool:
        """Record ``problem`` (if any); True when the value passed."""
        if problem is None:
            return True
        self.problems.append({"field": field, "label": label, "message": problem})
        return False

    def in_order(
        self,
        field: str,
        label: Message | str,
        first: date | None,
        last: date | None,
        first_label: Message | str,
    ) -> bool:
        """The end of a date range (``field``, ``last``) is not before its start (``first``)."""
        if first is None or last is None or last >= first:
            return True
        return self.add(
            field, label, Message(N_("must not be before %(start)s"), start=first_label)
        )

    def text(
        self,
        field: str,
        value: object,
        label: Message | str,
        *,
        column: Any = None,
        max_length: int | None = None,
        multiline: bool = False,
        required: bool = False,
    ) -> bool:
        limit = max_length or (column_length(column) if column is not None else None)
        problem = text_problem(value, max_length=limit, multiline=multiline, required=required)
        return self.add(field, label, problem)

    def texts(
        self,
        field: str,
        values: object,
        label: Message | str,
        *,
        column: Any = None,
        max_length: int | None = None,
    ) -> bool:
        """A list of single-line texts (info items, departments), each required."""
        if not isinstance(values, list):
            return self.add(field, label, Message(N_("must be a list")))
        for value in values:
            if not self.text(field, value, label, column=column, max_length=max_length):
                return False
        return True

    def strings(self, field: str, value: object, label: Message | str) -> bool:
        return self.add(field, label, strings_problem(value))

    def integer(
        self, field: str, value: object, label: Message | str, low: int = 1, high: int = INT32
    ) -> bool:
        return self.add(field, label, integer_problem(value, low, high))

    def day(
        self,
        field: str,
        value: object,
        label: Message | str,
        earliest: date = EARLIEST,
        latest: date = LATEST,
    ) -> bool:
        return self.add(field, label, day_problem(value, earliest, latest))

    def period(self, end_field: str, start: object, end: object, label: Message | str) -> bool:
        """A period ends on or after its start (both already checked as dates)."""
        if day_problem(start) or day_problem(end):
            return True  # the dates' own problems are reported
        start_day = start if isinstance(start, date) else date.fromisoformat(str(start))
        end_day = end if isinstance(end, date) else date.fromisoformat(str(end))
        if end_day < start_day:
            return self.add(
                end_field, label, Message(N_("must not be before the start of the period"))
            )
        return True

    def done(self, what: Message | None = None) -> None:
        """Raise :class:`ValidationFailed` listing every problem, if there is one."""
        if self.problems:
            raise refusal(self.problems, what)


def refusal(problems: list[FieldProblem], what: Message | None = None) -> ValidationFailed:
    """The error for ``problems``: its message names each field by its label."""
    labels = list(dict.fromkeys(p.get("label") or p["field"] for p in problems))
    first = problems[0]
    if len(problems) == 1:
        label = first.get("label") or first["field"]
        message = Message(N_("%(label)s %(problem)s"), label=label, problem=first["message"])
    else:
        message = Message(N_("Please correct: %(fields)s"), fields=labels)
    if what is not None:
        message = Message(N_("%(what)s: %(problem)s"), what=what, problem=message)
    return ValidationFailed(message, list(problems))


def require(field: str, value: object, label: Message | str, **kwargs: Any) -> None:
    """Check one text value now (see :meth:`Checks.text`)."""
    checks = Checks()
    checks.text(field, value, label, **kwargs)
    checks.done()


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(raw: bytes, limit: int | None = None) -> int:
    """How deeply the arrays and objects of a JSON text nest, counted without parsing it (the
    brackets outside strings), up to the first level past ``limit``. Malformed text gives some
    number; the parser rejects it after."""
    depth = deepest = 0
    for byte in _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if limit is not None and deepest > limit:
                break
    return deepest


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str | bytes, label: Message | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON text as Python values, refusing what is not UTF-8, not JSON or nested too deeply
    (a 100,000-deep array would exhaust Python's recursion) — before the parser sees it."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    if isinstance(text, bytes):
        text = decode_text(text, label)
    problem: Message | None = None
    if nesting_depth(raw, max_depth) > max_depth:
        problem = Message(N_("is nested too deeply (at most %(max)s levels)"), max=max_depth)
    else:
        try:
            return json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            problem = Message(N_("is not valid JSON: %(err)s"), err=str(exc)[:200])
    raise refusal([{"field": "(body)", "label": label, "message": problem}])


def decode_text(data: bytes, label: Message | str) -> str:
    """Uploaded bytes as text: UTF-8 (a byte-order mark is dropped), else a refusal naming it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Message(
            N_("is not UTF-8 text (byte %(at)s); save it as UTF-8 and try again"), at=exc.start
        )
        raise refusal([{"field": "(file)", "label": label, "message": problem}]) from exc
    if "\x00" in text:
        problem = Message(N_("is not a text file (it holds NUL bytes)"))
        raise refusal([{"field": "(file)", "label": label, "message": problem}])
    return text


def scrubbed(value: Any) -> Any:
    """A stored JSON value with what the boundary now refuses made harmless: NUL and lone
    surrogates become U+FFFD (for rows written before the boundary; migration 0015)."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return "".join(
            "\ufffd" if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value
        )
    if isinstance(value, dict):
        return {scrubbed(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value
