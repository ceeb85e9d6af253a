"""signed decisions: the departments' SM2 signing keys (private keys encrypted at rest) and the
signatures on binding decisions (docs/trust.md)

Revision ID: 0048
Revises: 0047
"""

import sqlalchemy as sa
from alembic import op

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key_id", sa.String(64), nullable=False, unique=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_signing_key_department_status", "signing_key", ["department_id", "status"])
    op.create_table(
        "signature",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instance.id"), nullable=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("human_task.id"), nullable=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False),
        sa.Column("signer_user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(64), sa.ForeignKey("signing_key.key_id"), nullable=False),
        sa.Column("signer_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_signature_subject", "signature", ["subject", "id"])


def downgrade() -> None:
    op.drop_index("ix_signature_subject", table_name="signature")
    op.drop_table("signature")
    op.drop_index("ix_signing_key_department_status", table_name="signing_key")
    op.drop_table("signing_key")
