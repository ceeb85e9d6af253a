"""calendar notices: the deadline table (start and working days of every deadline variable, found
by the changed date range), the notices administrators entered and the deadlines they moved

Revision ID: 0036
Revises: 0035
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadline",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("instance_id", sa.Integer, sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("variable", sa.String(100), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("working_days", sa.Integer, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_day", sa.Date, nullable=False),
        sa.Column("due_day", sa.Date, nullable=False),
        sa.UniqueConstraint("instance_id", "variable"),
    )
    op.create_index("ix_deadline_window", "deadline", ["start_day", "due_day"])
    op.create_index("ix_deadline_days", "deadline", ["working_days"])
    op.create_table(
        "calendar_notice",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(300), nullable=False),
        sa.Column("days", sa.JSON, nullable=False),
        sa.Column("moved", sa.Integer, nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.UniqueConstraint("scope", "reference"),
    )
    op.create_table(
        "deadline_change",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("notice_id", sa.Integer, sa.ForeignKey("calendar_notice.id"), nullable=False),
        sa.Column("instance_id", sa.Integer, sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("human_task.id"), nullable=True),
        sa.Column("variable", sa.String(100), nullable=False),
        sa.Column("before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deadline_change_notice", "deadline_change", ["notice_id", "id"])
    op.create_index("ix_deadline_change_instance", "deadline_change", ["instance_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_deadline_change_instance", table_name="deadline_change")
    op.drop_index("ix_deadline_change_notice", table_name="deadline_change")
    op.drop_table("deadline_change")
    op.drop_table("calendar_notice")
    op.drop_index("ix_deadline_days", table_name="deadline")
    op.drop_index("ix_deadline_window", table_name="deadline")
    op.drop_table("deadline")
