"""incidents and active versions

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=100), nullable=False),
        sa.Column("element_name", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name=op.f("fk_incident_instance_id_process_instance"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["app_user.id"], name=op.f("fk_incident_resolved_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_index("ix_incident_open", "incident", ["resolved_at", "id"], unique=False)
    op.create_index(op.f("ix_incident_instance_id"), "incident", ["instance_id"], unique=False)
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
    # until now the newest version of each process was the one new instances started on
    op.execute(
        "UPDATE process_definition SET active = TRUE WHERE version = "
        "(SELECT MAX(d.version) FROM process_definition d "
        "WHERE d.process_id = process_definition.process_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.drop_column("activated_at")
        batch_op.drop_column("active")
    op.drop_index(op.f("ix_incident_instance_id"), table_name="incident")
    op.drop_index("ix_incident_open", table_name="incident")
    op.drop_table("incident")
