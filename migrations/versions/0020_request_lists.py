"""indexes the request lists page through, newest first per party and per authority

Revision ID: 0020
Revises: 0018
"""

from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_instance_requester_list": "requester_department_id",
    "ix_instance_provider_list": "provider_department_id",
    "ix_instance_authority_list": "authority_department_id",
}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(name, "process_instance", [column, "process_id", "created_at", "id"])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="process_instance")
