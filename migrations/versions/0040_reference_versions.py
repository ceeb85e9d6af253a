"""reference versions: one number per kind of reference data (directory, calendar, rules,
process definitions), bumped with every change, against which each process checks its cache

Revision ID: 0040
Revises: 0038
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0038"
branch_labels = None
depends_on = None

KINDS = ("directory", "calendar", "rules", "definitions")


def upgrade() -> None:
    table = op.create_table(
        "reference_version",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.bulk_insert(table, [{"kind": kind, "version": 1} for kind in KINDS])


def downgrade() -> None:
    op.drop_table("reference_version")
