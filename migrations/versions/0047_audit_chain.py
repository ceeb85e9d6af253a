"""the audit trail becomes an SM3 hash chain: each event gets its chain position (seq) and the
hash linking it to the event before; a one-row chain head, checkpoints of the head; the events
lose their foreign keys (writing them must lock nothing but the head); the existing events are
chained in id order

Revision ID: 0047
Revises: 0046
"""

import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None

GENESIS = bytes(32)
BATCH = 1000

EVENTS = sa.table(
    "audit_event",
    sa.column("id", sa.Integer()),
    sa.column("instance_id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("object_type", sa.String()),
    sa.column("object_ref", sa.String()),
    sa.column("detail", sa.JSON()),
    sa.column("seq", sa.BigInteger()),
    sa.column("hash", sa.String()),
)


def _canonical(row, seq: int) -> bytes:
    """engine.audit.canonical, inlined: a migration never imports engine code."""
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
    return json.dumps(
        {
            "actor": row.actor_id,
            "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "detail": row.detail if row.detail is not None else {},
            "instance": row.instance_id,
            "kind": row.kind,
            "object_ref": row.object_ref,
            "object_type": row.object_type,
            "seq": seq,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_constraint("fk_audit_event_actor_id_app_user", type_="foreignkey")
        batch.drop_constraint("fk_audit_event_instance_id_process_instance", type_="foreignkey")
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain_head"),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=80), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=True),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoint"),
    )
    op.create_index("ix_audit_checkpoint_seq", "audit_checkpoint", ["seq"])
    op.create_index("ix_audit_checkpoint_at", "audit_checkpoint", ["at"])

    # the existing events, chained in id order, in batches (constant memory)
    conn = op.get_bind()
    seq, previous, after = 0, GENESIS, 0
    while True:
        rows = conn.execute(
            sa.select(EVENTS).where(EVENTS.c.id > after).order_by(EVENTS.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        links = []
        for row in rows:
            seq += 1
            previous = _sm3(previous + _canonical(row, seq))
            links.append({"row_id": row.id, "seq": seq, "hash": previous.hex()})
        conn.execute(
            EVENTS.update()
            .where(EVENTS.c.id == sa.bindparam("row_id"))
            .values(seq=sa.bindparam("seq"), hash=sa.bindparam("hash")),
            links,
        )
        after = rows[-1].id
    head = sa.table(
        "audit_chain_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String()),
    )
    op.bulk_insert(head, [{"id": 1, "seq": seq, "hash": previous.hex()}])

    op.create_index("ix_audit_event_seq", "audit_event", ["seq"], unique=True)
    op.create_index("ix_audit_event_at", "audit_event", ["at", "id"])
    op.create_index("ix_audit_event_kind_at", "audit_event", ["kind", "at", "id"])
    op.create_index("ix_audit_event_actor_at", "audit_event", ["actor_id", "at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_actor_at", table_name="audit_event")
    op.drop_index("ix_audit_event_kind_at", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_index("ix_audit_event_seq", table_name="audit_event")
    op.drop_index("ix_audit_checkpoint_at", table_name="audit_checkpoint")
    op.drop_index("ix_audit_checkpoint_seq", table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("hash")
        batch.drop_column("seq")
        batch.create_foreign_key(
            "fk_audit_event_actor_id_app_user", "app_user", ["actor_id"], ["id"]
        )
        batch.create_foreign_key(
            "fk_audit_event_instance_id_process_instance",
            "process_instance",
            ["instance_id"],
            ["id"],
        )
