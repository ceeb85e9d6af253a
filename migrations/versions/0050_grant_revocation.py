"""grant revocation: when a grant was revoked, by whom and why (a revoked grant's item rows end
the day before its revocation, so the use check no longer finds it)

Revision ID: 0050
Revises: 0049
"""

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0049"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_grant") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("revoked_by_id", sa.Integer()))
        batch.add_column(sa.Column("revoke_reason", sa.Text()))
        batch.create_foreign_key(
            "fk_data_grant_revoked_by_id_app_user", "app_user", ["revoked_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("data_grant") as batch:
        batch.drop_constraint("fk_data_grant_revoked_by_id_app_user", type_="foreignkey")
        batch.drop_column("revoke_reason")
        batch.drop_column("revoked_by_id")
        batch.drop_column("revoked_at")
