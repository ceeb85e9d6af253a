"""the art. 14 grant check walks the grants holding the item asked about: each grant's info items
as rows indexed by department, resource, item and last day, so that grants for other items and
ended grants cost nothing

Revision ID: 0046
Revises: 0045
"""

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

ITEMS = {
    "sqlite": "json_each(g.info_items) AS i",
    "postgresql": "json_array_elements_text(g.info_items::json) AS i(value)",
}


def upgrade() -> None:
    op.create_table(
        "data_grant_item",
        sa.Column(
            "grant_id",
            sa.Integer(),
            sa.ForeignKey("data_grant.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("requester_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False),
        sa.Column("resource_id", sa.Integer(), sa.ForeignKey("resource.id"), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "item"),
    )
    op.create_index(
        "ix_data_grant_item_check",
        "data_grant_item",
        ["requester_id", "resource_id", "item", "until", "grant_id"],
    )
    items = ITEMS[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO data_grant_item (grant_id, item, requester_id, resource_id, until)"
        " SELECT DISTINCT g.id, i.value, g.requester_id, g.resource_id,"
        f" COALESCE(g.period_end, '9999-12-31') FROM data_grant g, {items}"
    )


def downgrade() -> None:
    op.drop_index("ix_data_grant_item_check", table_name="data_grant_item")
    op.drop_table("data_grant_item")
