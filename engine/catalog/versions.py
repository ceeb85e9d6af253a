"""Catalog versions: every change is a version; publication goes through the authority.

A department saves drafts of its own entries (``save_draft``), submits the latest one
(``submit``: starts ``catalog_publication``, reviewed by the data-sharing authority of the
department's own level), and the authority publishes it or returns it with comments. Only
published versions are searchable and requestable. ``catalog_update`` tasks (art. 8) complete only
once a version of the department was published after the triggering event.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, rules
from engine.catalog import find_resource, resource_for
from engine.catalog.entry import FIELDS, normalize, search_text
from engine.catalog.models import Resource, ResourceVersion
from engine.catalog.rules import check
from engine.catalog.search import index_resource
from engine.catalog.views import Version, version_of
from engine.clock import SHANGHAI, Clock
from engine.directory import authority_of, department_by_slug
from engine.directory.models import Department, User
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.i18n import Message
from engine.workflow.deployment import active_definition
from engine.workflow.handlers import CheckContext, StepContext
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.runtime import start_instance
from engine.workflow.tasks import complete as complete_task


def may_edit(user: User, resource: Resource | None, entry: dict) -> bool:
    """Officials edit their own department's catalog (art. 8)."""
    return entry.get("provider") == user.department.slug and (
        resource is None or resource.provider_id == user.department_id
    )


def latest_version(session: Session, resource: Resource) -> ResourceVersion | None:
    return session.scalar(
        select(ResourceVersion)
        .where(ResourceVersion.resource_id == resource.id)
        .order_by(ResourceVersion.number.desc())
        .limit(1)
    )


def save_draft(
    session: Session,
    clock: Clock,
    user: User,
    entry: dict,
    note: str = "",
    resource: Resource | None = None,
) -> ResourceVersion:
    """Validate an entry and save it as the next draft version; nothing is written if a rule fails."""
    entry = normalize(entry)
    if resource is None:
        resource = find_resource(session, entry["code"])
    if not may_edit(user, resource, entry):
        raise Forbidden(
            Message("Only officials of the providing department may edit its catalog entries.")
        )
    problems = check(session, entry, resource.id if resource is not None else None)
    if problems:
        raise ValidationFailed(
            Message(
                "The catalog entry %(code)s breaks %(n)s rule(s).",
                code=entry["code"] or "-",
                n=len(problems),
            ),
            problems,
        )
    previous = latest_version(session, resource) if resource is not None else None
    if previous is not None and previous.status == "submitted":
        raise Conflict(
            Message(
                "Version %(n)s of %(code)s is with the authority for review; wait for its decision.",
                n=previous.number,
                code=entry["code"],
            )
        )
    if resource is None:
        resource = Resource(code=entry["code"], status="draft", published_version=0)
        _project(resource, entry, department_by_slug(session, entry["provider"]))
        session.add(resource)
        session.flush()
    changed = [f for f in FIELDS if previous is None or previous.data.get(f) != entry.get(f)]
    if previous is not None and not changed:
        raise ValidationFailed(Message("Nothing changed since version %(n)s.", n=previous.number))
    version = ResourceVersion(
        resource_id=resource.id,
        number=(previous.number if previous else 0) + 1,
        status="draft",
        data=entry,
        changed_fields=changed,
        note=note,
        created_by_id=user.id,
        created_at=clock.now(),
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        clock.now(),
        "catalog_draft_saved",
        actor_id=user.id,
        object_type="catalog_entry",
        object_ref=resource.code,
        version=version.number,
        changed_fields=changed,
    )
    return version


def submit_code(session: Session, clock: Clock, user: User, code: str) -> None:
    """:func:`submit` the entry ``code`` (NotFound for those who may not see it)."""
    submit(session, clock, user, resource_for(session, user, code))


def save_entry(
    session: Session,
    clock: Clock,
    user: User,
    entry: dict,
    note: str = "",
    code: str | None = None,
    then_submit: bool = False,
) -> Version:
    """The edit form's save: a draft of the entry ``code`` (or of a new entry), then submitted
    for publication when ``then_submit``."""
    resource = resource_for(session, user, code) if code else None
    version = save_draft(session, clock, user, entry, note=note, resource=resource)
    if then_submit:
        submit(session, clock, user, session.get_one(Resource, version.resource_id))
    return version_of(version, {user.id: user.label})


def submit(session: Session, clock: Clock, user: User, resource: Resource) -> ProcessInstance:
    """Send the latest draft to the same-level authority for publication."""
    version = latest_version(session, resource)
    if resource.provider_id != user.department_id:
        raise Forbidden(
            Message("Only officials of the providing department may edit its catalog entries.")
        )
    if version is None or version.status not in ("draft", "returned"):
        raise Conflict(Message("%(code)s has no draft to submit.", code=resource.code))
    revision = open_revision(session, resource)
    if revision is not None:
        # the returned change's own procedure goes on: its revision task is completed
        complete_task(session, clock, revision.id, user, {"revision_choice": "resubmit"})
        return session.get_one(ProcessInstance, revision.instance_id)
    provider = session.get_one(Department, resource.provider_id)
    authority = authority_of(session, provider.division_code)
    data = {
        "version_id": version.id,
        "resource_code": resource.code,
        "resource_name": version.data["name"],
        "version_number": version.number,
        "changed_fields": version.changed_fields,
        "provider_name": provider.name,
        "authority_name": authority.name,
        "change_note": version.note,
        **rules.start_data(session, clock, "catalog_review", "catalog_revision"),
    }
    bindings = {"provider": provider.id, "authority": authority.id}
    summary = {
        k: data[k]
        for k in (
            "resource_code",
            "resource_name",
            "version_number",
            "provider_name",
            "authority_name",
        )
    }
    instance = start_instance(
        session,
        clock,
        active_definition(session, "catalog_publication"),
        data,
        bindings,
        user.id,
        summary,
    )
    version.status, version.instance_id = "submitted", instance.id
    session.flush()
    return instance


def _project(resource: Resource, entry: dict, provider: Department) -> None:
    """Copy an entry's metadata onto the resource row (what search, filters and requests read)."""
    resource.name, resource.provider_id, resource.share_type = (
        entry["name"],
        provider.id,
        entry["share_type"],
    )
    resource.conditions, resource.legal_basis, resource.summary = (
        entry["share_conditions"],
        entry["legal_basis"],
        entry["summary"],
    )
    resource.info_items = [
        {
            "name": i["name"],
            "data_type": i["data_type"],
            "share_type": i["share_type"] or entry["share_type"],
            "conditions": i["conditions"],
            "base": i["base"],
        }
        for i in entry["info_items"]
    ]
    resource.classification, resource.network, resource.open_to_public = (
        entry["classification"],
        entry["network"],
        entry["open_to_public"],
    )
    resource.division_code, resource.search_text, resource.metadata_ = (
        provider.division_code,
        search_text(entry),
        entry,
    )


def publish_version(
    session: Session, clock: Clock, version: ResourceVersion, decided_by: int | None
) -> Resource:
    resource = session.get_one(Resource, version.resource_id)
    for old in session.scalars(
        select(ResourceVersion).where(
            ResourceVersion.resource_id == resource.id, ResourceVersion.status == "published"
        )
    ):
        old.status = "superseded"
    version.status, version.decided_at, version.decided_by_id = "published", clock.now(), decided_by
    _project(resource, version.data, department_by_slug(session, version.data["provider"]))
    resource.status, resource.published_version, resource.published_at = (
        "published",
        version.number,
        clock.now(),
    )
    session.flush()
    index_resource(session, resource)
    return resource


def open_revision(session: Session, resource: Resource) -> HumanTask | None:
    """The open ``revise_change`` task of a returned change of ``resource``, if any."""
    return session.scalar(
        select(HumanTask)
        .join(ResourceVersion, ResourceVersion.instance_id == HumanTask.instance_id)
        .where(
            ResourceVersion.resource_id == resource.id,
            HumanTask.task_name == "revise_change",
            HumanTask.state == "open",
        )
        .limit(1)
    )


def _under_review(ctx: StepContext | CheckContext) -> ResourceVersion:
    """The version this ``catalog_publication`` instance reviews now (after a return, the
    revised one it resubmitted)."""
    instance_id = ctx.task.instance_id if isinstance(ctx, CheckContext) else ctx.instance.id
    version = ctx.session.scalar(
        select(ResourceVersion)
        .where(ResourceVersion.instance_id == instance_id)
        .order_by(ResourceVersion.number.desc())
        .limit(1)
    )
    return version or ctx.session.get_one(ResourceVersion, ctx.data["version_id"])


def publish_action(ctx: StepContext, **_args: Any) -> None:
    """Action ``publish_catalog_version``: the authority published the submitted version."""
    publish_version(ctx.session, ctx.clock, _under_review(ctx), ctx.actor_id)


def resubmit_action(ctx: StepContext, **_args: Any) -> None:
    """Action ``resubmit_catalog_version``: the department sends its revised entry back to the
    authority in the same procedure (the latest draft, else the returned version unchanged)."""
    returned = _under_review(ctx)
    latest = latest_version(ctx.session, ctx.session.get_one(Resource, returned.resource_id))
    version = latest if latest is not None and latest.status == "draft" else returned
    version.status, version.instance_id = "submitted", ctx.instance.id
    ctx.audit("catalog_change_resubmitted", code=version.data.get("code"), version=version.number)


def revision_ready(ctx: CheckContext) -> None:
    """A returned change is resubmitted only once the entry was revised (a newer draft)."""
    if ctx.data.get("revision_choice") != "resubmit":
        return
    returned = _under_review(ctx)
    latest = latest_version(ctx.session, ctx.session.get_one(Resource, returned.resource_id))
    if latest is None or latest.number <= returned.number or latest.status != "draft":
        raise ValidationFailed(
            Message(
                "Version %(n)s was returned and has not been revised: save the corrected entry in the catalog first.",
                n=returned.number,
            ),
            [{"field": "revision_choice", "message": Message("no revised draft to submit")}],
        )


def return_action(ctx: StepContext, **_args: Any) -> None:
    """Action ``return_catalog_version``: the authority returned it with comments."""
    version = _under_review(ctx)
    version.status, version.decided_at = "returned", ctx.clock.now()
    version.decided_by_id = ctx.actor_id
    version.review_comment = ctx.data.get("review_comment", "")


def history(session: Session, resource: Resource) -> list[ResourceVersion]:
    return list(
        session.scalars(
            select(ResourceVersion)
            .where(ResourceVersion.resource_id == resource.id)
            .order_by(ResourceVersion.number.desc())
        )
    )


def published_since(session: Session, department_id: int, since: datetime) -> int:
    """How many versions of a department's entries that an official made (a draft saved with its
    changes, then published) were published at or after ``since``. Versions loaded by the seed
    change nothing an official decided and never count as an update (art. 8)."""
    return session.execute(
        select(func.count())
        .select_from(ResourceVersion)
        .join(Resource, Resource.id == ResourceVersion.resource_id)
        .where(
            Resource.provider_id == department_id,
            ResourceVersion.status.in_(("published", "superseded")),
            ResourceVersion.decided_at >= since,
            ResourceVersion.created_by_id.is_not(None),
        )
    ).scalar_one()


def updated_since_event(ctx: CheckContext) -> None:
    """Art. 8: the update task completes as "updated" only once a catalog version was published
    after the event; a "no change needed" declaration goes to the authority instead
    (:mod:`engine.catalog.declarations`)."""
    if ctx.data.get("update_choice") == "no_change":
        return
    event_day = date.fromisoformat(ctx.data["event_date"])
    since = datetime.combine(event_day, time(0), SHANGHAI)
    if not published_since(ctx.session, ctx.task.department_id, since):
        raise ValidationFailed(
            Message(
                "No catalog version of your department was published since %(day)s: update the catalog and have it published first (art. 8).",
                day=event_day.isoformat(),
            ),
            [
                {
                    "field": "(task)",
                    "message": Message(
                        "no catalog version published since %(day)s", day=event_day.isoformat()
                    ),
                }
            ],
        )
