"""notifications: one row per recipient with the unread index, preferences, department defaults,
the daily jobs' marks; the indexes the ladder and the grant-expiry jobs scan

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("instance_id", sa.Integer, sa.ForeignKey("process_instance.id"), nullable=True),
        sa.Column("business_key", sa.String(40), nullable=True),
        sa.Column("link", sa.String(300), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dedupe_key", sa.String(120), nullable=False, unique=True),
    )
    op.create_index("ix_notification_user", "notification", ["user_id", "id"])
    op.create_index(
        "ix_notification_unread",
        "notification",
        ["user_id", "id"],
        postgresql_where=sa.text("read_at IS NULL"),
        sqlite_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("email", sa.Boolean, nullable=True),
        sa.Column("webhook", sa.Boolean, nullable=True),
        sa.Column("digest", sa.Boolean, nullable=True),
        sa.Column("email_address", sa.String(200), nullable=False),
        sa.Column("messaging_id", sa.String(100), nullable=False),
        sa.Column("quiet_from", sa.String(5), nullable=True),
        sa.Column("quiet_until", sa.String(5), nullable=True),
    )
    op.create_table(
        "notification_department_default",
        sa.Column("department_id", sa.Integer, sa.ForeignKey("department.id"), primary_key=True),
        sa.Column("email", sa.Boolean, nullable=False),
        sa.Column("webhook", sa.Boolean, nullable=False),
        sa.Column("digest", sa.Boolean, nullable=False),
        sa.Column("quiet_from", sa.String(5), nullable=False),
        sa.Column("quiet_until", sa.String(5), nullable=False),
    )
    op.create_table(
        "notification_job_mark",
        sa.Column("job", sa.String(40), primary_key=True),
        sa.Column("day", sa.Date, nullable=True),
        sa.Column("through", sa.Date, nullable=True),
    )
    op.create_index("ix_task_due", "human_task", ["state", "due_sort"])
    op.create_index("ix_data_grant_period_end", "data_grant", ["period_end"])


def downgrade() -> None:
    op.drop_index("ix_data_grant_period_end", table_name="data_grant")
    op.drop_index("ix_task_due", table_name="human_task")
    op.drop_table("notification_job_mark")
    op.drop_table("notification_department_default")
    op.drop_table("notification_preference")
    op.drop_index("ix_notification_unread", table_name="notification")
    op.drop_index("ix_notification_user", table_name="notification")
    op.drop_table("notification")
