"""Administering rule sets (issue 14, item 8): drafts, edits, publishing, import.

Only the system administrator (or the operator at the command line, ``actor=None``). A new
version starts as a draft copied from the latest published one; its limits are edited; it is
published with an effective date that is not in the past and not before the effective date of
any published version, and from then on it never changes. Every action is audited
(``object_type`` ``rule_set``, ``object_ref`` ``v<version>``).

The checks on a limit: 1 to 365 working days; a limit the 2018 measures set (``statutory`` in
:data:`engine.rules.LIMITS`) may be shortened, but lengthened beyond the measures only on a basis
naming an article of the national 政务数据共享条例 (art. 24 of the measures: national rules
prevail where they differ); the annual report's due date is a month and day (MM-DD).
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import SHANGHAI, Clock
from engine.db import is_postgres
from engine.directory.admin import require_system_admin
from engine.directory.models import User
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.i18n import N_, Message
from engine.inputs import Checks, parse_json
from engine.rules import (
    ANNUAL_REPORT,
    LIMITS,
    NATIONAL_ARTICLE,
    RuleSetView,
    by_version,
    in_force,
    view_of,
)
from engine.rules.models import RuleLimit, RuleSet

PAGE_SIZE = 20
NAME_LABEL = N_("Name")
BASIS_LABEL = N_("Basis and notes")
EFFECTIVE_LABEL = N_("Effective from")
MONTH_DAY = re.compile(r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])", re.ASCII)


def days_field(name: str) -> str:
    return f"days_{name}"


def article_field(name: str) -> str:
    return f"article_{name}"


def _ref(version: int) -> str:
    return f"v{version}"


def rule_sets(session: Session, actor: User | None, page: int = 1) -> tuple[list[RuleSetView], int]:
    """A page of versions, newest first, and the number of pages."""
    require_system_admin(actor)
    page = max(1, page)
    total = session.scalar(select(func.count()).select_from(RuleSet)) or 0
    rows = session.scalars(
        select(RuleSet)
        .order_by(RuleSet.version.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return [view_of(r) for r in rows], max(1, -(-total // PAGE_SIZE))


def rule_set(session: Session, actor: User | None, version: int) -> RuleSetView:
    require_system_admin(actor)
    return by_version(session, version)


def _row(session: Session, version: int, lock: bool = False) -> RuleSet:
    stmt = (
        select(RuleSet).where(RuleSet.version == version).execution_options(populate_existing=True)
    )
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(Message(N_("No rule set version %(v)s."), v=version))
    return row


def create_draft(session: Session, clock: Clock, actor: User | None) -> RuleSetView:
    """A new version, a draft copied from the latest published one (one draft at a time)."""
    require_system_admin(actor)
    draft = session.scalar(select(RuleSet.version).where(RuleSet.state == "draft"))
    if draft is not None:
        raise Conflict(
            Message(N_("Version %(v)s is a draft already: edit or publish it first."), v=draft)
        )
    source = session.scalar(
        select(RuleSet).where(RuleSet.state == "published").order_by(RuleSet.version.desc())
    )
    if source is None:
        raise NotFound(Message(N_("No published rule set to copy.")))
    number = (session.scalar(select(func.max(RuleSet.version))) or 0) + 1
    row = RuleSet(
        version=number,
        name=source.name,
        basis=source.basis,
        state="draft",
        created_by_id=actor.id if actor else None,
        created_at=clock.now(),
        limits=[
            RuleLimit(
                name=limit.name,
                days=limit.days,
                month_day=limit.month_day,
                article=limit.article,
                statutory=limit.statutory,
            )
            for limit in source.limits
        ],
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            Message(N_("Someone else created version %(v)s at the same moment."), v=number)
        ) from None
    audit.record(
        session,
        clock.now(),
        "rule_set_drafted",
        actor_id=actor.id if actor else None,
        object_type="rule_set",
        object_ref=_ref(number),
        copied_from=source.version,
    )
    return view_of(row)


def _limit_problems(checks: Checks, name: str, raw_days: object, article: str) -> int | str | None:
    """Check one limit's entry; returns the value (days, or MM-DD) when it passes."""
    base = LIMITS[name]
    label = Message(N_("%(step)s: limit"), step=Message(base.step))
    article_label = Message(N_("%(step)s: article"), step=Message(base.step))
    if not checks.text(article_field(name), article, article_label, max_length=200):
        return None
    if name == ANNUAL_REPORT:
        value = str(raw_days or "").strip()
        if not MONTH_DAY.fullmatch(value) or _bad_day(value):
            checks.add(
                days_field(name), label, Message(N_("must be a month and day (MM-DD), e.g. 01-31"))
            )
            return None
        return value
    if not checks.integer(days_field(name), raw_days, label, 1, 365):
        return None
    days = int(raw_days)  # type: ignore[call-overload]
    if base.statutory and days > base.days and not NATIONAL_ARTICLE.search(article):
        checks.add(
            article_field(name),
            article_label,
            Message(
                N_(
                    "%(article)s sets %(n)s working days: a longer limit needs a basis naming"
                    " the article of the national regulation that prevails"
                    " (e.g. 《政务数据共享条例》第十五条)"
                ),
                article=base.article,
                n=base.days,
            ),
        )
        return None
    return days


def _bad_day(month_day: str) -> bool:
    month, day = (int(x) for x in month_day.split("-"))
    try:
        date(2001, month, day)  # not a leap year: every year has the day
    except ValueError:
        return True
    return False


def update_draft(
    session: Session, clock: Clock, actor: User | None, version: int, form: dict
) -> RuleSetView:
    """Save a draft's name, basis and limits from ``form`` (``name``, ``basis``,
    ``days_<limit>``, ``article_<limit>``; a limit left out keeps its value). Nothing is written
    if anything is wrong; the refusal names each field by its label."""
    require_system_admin(actor)
    row = _row(session, version, lock=True)
    if row.state != "draft":
        raise Conflict(
            Message(
                N_("Version %(v)s is published: it never changes. Create a new version."), v=version
            )
        )
    checks = Checks()
    name = form.get("name", row.name)
    basis = form.get("basis", row.basis)
    checks.text("name", name, Message(NAME_LABEL), required=True, max_length=200)
    checks.text("basis", basis, Message(BASIS_LABEL), multiline=True, max_length=4000)
    unknown = [k for k in form if k not in ("name", "basis") and not _known_field(k)]
    if unknown:
        checks.add(unknown[0], unknown[0], Message(N_("is not a limit of a rule set")))
    changes: dict[str, tuple[dict, dict]] = {}
    by_name = {limit.name: limit for limit in row.limits}
    values: dict[str, tuple[int | str, str]] = {}
    for limit_name, limit in by_name.items():
        if limit_name not in LIMITS:
            continue
        current = limit.month_day if limit_name == ANNUAL_REPORT else limit.days
        raw = form.get(days_field(limit_name), current)
        article = str(form.get(article_field(limit_name), limit.article) or "").strip()
        value = _limit_problems(checks, limit_name, raw, article)
        if value is not None:
            values[limit_name] = (value, article)
    checks.done(Message(N_("The rule set was not saved")))
    for limit_name, (value, article) in values.items():
        limit = by_name[limit_name]
        before = {
            "value": limit.month_day if limit_name == ANNUAL_REPORT else limit.days,
            "article": limit.article,
        }
        after = {"value": value, "article": article}
        if before != after:
            changes[limit_name] = (before, after)
        if limit_name == ANNUAL_REPORT:
            limit.month_day = str(value)
        else:
            limit.days = int(value)
        limit.article = article
        limit.statutory = bool(article)
    head_before = {"name": row.name, "basis": row.basis}
    row.name, row.basis = str(name).strip(), str(basis or "").strip()
    session.flush()
    audit.record(
        session,
        clock.now(),
        "rule_set_changed",
        actor_id=actor.id if actor else None,
        object_type="rule_set",
        object_ref=_ref(version),
        before={"set": head_before, **{k: b for k, (b, _a) in changes.items()}},
        after={
            "set": {"name": row.name, "basis": row.basis},
            **{k: a for k, (_b, a) in changes.items()},
        },
    )
    return view_of(row)


def _known_field(key: str) -> bool:
    for prefix in ("days_", "article_"):
        if key.startswith(prefix) and key[len(prefix) :] in LIMITS:
            return True
    return False


def publish(
    session: Session, clock: Clock, actor: User | None, version: int, effective_from: object
) -> RuleSetView:
    """Publish a draft from ``effective_from`` (YYYY-MM-DD): today or later, and not before a
    published version's effective date. Of two concurrent publications one wins."""
    require_system_admin(actor)
    row = _row(session, version, lock=True)
    if row.state != "draft":
        raise Conflict(Message(N_("Version %(v)s is published already."), v=version))
    today = clock.now().astimezone(SHANGHAI).date()
    latest = session.scalar(
        select(func.max(RuleSet.effective_from)).where(RuleSet.state == "published")
    )
    earliest = max(today, latest) if latest else today
    checks = Checks()
    label = Message(EFFECTIVE_LABEL)
    if checks.day("effective_from", effective_from, label):
        day = (
            effective_from
            if isinstance(effective_from, date)
            else date.fromisoformat(str(effective_from))
        )
        if day < today:
            checks.add(
                "effective_from",
                label,
                Message(
                    N_("must not be in the past (today is %(today)s)"), today=today.isoformat()
                ),
            )
        elif day < earliest:
            checks.add(
                "effective_from",
                label,
                Message(
                    N_("must not be before %(day)s, when a published version takes effect"),
                    day=earliest.isoformat(),
                ),
            )
    checks.done(Message(N_("The rule set was not published")))
    now = clock.now()
    done = session.execute(
        update(RuleSet)
        .where(RuleSet.id == row.id, RuleSet.state == "draft")
        .values(
            state="published",
            effective_from=day,
            published_at=now,
            published_by_id=actor.id if actor else None,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(Message(N_("Version %(v)s is published already."), v=version))
    audit.record(
        session,
        now,
        "rule_set_published",
        actor_id=actor.id if actor else None,
        object_type="rule_set",
        object_ref=_ref(version),
        effective_from=day.isoformat(),
    )
    session.expire(row)
    return by_version(session, version)


def import_rule_set(
    session: Session, clock: Clock, actor: User | None, text: str | bytes
) -> RuleSetView:
    """A new version from a JSON file, published at once (docs/administration.md)::

        {"name": "...", "basis": "...", "effective_from": "2027-01-01",
         "limits": {"reply": {"days": 8, "article": "《政务数据共享条例》第十五条"},
                    "annual_report": {"month_day": "01-31"}}}

    Limits left out keep the latest published version's values. All or nothing."""
    require_system_admin(actor)
    label = Message(N_("Rule set file"))
    data = parse_json(text, label)
    if not isinstance(data, dict) or not isinstance(data.get("limits", {}), dict):
        raise ValidationFailed(
            Message(
                N_("%(label)s must be a JSON object with name, effective_from and limits"),
                label=label,
            ),
            [{"field": "file", "label": label, "message": Message(N_("is not a rule set"))}],
        )
    form: dict[str, object] = {}
    for key in ("name", "basis"):
        if key in data:
            form[key] = data[key]
    for name, entry in data.get("limits", {}).items():
        if name not in LIMITS or not isinstance(entry, dict):
            raise ValidationFailed(
                Message(N_("%(name)s is not a limit of a rule set"), name=str(name)),
                [
                    {
                        "field": str(name),
                        "label": str(name),
                        "message": Message(N_("is not a limit of a rule set")),
                    }
                ],
            )
        value = entry.get("month_day") if name == ANNUAL_REPORT else entry.get("days")
        if value is not None:
            form[days_field(name)] = value
        if "article" in entry:
            form[article_field(name)] = entry["article"]
    draft = create_draft(session, clock, actor)
    update_draft(session, clock, actor, draft.version, form)
    return publish(session, clock, actor, draft.version, data.get("effective_from"))


def in_force_now(session: Session, clock: Clock) -> int:
    """The version in force today (the list marks it)."""
    return in_force(session, clock.now()).version
