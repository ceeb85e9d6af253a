"""dispute board and breach ledger at region scale: an instance's facts of one kind (is a dispute
decided, when was it escalated) found by one index lookup instead of a scan of every fact of the
kind

Revision ID: 0043
Revises: 0042
"""

from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_fact_instance_kind", "process_fact", ["instance_id", "kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_fact_instance_kind", table_name="process_fact")
