"""process cockpit: who deployed a version, suspending an instance (who, when, why, the status it
resumes to), and the indexes of the cockpit's counts per version and state and its instance list

Revision ID: 0038
Revises: 0037
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_definition") as batch:
        batch.add_column(sa.Column("deployed_by_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_process_definition_deployed_by", "app_user", ["deployed_by_id"], ["id"]
        )
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("suspended_by_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("suspend_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("resume_status", sa.String(20), nullable=True))
        batch.create_foreign_key(
            "fk_process_instance_suspended_by", "app_user", ["suspended_by_id"], ["id"]
        )
    op.create_index(
        "ix_instance_definition_status", "process_instance", ["definition_id", "status"]
    )
    op.create_index("ix_instance_started", "process_instance", ["created_at", "id"])
    op.create_index(
        "ix_instance_process_started", "process_instance", ["process_id", "created_at", "id"]
    )
    op.create_index(
        "ix_instance_status_started", "process_instance", ["status", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_instance_status_started", table_name="process_instance")
    op.drop_index("ix_instance_process_started", table_name="process_instance")
    op.drop_index("ix_instance_started", table_name="process_instance")
    op.drop_index("ix_instance_definition_status", table_name="process_instance")
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_constraint("fk_process_instance_suspended_by", type_="foreignkey")
        batch.drop_column("resume_status")
        batch.drop_column("suspend_reason")
        batch.drop_column("suspended_by_id")
        batch.drop_column("suspended_at")
    with op.batch_alter_table("process_definition") as batch:
        batch.drop_constraint("fk_process_definition_deployed_by", type_="foreignkey")
        batch.drop_column("deployed_by_id")
