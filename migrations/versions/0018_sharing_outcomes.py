"""grants keep the decision that issued them: its kind, reasons, conditions and decider

A grant in part (by the provider or by coordination) is told apart from a grant in full, and
the requester reads the reasons and the conditions of use on the request page and in the API.
Grants issued before this revision keep NULL (their basis still says who granted).

Revision ID: 0018
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_grant") as batch:
        batch.add_column(sa.Column("decision", sa.String(30), nullable=True))
        batch.add_column(sa.Column("reasons", sa.Text(), nullable=True))
        batch.add_column(sa.Column("conditions", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                "decided_by_id",
                sa.Integer(),
                sa.ForeignKey("app_user.id", name="fk_data_grant_decided_by"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("data_grant") as batch:
        batch.drop_column("decided_by_id")
        batch.drop_column("conditions")
        batch.drop_column("reasons")
        batch.drop_column("decision")
