"""clean stored JSON of NUL characters and lone surrogates

Before the input boundary (engine/inputs.py) a share request's purpose could hold ``\\u0000`` or a
lone surrogate ``\\ud800``. SQLAlchemy stored them escaped in JSON columns, and on PostgreSQL every
query that reads a member of such a value (``summary ->> 'resource_code'`` in the coordination
dossier) then failed for every row of the table. This revision replaces both in the JSON columns
that hold what people entered with U+FFFD; Text columns could not store them (PostgreSQL refuses
NUL, and neither database driver encodes a lone surrogate), so they need nothing.

Revision ID: 0015
Revises: 0013
"""

import json

import sqlalchemy as sa
from alembic import op

from engine.inputs import scrubbed

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON_COLUMNS = (
    ("process_instance", "summary"),
    ("human_task", "data"),
    ("audit_event", "detail"),
    ("process_fact", "details"),
    ("outbox", "payload"),
    ("resource_version", "data"),
    ("project", "catalog"),
    ("breach", "evidence"),
    ("data_grant", "info_items"),
    ("dossier_entry", "details"),
)
# how json.dumps writes a NUL and the start of any surrogate (pairs too; they are kept)
NEEDLES = ("\\u0000",) + tuple(f"\\ud{c}" for c in "89abcdef")


def upgrade() -> None:
    bind = op.get_bind()
    for table, column in JSON_COLUMNS:
        t = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.JSON))
        text = sa.cast(t.c[column], sa.Text)
        suspect = sa.or_(*(text.contains(n, autoescape=True) for n in NEEDLES))
        for row_id, raw in bind.execute(sa.select(t.c.id, text).where(suspect)).all():
            value = json.loads(raw)
            clean = scrubbed(value)
            if clean != value:
                bind.execute(sa.update(t).where(t.c.id == row_id).values({column: clean}))


def downgrade() -> None:
    """Nothing to undo: the replaced characters could not be read back anyway."""
