"""Workflow tables: deployed definitions, instances, the user-task mirror, audit, outbox, counters,
attachments. Inboxes and dashboards query these columns and never deserialize workflow state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime

if TYPE_CHECKING:
    from engine.directory.models import Department, User


class ProcessDefinition(Base):
    """One deployed version of a process: the spec is stored here once, never in instances."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "content_hash"),
        # at most one active version per process, whatever runs concurrently
        Index(
            "uq_process_definition_active",
            "process_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
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
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # None: the CLI
    # the version new instances start on (exactly one per process; activation and rollback)
    active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_due", "next_due_at"),
        # the process cockpit: counts per version and state, and its instance list newest first
        Index("ix_instance_definition_status", "definition_id", "status"),
        Index("ix_instance_started", "created_at", "id"),
        Index("ix_instance_process_started", "process_id", "created_at", "id"),
        Index("ix_instance_status_started", "status", "created_at", "id"),
        # the request lists: one range scan per party (or authority) and process, newest first
        Index(
            "ix_instance_requester_list",
            "requester_department_id",
            "process_id",
            "created_at",
            "id",
        ),
        Index(
            "ix_instance_provider_list", "provider_department_id", "process_id", "created_at", "id"
        ),
        Index(
            "ix_instance_authority_list",
            "authority_department_id",
            "process_id",
            "created_at",
            "id",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(40), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    # running | completed | incident | suspended
    status: Mapped[str] = mapped_column(String(20), index=True)
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
    # the statutory rule set (engine.rules) the instance started under; its limits apply to it
    rule_set_version: Mapped[int | None] = mapped_column(Integer)
    # an administrator suspended it (status ``suspended``): who, when, why, and the status it
    # resumes to (running or incident); ``next_due_at`` is kept, the worker skips it meanwhile
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    suspend_reason: Mapped[str | None] = mapped_column(Text)
    resume_status: Mapped[str | None] = mapped_column(String(20))
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
        Index("ix_task_done", "completed_by_id", "state", "completed_at", "id"),
        # the "newest first" sort of the own and queue views (migration 0044)
        Index("ix_task_queue_created", "department_id", "state", "created_at", "id"),
        Index("ix_task_assignee_created", "assignee_id", "state", "created_at", "id"),
        # the daily 催办 job: open tasks due today, in one range scan (notifications.ladder)
        Index("ix_task_due", "state", "due_sort"),
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
    # a deputy completed it standing in for this official (leave cover, issue 14)
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    data: Mapped[dict | None] = mapped_column(JSON)  # the submitted form
    instance: Mapped[ProcessInstance] = relationship(lazy="select")
    department: Mapped[Department] = relationship(lazy="select")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="select")
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id], lazy="select")
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id], lazy="select")


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


class Incident(Base):
    """A command on an instance that failed: the element, the error, and how it ended.

    While an incident is open the instance has status ``incident``; the worker retries it with
    backoff (``process_instance.next_due_at``) until it succeeds or is set aside for an
    administrator; a successful command on the instance resolves it."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_open", "resolved_at", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(100))
    element_name: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance: Mapped[ProcessInstance] = relationship(lazy="select")


class ProcessFact(Base):
    """A typed domain fact a process recorded with ``fact(kind, **values)``: a request answered,
    a coordination decided, an annual report submitted … Reports, dossiers and dashboards read
    these rows by ``kind``, never by BPMN element id, task name or form field, so renaming a task
    in a modeler changes no figure. Kinds and their fields are registered by the domain areas
    (``Handlers.facts``); :mod:`engine.workflow.facts` writes the rows."""

    __tablename__ = "process_fact"
    __table_args__ = (
        Index("ix_fact_kind_at", "kind", "at"),
        Index("ix_fact_department", "department_id", "kind", "at"),
        # an instance's facts of a kind (a dispute decided? when escalated?) (migration 0043)
        Index("ix_fact_instance_kind", "instance_id", "kind", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))  # the instance's process
    kind: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # the clock's time when it happened
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # who decided
    # the role (lane) the fact is about and its bound department; without a role, the acting
    # official's department
    role: Mapped[str | None] = mapped_column(String(40))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    decision: Mapped[str | None] = mapped_column(String(40))
    reasons: Mapped[str | None] = mapped_column(Text)
    # when the matter the fact concludes was opened (a request's submission): durations count
    # from here
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    met: Mapped[bool | None] = mapped_column(Boolean)  # at <= due_at; None without a deadline
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # the kind's other fields
