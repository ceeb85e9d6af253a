"""Import an organisation directory (issue 14) from CSV or JSON: a dry-run diff (added, changed,
removed) and an all-or-nothing apply.

Each row is a department: ``slug`` (its short name, the key), ``name``, ``name_en``,
``division`` (GB/T 2260 code) and ``duties`` (keys separated by ``;`` in CSV, a list in JSON).
A department in the file that the directory lacks is **added**; one whose name, division or
duties differ is **changed** (a new name is a rename with history, a new division a move);
an active department of a division the file lists that the file omits is **removed**, which
means deactivated, never deleted. Bad rows are reported by row number and field label, and
nothing is written. docs/administration.md (Directory) shows the format with an example.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.directory.admin import require_admin
from engine.directory.administration import (
    AUTHORITY,
    DIVISION_LABEL,
    DUTY_LABELS,
    EXCLUSIVE,
    NAME,
    NAME_EN,
    SLUG,
    SLUG_LABEL,
    create_department,
    department_or_404,
    duty_label,
    rename_department,
    snapshot,
)
from engine.directory.models import Department, Division, User
from engine.errors import FieldProblem, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import decode_text, text_problem
from engine.reorganisation import held_work, move

MAX_ROWS = 5000
FILE_LABEL = Message(N_("Directory file"))
DUTIES_LABEL = Message(N_("Duties"))
COLUMNS = ("slug", "name", "name_en", "division", "duties")


@dataclass(frozen=True)
class Change:
    field: Message
    before: str | Message | list
    after: str | Message | list


@dataclass(frozen=True)
class DiffRow:
    slug: str
    label: Label
    division: str
    division_label: Label
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class ImportDiff:
    added: list[DiffRow]
    changed: list[DiffRow]
    removed: list[DiffRow]
    unchanged: int
    applied: bool


@dataclass
class _Row:
    number: int
    slug: str
    name: str
    name_en: str
    division: str
    duties: list[str]


def _rows(text: str, fmt: str) -> list[tuple[int, dict]]:
    """(row number, values) of the file: CSV rows count from 2 (the header is row 1)."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise _refuse(0, "(file)", FILE_LABEL, Message(N_("is not valid JSON"))) from exc
        items = data.get("departments") if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise _refuse(0, "(file)", FILE_LABEL, Message(N_("must hold a list of departments")))
        return list(enumerate(items, start=1))
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or [])]
    if missing:
        raise _refuse(
            1,
            "(file)",
            FILE_LABEL,
            Message(N_("lacks the columns %(columns)s"), columns=", ".join(missing)),
        )
    out = []
    for number, values in enumerate(reader, start=2):
        duties = values.get("duties") or ""
        values["duties"] = [d.strip() for d in duties.split(";") if d.strip()]
        out.append((number, values))
    return out


def _refuse(number: int, name: str, label: Message, problem: Message) -> ValidationFailed:
    where = Message(N_("Row %(n)s: %(label)s"), n=number, label=label) if number else label
    return ValidationFailed(
        Message(N_("%(label)s %(problem)s"), label=where, problem=problem),
        [{"field": name, "label": where, "message": problem}],
    )


def parse(text: str, fmt: str) -> tuple[list[_Row], list[FieldProblem]]:
    rows: list[_Row] = []
    problems: list[FieldProblem] = []
    raw = _rows(text, fmt)
    if len(raw) > MAX_ROWS:
        raise _refuse(0, "(file)", FILE_LABEL, Message(N_("has more than 5000 rows")))
    seen: set[str] = set()
    for number, values in raw:

        def bad(name: str, label: Message, problem: Message, n: int = number) -> None:
            where = Message(N_("Row %(n)s: %(label)s"), n=n, label=label)
            problems.append({"field": name, "label": where, "message": problem})

        texts = {}
        for name, label, limit in (
            ("slug", SLUG_LABEL, 60),
            ("name", NAME, 200),
            ("name_en", NAME_EN, 200),
            ("division", DIVISION_LABEL, 6),
        ):
            value = values.get(name)
            value = value.strip() if isinstance(value, str) else value
            problem = text_problem(value, max_length=limit, required=True)
            if problem is not None:
                bad(name, label, problem)
            texts[name] = value if isinstance(value, str) else ""
        slug = texts["slug"]
        if slug and not SLUG.fullmatch(slug):
            bad(
                "slug",
                SLUG_LABEL,
                Message(N_("use 3 to 60 lower-case letters, digits and hyphens")),
            )
        elif slug in seen:
            bad("slug", SLUG_LABEL, Message(N_("appears in an earlier row too")))
        seen.add(slug)
        duties = values.get("duties") or []
        if not isinstance(duties, list) or not all(isinstance(d, str) for d in duties):
            bad("duties", DUTIES_LABEL, Message(N_("must be a list of duties")))
            duties = []
        unknown = [d for d in duties if d not in DUTY_LABELS]
        if unknown:
            bad("duties", DUTIES_LABEL, Message(N_("holds a duty the directory does not know")))
        rows.append(
            _Row(
                number,
                slug,
                texts["name"],
                texts["name_en"],
                texts["division"],
                list(dict.fromkeys(duties)),
            )
        )
    return rows, problems


class _Differ:
    """Compares the file's rows with the directory, collecting each row's problems."""

    def __init__(self, session: Session, actor: User | None, problems: list[FieldProblem]) -> None:
        self.session = session
        self.problems = problems
        scope = require_admin(session, actor)
        sub = scope.divisions()
        self.covered = None if sub is None else set(session.scalars(sub))

    def covers(self, code: str) -> bool:
        return self.covered is None or code in self.covered

    def bad(self, row: _Row, name: str, label: Message, problem: Message) -> None:
        where = Message(N_("Row %(n)s: %(label)s"), n=row.number, label=label)
        self.problems.append({"field": name, "label": where, "message": problem})

    def place(self, row: _Row, divisions: dict[str, Division]) -> Division | None:
        place = divisions.get(row.division)
        if place is None:
            self.bad(
                row, "division", DIVISION_LABEL, Message(N_("is not a division of the directory"))
            )
        elif not self.covers(place.code):
            self.bad(
                row, "division", DIVISION_LABEL, Message(N_("is outside the levels you administer"))
            )
            return None
        return place

    def compare(self, row: _Row, dept: Department, place: Division) -> list[Change]:
        if not self.covers(dept.division_code):
            self.bad(
                row,
                "slug",
                SLUG_LABEL,
                Message(N_("is a department outside the levels you administer")),
            )
            return []
        if (AUTHORITY in row.duties) != bool(dept.is_authority):
            self.bad(
                row,
                "duties",
                DUTIES_LABEL,
                Message(N_("changes the authority: designate it on the authority page")),
            )
        changes = []
        if (row.name, row.name_en) != (dept.name, dept.name_en):
            changes.append(Change(Message(N_("Name")), dept.label, Label(row.name, row.name_en)))
        if row.division != dept.division_code:
            if dept.is_authority:
                self.bad(
                    row, "division", DIVISION_LABEL, Message(N_("cannot change for an authority"))
                )
            changes.append(Change(DIVISION_LABEL, dept.division.label, place.label))
        if sorted(row.duties) != sorted(dept.duties or []):
            changes.append(
                Change(
                    DUTIES_LABEL,
                    [duty_label(d) for d in dept.duties or []],
                    [duty_label(d) for d in row.duties],
                )
            )
        if not dept.active:
            changes.append(Change(Message(N_("Active")), Message(N_("no")), Message(N_("yes"))))
        return changes

    def removed(self, clock: Clock, codes: list[str], kept: list[str]) -> list[Department]:
        """The active departments of the file's divisions it omits; each must hold nothing."""
        gone = list(
            self.session.scalars(
                select(Department)
                .where(
                    Department.division_code.in_([c for c in codes if self.covers(c)]),
                    Department.active.is_(True),
                    Department.slug.not_in(kept),
                )
                .order_by(Department.id)
            )
        )
        for dept in gone:
            if dept.is_authority or held_work(self.session, clock, dept):
                self.problems.append(
                    {
                        "field": "(file)",
                        "label": FILE_LABEL,
                        "message": Message(
                            N_(
                                "omits %(dept)s, which is an authority or holds officials or "
                                "work: merge it instead"
                            ),
                            dept=dept.label,
                        ),
                    }
                )
        return gone

    def seats(self, rows: list[_Row], gone: list[Department]) -> None:
        """A seat held by one department has at most one holder once the file is applied."""
        holders: dict[str, set[str]] = {}
        for d in self.session.scalars(select(Department).where(Department.active.is_(True))):
            for duty in d.duties or []:
                holders.setdefault(duty, set()).add(d.slug)
        for slugs in holders.values():
            slugs.difference_update({r.slug for r in rows} | {d.slug for d in gone})
        for row in rows:
            for duty in row.duties:
                holders.setdefault(duty, set()).add(row.slug)
        for duty, slugs in holders.items():
            if duty in EXCLUSIVE and len(slugs) > 1:
                self.problems.append(
                    {
                        "field": "duties",
                        "label": DUTIES_LABEL,
                        "message": Message(
                            N_("%(duty)s would be held by more than one department"),
                            duty=duty_label(duty),
                        ),
                    }
                )


def _diff(
    session: Session,
    clock: Clock,
    actor: User | None,
    rows: list[_Row],
    problems: list[FieldProblem],
) -> tuple[ImportDiff, dict[str, _Row], list[Department]]:
    differ = _Differ(session, actor, problems)
    divisions = {
        d.code: d
        for d in session.scalars(
            select(Division).where(Division.code.in_({r.division for r in rows}))
        )
    }
    existing = {
        d.slug: d
        for d in session.scalars(
            select(Department).where(Department.slug.in_({r.slug for r in rows}))
        )
    }
    added, changed = [], []
    unchanged = 0
    for row in rows:
        place = differ.place(row, divisions)
        dept = existing.get(row.slug)
        if place is None:
            continue
        if dept is None:
            if AUTHORITY in row.duties:
                differ.bad(
                    row,
                    "duties",
                    DUTIES_LABEL,
                    Message(N_("names the authority: designate it on the authority page")),
                )
            added.append(DiffRow(row.slug, Label(row.name, row.name_en), row.division, place.label))
        elif changes := differ.compare(row, dept, place):
            changed.append(DiffRow(row.slug, dept.label, row.division, place.label, changes))
        else:
            unchanged += 1
    by_slug = {r.slug: r for r in rows}
    gone = differ.removed(clock, list(divisions), list(by_slug))
    differ.seats(rows, gone)
    diff = ImportDiff(
        added=added,
        changed=changed,
        removed=[DiffRow(d.slug, d.label, d.division_code, d.division.label) for d in gone],
        unchanged=unchanged,
        applied=False,
    )
    return diff, by_slug, gone


def import_directory(
    session: Session,
    clock: Clock,
    actor: User | None,
    data: bytes,
    fmt: str,
    *,
    dry_run: bool = True,
    source: str = "",
) -> ImportDiff:
    """The diff of the file against the directory; unless ``dry_run``, apply all of it (in the
    caller's transaction: a problem anywhere refuses the whole file, nothing is written)."""
    require_admin(session, actor)
    if fmt not in ("csv", "json"):
        raise _refuse(0, "format", Message(N_("Format")), Message(N_("must be CSV or JSON")))
    if not data.strip():
        raise ValidationFailed(
            Message(N_("Choose a directory file or paste its content.")),
            [{"field": "file", "label": FILE_LABEL, "message": Message(N_("is required"))}],
        )
    text = decode_text(data, FILE_LABEL)
    rows, problems = parse(text, fmt)
    diff, by_slug, gone = _diff(session, clock, actor, rows, problems)
    if problems:
        raise ValidationFailed(
            Message(N_("The file has %(n)s problems; nothing was imported."), n=len(problems)),
            problems,
        )
    if dry_run:
        return diff
    reason = Message(N_("Directory import %(file)s"), file=source or "-").render()
    for entry in diff.added:
        row = by_slug[entry.slug]
        create_department(session, clock, actor, row.slug, row.name, row.name_en, row.division)
        _set_duties(session, clock, actor, department_or_404(session, row.slug), row.duties, reason)
    for entry in diff.changed:
        row = by_slug[entry.slug]
        dept = department_or_404(session, row.slug)
        if not dept.active:
            before = snapshot(dept)
            dept.active, dept.successor_id = True, None
            _audit(session, clock, actor, "department_reactivated", dept, before, reason)
        if (row.name, row.name_en) != (dept.name, dept.name_en):
            rename_department(session, clock, actor, row.slug, row.name, row.name_en, reason)
        if row.division != dept.division_code:
            move(session, clock, actor, row.slug, row.division, reason)
        _set_duties(session, clock, actor, dept, row.duties, reason)
    for dept in gone:
        before = snapshot(dept)
        dept.active = False
        _audit(session, clock, actor, "department_deactivated", dept, before, reason)
    session.flush()
    return ImportDiff(diff.added, diff.changed, diff.removed, diff.unchanged, True)


def _set_duties(
    session: Session,
    clock: Clock,
    actor: User | None,
    dept: Department,
    duties: list[str],
    reason: str,
) -> None:
    if sorted(duties) == sorted(dept.duties or []):
        return
    before = snapshot(dept)
    dept.duties = list(duties)
    _audit(session, clock, actor, "department_duties_changed", dept, before, reason)


def _audit(
    session: Session,
    clock: Clock,
    actor: User | None,
    kind: str,
    dept: Department,
    before: dict,
    reason: str,
) -> None:
    audit.record(
        session,
        clock.now(),
        kind,
        actor_id=actor.id if actor else None,
        object_type="department",
        object_ref=dept.slug,
        before=before,
        after=snapshot(dept),
        reason=reason,
    )
