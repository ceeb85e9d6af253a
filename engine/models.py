"""Tables. Inboxes and dashboards query these columns and never deserialize workflow state."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .db import Base


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on every backend (SQLite stores naive values; we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime stored; use the injected Clock")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# -- directory (art. 4) -----------------------------------------------------------------------
class Division(Base):
    """An administrative division, GB/T 2260 code: region, city or county level."""

    __tablename__ = "division"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))  # region | city | county
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"))


class Department(Base):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"), index=True)
    is_authority: Mapped[bool] = mapped_column(Boolean, default=False)
    duties: Mapped[list] = mapped_column(
        JSON, default=list
    )  # e.g. base:population, project_review:drc
    division: Mapped[Division] = relationship(lazy="select")


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    job_roles: Mapped[list] = mapped_column(
        JSON, default=list
    )  # official | leader | coordinator | admin
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    department: Mapped[Department] = relationship(lazy="select")

    # The user protocol of web sign-in (Flask-Login's names; plain Python, no web import).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    """A department system's credential: only the SHA-256 of the token is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    label: Mapped[str] = mapped_column(String(100))
    user: Mapped[User] = relationship(lazy="select")


# -- catalog (art. 9, 10) ---------------------------------------------------------------------
class Resource(Base):
    """A catalog entry. Its columns are the *published* version's metadata (what requests,
    search and filters use); every change is a ``ResourceVersion``."""

    __tablename__ = "resource"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    share_type: Mapped[str] = mapped_column(
        String(20), index=True
    )  # unconditional | conditional | not_shared
    conditions: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    info_items: Mapped[list] = mapped_column(
        JSON, default=list
    )  # [{name, data_type, share_type, conditions, base}]
    summary: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str] = mapped_column(
        String(20), default="department", index=True
    )  # base | thematic | department
    network: Mapped[str] = mapped_column(
        String(20), default="extranet", index=True
    )  # internal | extranet
    open_to_public: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    division_code: Mapped[str | None] = mapped_column(
        String(6), index=True
    )  # the catalog's level (provider's division)
    status: Mapped[str] = mapped_column(
        String(20), default="published", index=True
    )  # draft | published
    published_version: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    search_text: Mapped[str] = mapped_column(
        Text, default=""
    )  # name, code, summary, items: for LIKE verification
    connected: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )  # art. 7: provided through the platform
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict] = mapped_column(
        "metadata", JSON, default=dict
    )  # the full published entry
    provider: Mapped[Department] = relationship(lazy="select")


class ResourceVersion(Base):
    """One saved state of a catalog entry: who changed what, and where it is in publication."""

    __tablename__ = "resource_version"
    __table_args__ = (UniqueConstraint("resource_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(
        String(20)
    )  # draft | submitted | returned | published | superseded
    data: Mapped[dict] = mapped_column(JSON)
    changed_fields: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review_comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="select")


class CatalogTerm(Base):
    """Search index of published entries: CJK character bigrams and lower-cased ASCII words.

    Chinese has no spaces; bigrams (as Lucene's CJK analyzer does) make any two-character query an
    index lookup on both SQLite and PostgreSQL; the matched rows are then verified with LIKE.
    """

    __tablename__ = "catalog_term"
    __table_args__ = (Index("ix_catalog_term", "term", "resource_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)


class CatalogEvent(Base):
    """A law revision or change of function (art. 8): affected departments update their catalog
    within 15 working days."""

    __tablename__ = "catalog_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # law_revision | function_change
    occurred_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    department_ids: Mapped[list] = mapped_column(JSON)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- calendar ---------------------------------------------------------------------------------
class CalendarEntry(Base):
    """An administrator's day: a holiday or make-up working day published after the package."""

    __tablename__ = "calendar_day"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday | workday
    scope: Mapped[str] = mapped_column(String(10))  # national | regional
    name: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str] = mapped_column(String(300))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CalendarSchedule(Base):
    """Marks a year's national or regional schedule as entered, with the notice's reference."""

    __tablename__ = "calendar_schedule"
    __table_args__ = (UniqueConstraint("scope", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(300))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- process definitions and instances --------------------------------------------------------
class ProcessDefinition(Base):
    """One deployed version of a process: the spec is stored here once, never in instances."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "content_hash"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    source_file: Mapped[str] = mapped_column(String(200))
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    spec_json: Mapped[str] = mapped_column(
        Text, deferred=True
    )  # serialized spec + subprocess specs
    forms: Mapped[dict] = mapped_column(JSON)  # form name -> JSON Schema
    task_meta: Mapped[dict] = mapped_column(
        JSON
    )  # task spec name -> {title, lane, form, statute, job_role}
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_instance_due", "next_due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(40), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)  # running | completed | incident
    bindings: Mapped[dict] = mapped_column(JSON)  # lane/role -> department id
    summary: Mapped[dict] = mapped_column(JSON)  # what lists show without deserializing state
    state: Mapped[bytes] = mapped_column(
        LargeBinary, deferred=True
    )  # zlib-compressed JSON, spec removed
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # the bound departments as columns, for filters and access checks without reading JSON
    requester_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id"), index=True
    )
    provider_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id"), index=True
    )
    authority_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    definition: Mapped[ProcessDefinition] = relationship(lazy="select")
    __mapper_args__ = {"version_id_col": version}

    def involves(self, department_id: int) -> bool:
        """Is the department bound to a role of this instance (requester, provider, authority,
        a project's review seats …)? The one rule for who may see an instance."""
        return department_id in set((self.bindings or {}).values())


NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)


class HumanTask(Base):
    """Mirror of a user task, open or finished, for inboxes and history."""

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        Index("ix_task_queue", "department_id", "state", "due_sort", "id"),
        Index("ix_task_assignee", "assignee_id", "state", "due_sort", "id"),
        Index("ix_task_done", "completed_by_id", "state", "completed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    task_name: Mapped[str] = mapped_column(String(100))  # BPMN element id
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))  # lane
    job_role: Mapped[str | None] = mapped_column(String(40))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    form: Mapped[str | None] = mapped_column(String(100))
    statute: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(20))  # open | completed | cancelled
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # due_at, or the far future when the task has none: one index orders every inbox the same
    # way on SQLite and PostgreSQL (which disagree on where NULLs sort)
    due_sort: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    data: Mapped[dict | None] = mapped_column(JSON)  # the submitted form
    instance: Mapped[ProcessInstance] = relationship(lazy="select")
    department: Mapped[Department] = relationship(lazy="select")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="select")
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id], lazy="select")


class AuditEvent(Base):
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class OutboxMessage(Base):
    """A notification to deliver; written in the same transaction as the state change."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    template: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Breach(Base):
    """An entry of the breach ledger (art. 23), with its evidence."""

    __tablename__ = "breach"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    article: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(60))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(
        String(20), default="recorded", server_default="recorded"
    )  # recorded | withdrawn
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appeal_status: Mapped[str | None] = mapped_column(String(20))  # pending | upheld | rejected
    appeal_decision: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rectification_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    department: Mapped[Department] = relationship(lazy="select")


class Grant(Base):
    """A right to use a resource: scope (info items, period) and purpose (art. 12, 14)."""

    __tablename__ = "data_grant"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    info_items: Mapped[list] = mapped_column(JSON)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(
        String(30)
    )  # unconditional | approved | partial | negotiated | coordinated
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Counter(Base):
    """Named sequences (business keys per year), incremented under a row lock."""

    __tablename__ = "counter"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Attachment(Base):
    """A file attached to a task's submission; the bytes live under instance/attachments/."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DossierEntry(Base):
    """One piece of a dispute's dossier: an information request or answer, a meeting, the decision."""

    __tablename__ = "dossier_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # info_request | info_answer | meeting | decision
    party: Mapped[str] = mapped_column(String(20), default="")  # requester | provider | authority
    text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Verification(Base):
    """A suspected data error under verification (art. 15): while open, the record is flagged."""

    __tablename__ = "verification"
    __table_args__ = (Index("ix_verification_flag", "resource_id", "record_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    record_id: Mapped[str] = mapped_column(String(120))
    field: Mapped[str] = mapped_column(String(120))
    value_seen: Mapped[str] = mapped_column(Text, default="")
    value_expected: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    outcome: Mapped[str | None] = mapped_column(
        String(20)
    )  # corrected | data_correct | ruled_wrong | ruled_right
    corrected_on: Mapped[date | None] = mapped_column(Date)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resource: Mapped[Resource] = relationship(lazy="select")


class ServedOnProof(Base):
    """A citizen served on valid proof while the record was under verification (art. 15)."""

    __tablename__ = "served_on_proof"
    id: Mapped[int] = mapped_column(primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("verification.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    proof: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvaluationCampaign(Base):
    """The yearly evaluation (art. 17) started for a year, exactly once."""

    __tablename__ = "evaluation_campaign"
    year: Mapped[int] = mapped_column(
        Integer, primary_key=True
    )  # the year in which reports are due (about the year before)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Project(Base):
    """A government IT project (art. 20) with its pre-compiled project data-resource catalog."""

    __tablename__ = "project"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    catalog: Mapped[list] = mapped_column(
        JSON, default=list
    )  # draft catalog entries of the project
    status: Mapped[str] = mapped_column(
        String(20), default="draft"
    )  # draft | in_review | returned | approved | accepted
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    department: Mapped[Department] = relationship(lazy="select")
