"""yearly figures kept in step with the process facts: the ``figure_tally`` summary, counted
from the facts already recorded

Revision ID: 0042
Revises: 0041
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

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
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM process_fact LIMIT 1")).first() is None:
        return
    # the same count as ``govshare reports rebuild`` (working days need the calendar's entries)
    from engine.oversight.summary import rebuild

    session = Session(bind=bind)
    rebuild(session)
    session.flush()


def downgrade() -> None:
    op.drop_table("figure_tally")
