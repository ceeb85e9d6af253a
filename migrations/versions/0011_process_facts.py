"""process facts

Revision ID: 0011
Revises: 0010

Creates ``process_fact`` and backfills, from the task mirror and the dossier, the facts that the
process versions deployed before it recorded only as tasks, so that the figures of earlier years
and the dossiers of running disputes stay as they were. This is the one place that reads the old
versions' task names and form fields; nothing in engine/ does.
"""

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

TZ = sa.DateTime(timezone=True)
human_task = sa.table(
    "human_task",
    sa.column("instance_id", sa.Integer),
    sa.column("task_name", sa.String),
    sa.column("state", sa.String),
    sa.column("department_id", sa.Integer),
    sa.column("due_at", TZ),
    sa.column("created_at", TZ),
    sa.column("completed_at", TZ),
    sa.column("completed_by_id", sa.Integer),
    sa.column("data", sa.JSON),
)
process_instance = sa.table(
    "process_instance",
    sa.column("id", sa.Integer),
    sa.column("process_id", sa.String),
    sa.column("summary", sa.JSON),
    sa.column("authority_department_id", sa.Integer),
    sa.column("requester_department_id", sa.Integer),
    sa.column("created_at", TZ),
)
verification = sa.table(
    "verification",
    sa.column("instance_id", sa.Integer),
    sa.column("provider_id", sa.Integer),
    sa.column("outcome", sa.String),
    sa.column("reported_at", TZ),
    sa.column("answered_at", TZ),
)
REQUEST_PROCESSES = ("share_request", "negotiation")
dossier_entry = sa.table(
    "dossier_entry",
    sa.column("instance_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("text", sa.Text),
    sa.column("details", sa.JSON),
    sa.column("at", TZ),
    sa.column("actor_id", sa.Integer),
)
ANSWERS = {"approve": "approved", "approve_in_part": "approved_in_part", "refuse": "refused"}
DECISIONS = {"grant": "granted", "grant_in_part": "granted_in_part", "uphold": "refusal_upheld"}
POSITIONS = {"requester_position": "requester", "provider_position": "provider"}

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=40), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=40), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_process_fact_instance_id_process_instance"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_process_fact_actor_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_process_fact_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_fact")),
    )
    op.create_index("ix_fact_kind_at", "process_fact", ["kind", "at"], unique=False)
    op.create_index(
        "ix_fact_department", "process_fact", ["department_id", "kind", "at"], unique=False
    )
    op.create_index(
        op.f("ix_process_fact_instance_id"), "process_fact", ["instance_id"], unique=False
    )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    table = sa.table(
        "process_fact",
        *(
            sa.column(name, type_)
            for name, type_ in (
                ("instance_id", sa.Integer),
                ("process_id", sa.String),
                ("kind", sa.String),
                ("at", TZ),
                ("actor_id", sa.Integer),
                ("role", sa.String),
                ("department_id", sa.Integer),
                ("decision", sa.String),
                ("reasons", sa.Text),
                ("opened_at", TZ),
                ("due_at", TZ),
                ("met", sa.Boolean),
                ("details", sa.JSON),
            )
        ),
    )
    instances = {
        row.id: row
        for row in conn.execute(
            sa.select(
                process_instance.c.id,
                process_instance.c.process_id,
                process_instance.c.summary,
                process_instance.c.authority_department_id,
                process_instance.c.requester_department_id,
                process_instance.c.created_at,
            )
        )
    }
    rows = [
        {"process_id": instances[r["instance_id"]].process_id, **r}
        for r in (
            *_from_tasks(conn, instances),
            *_from_dossier(conn, instances),
            *_submitted(instances),
            *_from_verifications(conn),
        )
        if r["instance_id"] in instances
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(sa.insert(table), rows[start : start + 1000])


def _fact(kind: str, task, at, role: str, actor_id: int | None = None, **values) -> dict:
    due = task.due_at
    return {
        "instance_id": task.instance_id,
        "kind": kind,
        "at": at,
        "actor_id": actor_id,
        "role": role,
        "department_id": task.department_id,
        "decision": values.pop("decision", None),
        "reasons": values.pop("reasons", None),
        "opened_at": values.pop("opened_at", None),
        "due_at": due,
        "met": None if due is None else at <= due,
        "details": values,
    }


def _from_tasks(conn: sa.Connection, instances: dict) -> Iterator[dict]:
    seen: set[tuple[str, int]] = set()
    tasks = conn.execute(
        sa.select(human_task)
        .where(human_task.c.state != "cancelled")
        .order_by(human_task.c.created_at)
    )
    for t in tasks:
        first = (t.task_name, t.instance_id) not in seen
        seen.add((t.task_name, t.instance_id))
        if t.task_name == "submit_annual_report":
            yield from _annual_report(t, instances)
        elif first and t.task_name in ("requester_position", "coordinate", "update_catalog"):
            yield from _opened(t)
        if t.state == "completed":
            yield from _decided(t)


def _opened(t) -> Iterator[dict]:
    if t.task_name == "requester_position":
        yield _fact("negotiation_opened", t, t.created_at, "requester")
    elif t.task_name == "coordinate":
        yield _fact("coordination_opened", t, t.created_at, "authority")
    else:
        yield _fact("catalog_update_required", t, t.created_at, "provider")


def _decided(t) -> Iterator[dict]:
    data, at, actor = t.data or {}, t.completed_at, t.completed_by_id
    if t.task_name == "provider_review":
        decision = data.get("review_decision")
        yield _fact(
            "request_answered",
            t,
            at,
            "provider",
            actor,
            decision=ANSWERS.get(decision, decision),
            reasons=data.get("review_reason"),
            opened_at=t.created_at,
        )
    elif t.task_name in POSITIONS:
        role = POSITIONS[t.task_name]
        yield _fact("position_stated", t, at, role, actor, position=data.get(t.task_name, ""))
    elif t.task_name == "update_catalog":
        yield _fact("catalog_update_done", t, at, "provider", actor)


def _annual_report(t, instances: dict) -> Iterator[dict]:
    summary = instances[t.instance_id].summary if t.instance_id in instances else {}
    year = (summary or {}).get("report_year")
    if t.state == "completed":
        report = dict(t.data or {})
        yield _fact(
            "annual_report_submitted",
            t,
            t.completed_at,
            "provider",
            t.completed_by_id,
            year=year,
            report=report,
        )
    if (summary or {}).get("overdue") and t.due_at is not None:
        yield {**_fact("annual_report_overdue", t, t.due_at, "provider", year=year), "met": False}


def _from_dossier(conn: sa.Connection, instances: dict) -> Iterator[dict]:
    for e in conn.execute(sa.select(dossier_entry).where(dossier_entry.c.kind == "decision")):
        decision = (e.details or {}).get("decision")
        instance = instances.get(e.instance_id)
        yield {
            "instance_id": e.instance_id,
            "kind": "coordination_decided",
            "at": e.at,
            "actor_id": e.actor_id,
            "role": "authority",
            "department_id": instance.authority_department_id if instance else None,
            "decision": DECISIONS.get(decision, decision),
            "reasons": e.text,
            "opened_at": None,
            "due_at": None,
            "met": None,
            "details": {},
        }


def _row(instance_id: int, kind: str, at, role: str, department_id, **values) -> dict:
    return {
        "instance_id": instance_id,
        "kind": kind,
        "at": at,
        "actor_id": None,
        "role": role,
        "department_id": department_id,
        "decision": values.pop("decision", None),
        "reasons": None,
        "opened_at": values.pop("opened_at", None),
        "due_at": None,
        "met": None,
        "details": {},
    }


def _submitted(instances: dict) -> Iterator[dict]:
    """Every request (a share request, or a direct negotiation) was submitted when it started."""
    for i in instances.values():
        if i.process_id in REQUEST_PROCESSES:
            yield _row(
                i.id,
                "request_submitted",
                i.created_at,
                "requester",
                i.requester_department_id,
                opened_at=i.created_at,
            )


def _from_verifications(conn: sa.Connection) -> Iterator[dict]:
    for v in conn.execute(sa.select(verification)):
        yield _row(v.instance_id, "error_reported", v.reported_at, "provider", v.provider_id)
        if v.outcome in ("corrected", "data_correct") and v.answered_at is not None:
            yield _row(
                v.instance_id,
                "verification_answered",
                v.answered_at,
                "provider",
                v.provider_id,
                decision=v.outcome,
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_process_fact_instance_id"), table_name="process_fact")
    op.drop_index("ix_fact_department", table_name="process_fact")
    op.drop_index("ix_fact_kind_at", table_name="process_fact")
    op.drop_table("process_fact")
