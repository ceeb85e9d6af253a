"""yearly figures kept in step with the process facts: the ``figure_tally`` summary (counted
from the facts already recorded by revision 0045, in plain SQL)

Revision ID: 0042
Revises: 0041
"""

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "figure_tally",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("department_id", sa.Integer, primary_key=True),
        sa.Column("figure", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(40), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    # the back-fill is revision 0045's recount: plain SQL, which no later change of the
    # engine's code can break (this revision used to call engine.oversight.summary.rebuild)


def downgrade() -> None:
    op.drop_table("figure_tally")
