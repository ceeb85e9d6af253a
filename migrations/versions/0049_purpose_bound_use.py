"""purpose-bound use (art. 12, 14): the application scenarios (应用场景) a grant is bound to,
seeded with the Ningxia list; the grant's scenario (NULL on the grants issued before: used only by
naming the grant); the append-only access log of use checks; one breach entry per department,
grant (or resource) and day for refused uses, with the number of refusals it stands for

Revision ID: 0049
Revises: 0048
"""

import sqlalchemy as sa
from alembic import op

revision = "0049"
down_revision = "0048"
branch_labels = None
depends_on = None

SCENARIOS = [  # code, Chinese name, English name
    ("YYCJ001", "户籍业务办理", "Household registration services"),
    ("YYCJ002", "社会保障待遇资格认证", "Social security benefit eligibility verification"),
    ("YYCJ003", "不动产登记", "Real estate registration"),
    ("YYCJ004", "市场主体登记", "Market entity registration"),
    ("YYCJ005", "公共信用信息共享", "Public credit information sharing"),
    ("YYCJ006", "城乡低保对象认定", "Minimum living allowance eligibility"),
    ("YYCJ007", "医疗保障经办", "Medical insurance services"),
    ("YYCJ008", "住房公积金业务办理", "Housing provident fund services"),
    ("YYCJ009", "义务教育入学资格审核", "Compulsory education enrolment review"),
    ("YYCJ010", "税收征管", "Tax collection and administration"),
    ("YYCJ011", "行政执法监管", "Administrative enforcement and supervision"),
]


def upgrade() -> None:
    scenario = op.create_table(
        "use_scenario",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("app_user.id")),
    )
    op.bulk_insert(
        scenario,
        [{"code": c, "name_zh": zh, "name_en": en, "active": True} for c, zh, en in SCENARIOS],
    )
    # the list is reference data every request start reads: cached per process, checked against
    # its version number (engine/refcache.py, kind ``scenarios``)
    op.execute("INSERT INTO reference_version (kind, version) VALUES ('scenarios', 0)")
    op.add_column("data_grant", sa.Column("scenario", sa.String(40)))
    op.create_table(
        "grant_use",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id")),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("api_client.id")),
        sa.Column("grant_id", sa.Integer(), sa.ForeignKey("data_grant.id")),
        sa.Column("resource_id", sa.Integer(), sa.ForeignKey("resource.id"), nullable=False),
        sa.Column("info_items", sa.JSON(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(40)),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(30)),
    )
    op.create_index("ix_grant_use_grant", "grant_use", ["grant_id", "id"])
    op.create_index("ix_grant_use_department", "grant_use", ["department_id", "at"])
    op.add_column("breach", sa.Column("once", sa.String(120)))
    op.add_column(
        "breach", sa.Column("count", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )
    op.create_index("uq_breach_once", "breach", ["once"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_breach_once", table_name="breach")
    with op.batch_alter_table("breach") as batch:
        batch.drop_column("count")
        batch.drop_column("once")
    op.drop_index("ix_grant_use_department", table_name="grant_use")
    op.drop_index("ix_grant_use_grant", table_name="grant_use")
    op.drop_table("grant_use")
    with op.batch_alter_table("data_grant") as batch:
        batch.drop_column("scenario")
    op.execute("DELETE FROM reference_version WHERE kind = 'scenarios'")
    op.drop_table("use_scenario")
