"""audit events name the object they concern

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("object_type", sa.String(40), nullable=True))
        batch.add_column(sa.Column("object_ref", sa.String(200), nullable=True))
    op.create_index("ix_audit_event_object", "audit_event", ["object_type", "object_ref", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_object", table_name="audit_event")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("object_ref")
        batch.drop_column("object_type")
