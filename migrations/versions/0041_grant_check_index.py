"""the art. 14 grant check walks a department's grants on one resource by index, in the order
issued, and stops at the first that covers the use

Revision ID: 0041
Revises: 0040
"""

from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_data_grant_requester_resource", "data_grant", ["requester_id", "resource_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_data_grant_requester_resource", table_name="data_grant")
