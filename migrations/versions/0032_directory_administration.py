"""directory administration: departments stay (inactive, with their successor) after a merger
or split, and every change of a department's name is kept

Revision ID: 0032
Revises: 0031
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("department") as batch:
        batch.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("successor_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_department_successor", "department", ["successor_id"], ["id"])
    op.create_table(
        "department_name",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("department.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("new_name", sa.String(200), nullable=False),
        sa.Column("new_name_en", sa.String(200), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
    )
    op.create_index("ix_department_name_department", "department_name", ["department_id", "until"])


def downgrade() -> None:
    op.drop_index("ix_department_name_department", table_name="department_name")
    op.drop_table("department_name")
    with op.batch_alter_table("department") as batch:
        batch.drop_constraint("fk_department_successor", type_="foreignkey")
        batch.drop_column("successor_id")
        batch.drop_column("active")
