"""accounts and delegation: the forced password change, leave cover, "on behalf of" on tasks

Revision ID: 0033
Revises: 0032
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_behalf_of_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_human_task_on_behalf_of_id_app_user"),
            "app_user",
            ["on_behalf_of_id"],
            ["id"],
        )
    op.create_table(
        "delegation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("absent_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_early_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["absent_id"], ["app_user.id"], name=op.f("fk_delegation_absent_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["deputy_id"], ["app_user.id"], name=op.f("fk_delegation_deputy_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["app_user.id"], name=op.f("fk_delegation_created_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegation")),
    )
    op.create_index("ix_delegation_deputy", "delegation", ["deputy_id", "ends_at"])
    op.create_index("ix_delegation_absent", "delegation", ["absent_id", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_delegation_absent", table_name="delegation")
    op.drop_index("ix_delegation_deputy", table_name="delegation")
    op.drop_table("delegation")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_human_task_on_behalf_of_id_app_user"), type_="foreignkey"
        )
        batch_op.drop_column("on_behalf_of_id")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
