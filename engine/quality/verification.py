"""Suspected data errors (art. 13, 15): report, flag, serve on proof, and provider data quality.

A department holding a grant on a resource reports a record it believes wrong; the provider
verifies within ``verify_days`` working days (default 10 — the measures set no number). While the
report is open the record is flagged "under verification"; department systems ask the flag and
front desks register citizens served on valid proof, so nobody is sent away to correct data first.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine import audit, rules
from engine.calendar import load_calendar
from engine.catalog import Resource, resource_by_code, resources_by_id
from engine.clock import SHANGHAI, Clock
from engine.directory import Parties, departments, parties
from engine.directory.models import Department, User
from engine.errors import Forbidden, ValidationFailed
from engine.i18n import N_, Label, Message
from engine.inputs import Checks
from engine.quality.models import ServedOnProof, Verification
from engine.sharing.grants import holds_grant
from engine.workflow.deployment import active_definition
from engine.workflow.handlers import CheckContext, StepContext
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import start_instance
from engine.workflow.scripting import iso_now


def _check_may_read(session: Session, user: User, code: str) -> int:
    """Flags are for the provider and departments holding a grant on the resource (art. 15).
    Returns the resource's id."""
    resource = resource_by_code(session, code)
    if resource.provider_id != user.department_id and not holds_grant(
        session, user.department_id, resource.id
    ):
        raise Forbidden(
            Message(
                "Only departments holding a grant on %(code)s may read its verification flags.",
                code=resource.code,
            )
        )
    return resource.id


REPORT_FIELDS = {  # field -> (label, column, multi-line)
    "resource_code": (Message(N_("Resource code")), Resource.code, False),
    "record_id": (Message(N_("Record")), Verification.record_id, False),
    "field": (Message(N_("Field")), Verification.field, False),
    "value_seen": (Message(N_("Value seen")), None, True),
    "value_expected": (Message(N_("Value expected")), None, True),
    "note": (Message(N_("Note")), None, True),
}

SUMMARY_FIELDS = (
    "resource_code",
    "resource_name",
    "record_id",
    "field",
    "requester_name",
    "provider_name",
    "authority_name",
)


@dataclass(frozen=True)
class Reported:
    """The data-error case a report started."""

    id: int  # its process instance
    business_key: str


@dataclass(frozen=True)
class Served:
    """A citizen served on valid proof, as registered."""

    id: int
    verification_id: int
    at: datetime


def report_error(
    session: Session, clock: Clock, user: User, form: dict, verify_days: int | None = None
) -> Reported:
    """Start ``data_error_verification`` and flag the record; nothing is written if anything is wrong."""
    checks = Checks()
    for field, (label, column, multiline) in REPORT_FIELDS.items():
        required = field in ("resource_code", "record_id", "field", "value_seen")
        checks.text(
            field, form.get(field), label, column=column, multiline=multiline, required=required
        )
    checks.done(Message(N_("The report is not valid")))
    resource = resource_by_code(session, form["resource_code"].strip())
    if not holds_grant(session, user.department_id, resource.id):
        raise Forbidden(
            Message(
                "Only departments holding a grant on %(code)s can report errors in it.",
                code=resource.code,
            )
        )
    bound = parties(session, user.department, resource.provider)
    data = {
        **bound.names(),
        "resource_id": resource.id,
        "resource_code": resource.code,
        "resource_name": resource.name,
        "record_id": form["record_id"].strip(),
        "field": form["field"].strip(),
        "value_seen": form["value_seen"].strip(),
        "value_expected": (form.get("value_expected") or "").strip(),
        "error_note": (form.get("note") or "").strip(),
        **rules.start_data(
            session, clock, "more_info", "verification_review", "ruling", "correction"
        ),
        "verify_days": int(verify_days)
        if verify_days
        else rules.days(session, clock, "verification"),
        "reported_at": iso_now(clock),
    }
    summary = {k: data[k] for k in SUMMARY_FIELDS}
    summary["verify_days"] = data["verify_days"]  # as chosen (pages compare the rule set's)
    definition = active_definition(session, "data_error_verification")
    instance = start_instance(session, clock, definition, data, bound.bindings(), user.id, summary)
    session.add(_flag(instance, bound, data, clock))
    session.flush()
    return Reported(instance.id, instance.business_key)


def _flag(instance: ProcessInstance, bound: Parties, data: dict, clock: Clock) -> Verification:
    """The register row that flags the record while it is under verification."""
    return Verification(
        instance_id=instance.id,
        resource_id=data["resource_id"],
        provider_id=bound.provider.id,
        requester_id=bound.requester.id,
        record_id=data["record_id"],
        field=data["field"],
        value_seen=data["value_seen"],
        value_expected=data["value_expected"],
        status="open",
        reported_at=clock.now(),
    )


def _verification(instance: ProcessInstance) -> Select[Verification]:
    return select(Verification).where(Verification.instance_id == instance.id)


def file_verification(
    ctx: StepContext,
    outcome: str | None = None,
    corrected_on: str | None = None,
    note: str | None = None,
) -> None:
    """Action ``file_verification``: the provider's answer lands on the verification row."""
    v = ctx.session.scalar(_verification(ctx.instance))
    if v is None:  # the row is written right after the process starts; nothing to file before
        return
    if outcome:  # the provider's answer, or the authority's ruling after it
        v.outcome, v.answered_at = outcome, v.answered_at or ctx.clock.now()
    if corrected_on:
        v.corrected_on = date.fromisoformat(corrected_on)


def answer_date_valid(ctx: CheckContext) -> None:
    """Completion check ``answer_date_valid`` (the provider's answer): when the answer is
    "corrected", its date as :func:`correction_date_valid` requires."""
    if ctx.data.get("verification_result") == "corrected":
        correction_date_valid(ctx)


def correction_date_valid(ctx: CheckContext) -> None:
    """Completion check ``correction_date_valid``: a reported correction happened no later than
    today (Beijing time) and not before the error was reported. The date decides whether the
    correction was made within the period (art. 23 (3)), so it may not lie ahead."""
    raw = ctx.data.get("corrected_on")
    if not raw:
        return  # the form requires it where it is needed
    day = date.fromisoformat(str(raw))
    today = ctx.clock.now().astimezone(SHANGHAI).date()
    reported_at = ctx.data.get("reported_at")
    reported = (
        datetime.fromisoformat(reported_at).astimezone(SHANGHAI).date() if reported_at else day
    )
    if day > today:
        raise ValidationFailed(
            Message(
                "The record cannot have been corrected on %(day)s: that is later than today (%(today)s).",
                day=day.isoformat(),
                today=today.isoformat(),
            ),
            [{"field": "corrected_on", "message": Message("is later than today")}],
        )
    if day < reported:
        raise ValidationFailed(
            Message(
                "The correction date %(day)s is before the error was reported (%(reported)s).",
                day=day.isoformat(),
                reported=reported.isoformat(),
            ),
            [{"field": "corrected_on", "message": Message("is before the report")}],
        )


def close_verification(ctx: StepContext) -> None:
    """Action ``close_verification``: the record is no longer flagged."""
    v = ctx.session.scalars(_verification(ctx.instance)).one()  # filed when the process started
    v.status, v.closed_at = "closed", ctx.clock.now()
    ruling = ctx.data.get("ruling")
    if ruling:
        v.outcome = "ruled_wrong" if ruling == "data_wrong" else "ruled_right"


def flag(session: Session, user: User, resource_code: str, record_id: str) -> dict:
    """Is a record under verification? Only for the provider and departments holding a grant.
    ``served`` is the record's history of citizens served on proof (art. 15), newest first, kept
    after its verifications are closed."""
    checks = Checks()
    checks.text("resource", resource_code, Message(N_("Resource code")), column=Resource.code)
    checks.text("record", record_id, Message(N_("Record")), column=Verification.record_id)
    checks.done()
    resource_id = _check_may_read(session, user, resource_code)
    rows = session.execute(
        select(Verification, ProcessInstance.business_key)
        .join(ProcessInstance, ProcessInstance.id == Verification.instance_id)
        .where(
            Verification.resource_id == resource_id,
            Verification.record_id == record_id,
            Verification.status == "open",
        )
        .order_by(Verification.id)
    ).all()
    return {
        "resource": resource_code,
        "record": record_id,
        "under_verification": bool(rows),
        "verifications": [
            {
                "id": v.id,
                "field": v.field,
                "reported_at": v.reported_at.isoformat(),
                "business_key": key,
            }
            for v, key in rows
        ],
        "notice": Message(
            "Art. 15: while the record is under verification, a citizen with valid proof is served as usual."
        )
        if rows
        else "",
        "served": _served_history(session, resource_id, record_id),
    }


def _served_history(session: Session, resource_id: int, record_id: str) -> list[dict]:
    """Every registration of service on proof for the record, newest first (at most 50)."""
    rows = session.execute(
        select(ServedOnProof, ProcessInstance.business_key, Department.name, Department.name_en)
        .join(Verification, Verification.id == ServedOnProof.verification_id)
        .join(ProcessInstance, ProcessInstance.id == Verification.instance_id)
        .join(Department, Department.id == ServedOnProof.department_id)
        .where(Verification.resource_id == resource_id, Verification.record_id == record_id)
        .order_by(ServedOnProof.at.desc(), ServedOnProof.id.desc())
        .limit(50)
    ).all()
    return [
        {
            "at": served.at.isoformat(),
            "department": Label(department, department_en),
            "proof": served.proof,
            "service": served.service,
            "business_key": key,
        }
        for served, key, department, department_en in rows
    ]


def register_served(
    session: Session,
    clock: Clock,
    user: User,
    verification_id: int | str,
    proof: str,
    service: str = "",
) -> Served:
    """Record that a citizen was served on valid proof while the record was under verification."""
    checks = Checks()
    checks.integer("verification_id", verification_id, Message(N_("Verification")))
    checks.text("proof", proof, Message(N_("Proof presented")), multiline=True)
    checks.text("service", service, Message(N_("Service")), column=ServedOnProof.service)
    checks.done()
    v = session.get(Verification, int(verification_id))
    if v is None or v.status != "open":
        raise ValidationFailed(Message("Verification %(id)s is not open.", id=verification_id))
    (resource,) = resources_by_id(session, [v.resource_id])
    _check_may_read(session, user, resource.code)
    if not (proof or "").strip():
        raise ValidationFailed(
            Message("Name the proof the citizen presented."),
            [{"field": "proof", "message": Message("is required")}],
        )
    row = ServedOnProof(
        verification_id=v.id,
        department_id=user.department_id,
        registered_by_id=user.id,
        proof=proof.strip(),
        service=(service or "").strip(),
        at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        clock.now(),
        "served_on_proof",
        actor_id=user.id,
        instance_id=v.instance_id,
        object_type="verification",
        object_ref=str(v.id),
        after={"proof": row.proof, "service": row.service},
    )
    return Served(row.id, row.verification_id, row.at)


def quality(session: Session, provider_ids: list[int] | None = None) -> list[dict]:
    """Per provider and resource (art. 13): errors reported, confirmed, fixed, median working days
    to fix; by provider name, then resource code."""
    calendar = load_calendar(session)
    stmt = select(Verification)
    if provider_ids is not None:
        stmt = stmt.where(Verification.provider_id.in_(provider_ids))
    rows = list(session.scalars(stmt))
    resources = {r.id: r for r in resources_by_id(session, {v.resource_id for v in rows})}
    providers = {d.id: d.label for d in departments(session, ids={v.provider_id for v in rows})}
    stats: dict[tuple, dict] = {}
    for v in rows:
        resource = resources[v.resource_id]
        s = stats.setdefault(
            (providers[v.provider_id].msgid, resource.code),
            {
                "provider": providers[v.provider_id],
                "code": resource.code,
                "name": resource.name,
                "reported": 0,
                "confirmed": 0,
                "fixed": 0,
                "days": [],
            },
        )
        s["reported"] += 1
        if v.outcome in ("corrected", "ruled_wrong"):
            s["confirmed"] += 1
        if v.outcome in ("corrected", "ruled_wrong") and v.corrected_on:
            s["fixed"] += 1
            s["days"].append(
                calendar.working_days_between(
                    v.reported_at.astimezone(SHANGHAI).date(), v.corrected_on
                )
            )
    return [
        {
            **{k: v for k, v in s.items() if k != "days"},
            "median_days_to_fix": statistics.median(s["days"]) if s["days"] else None,
        }
        for _key, s in sorted(stats.items())
    ]


@dataclass(frozen=True)
class QualityReport:
    rows: list[dict]  # as :func:`quality`
    scope: Label | None  # the provider the figures are limited to, or None for every provider


def quality_for(session: Session, user: User) -> QualityReport:
    """The data-quality figures a user may see: a data-sharing authority's officials see every
    provider's, any other department only its own (as provider)."""
    if user.department.is_authority:
        return QualityReport(quality(session), None)
    return QualityReport(quality(session, [user.department_id]), user.department.label)
