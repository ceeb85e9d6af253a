"""department systems: registered API clients of a department and their scoped tokens

Revision ID: 0035
Revises: 0034
"""

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("department.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("network", sa.String(20), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.UniqueConstraint("department_id", "name", name="uq_api_client_name"),
    )
    op.create_index("ix_api_client_department_id", "api_client", ["department_id"])
    op.create_table(
        "api_client_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("api_client.id"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "rotated_from_id", sa.Integer, sa.ForeignKey("api_client_token.id"), nullable=True
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_client_token_client", "api_client_token", ["client_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_api_client_token_client", table_name="api_client_token")
    op.drop_table("api_client_token")
    op.drop_index("ix_api_client_department_id", table_name="api_client")
    op.drop_table("api_client")
