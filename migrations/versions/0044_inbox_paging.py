"""inbox paging: every inbox order reads an index range — the done view's index ends with the
task id (completed_at, id), and the "newest first" sort of the own and queue views has its
(assignee|department, state, created_at, id) indexes — whatever the number of tasks stored

Revision ID: 0044
Revises: 0043
"""

from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_task_done", table_name="human_task")
    op.create_index(
        "ix_task_done", "human_task", ["completed_by_id", "state", "completed_at", "id"]
    )
    op.create_index(
        "ix_task_queue_created", "human_task", ["department_id", "state", "created_at", "id"]
    )
    op.create_index(
        "ix_task_assignee_created", "human_task", ["assignee_id", "state", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_task_assignee_created", table_name="human_task")
    op.drop_index("ix_task_queue_created", table_name="human_task")
    op.drop_index("ix_task_done", table_name="human_task")
    op.create_index("ix_task_done", "human_task", ["completed_by_id", "state", "completed_at"])
