"""single sign-on: the account's external id (the identity provider's linking value, unique),
the provider subject it is pinned to (unique), and the pending OpenID Connect sign-ins (state, nonce; good once)

Revision ID: 0034
Revises: 0033
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("external_id", sa.String(255), nullable=True))
    op.create_index("ix_app_user_external_id", "app_user", ["external_id"], unique=True)
    op.add_column("app_user", sa.Column("sso_subject", sa.String(255), nullable=True))
    op.create_index("ix_app_user_sso_subject", "app_user", ["sso_subject"], unique=True)
    op.create_table(
        "sso_pending_sign_in",
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_path", sa.String(300), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("ix_sso_pending_sign_in_created_at", "sso_pending_sign_in", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_sso_pending_sign_in_created_at", table_name="sso_pending_sign_in")
    op.drop_table("sso_pending_sign_in")
    op.drop_index("ix_app_user_sso_subject", table_name="app_user")
    op.drop_index("ix_app_user_external_id", table_name="app_user")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("sso_subject")
        batch.drop_column("external_id")
