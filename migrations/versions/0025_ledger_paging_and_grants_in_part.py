"""the breach ledger pages newest first by index; grants narrower than requested read 部分授权

Two indexes let the ledger count (capped) and page newest first, all of it or one department's,
without sorting the table. And a grant issued before this revision for less than was requested
(fewer info items, a later start or an earlier end), agreed in negotiation, granted by a
coordinator who chose "grant", or approved by the provider, was recorded as ``granted``: it and its
request's summary now say ``granted_in_part``, as such grants are decided from now on.

Revision ID: 0025
Revises: 0021
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0021"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_breach_recorded": ["recorded_at", "id"],
    "ix_breach_department_recorded": ["department_id", "recorded_at", "id"],
}

grant = sa.table(
    "data_grant",
    sa.column("id", sa.Integer),
    sa.column("instance_id", sa.Integer),
    sa.column("info_items", sa.JSON),
    sa.column("period_start", sa.Date),
    sa.column("period_end", sa.Date),
    sa.column("basis", sa.String),
    sa.column("decision", sa.String),
)
instance = sa.table(
    "process_instance",
    sa.column("id", sa.Integer),
    sa.column("summary", sa.JSON),
)


def _day(value):
    if not value:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _narrower(summary: dict, items, start, end) -> bool:
    """The rule of engine.sharing.grants.narrower_than_requested, as of this revision."""
    if set(summary.get("info_items") or ()) - set(items or ()):
        return True
    asked_start, asked_end = _day(summary.get("period_start")), _day(summary.get("period_end"))
    start, end = _day(start), _day(end)
    return bool(
        (asked_start and start and start > asked_start) or (asked_end and end and end < asked_end)
    )


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "breach", columns)
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            grant.c.id,
            grant.c.instance_id,
            grant.c.info_items,
            grant.c.period_start,
            grant.c.period_end,
            instance.c.summary,
        )
        .join(instance, instance.c.id == grant.c.instance_id)
        .where(
            grant.c.basis.in_(("approved", "negotiated", "coordinated")),
            sa.or_(grant.c.decision == "granted", grant.c.decision.is_(None)),
        )
    ).all()
    for r in rows:
        summary = dict(r.summary or {})
        if not summary.get("info_items") or not _narrower(
            summary, r.info_items, r.period_start, r.period_end
        ):
            continue
        bind.execute(grant.update().where(grant.c.id == r.id).values(decision="granted_in_part"))
        bind.execute(
            instance.update()
            .where(instance.c.id == r.instance_id)
            .values(summary={**summary, "decision": "granted_in_part"})
        )


def downgrade() -> None:
    # the corrected decisions stay: they describe the grants as they are
    for name in INDEXES:
        op.drop_index(name, table_name="breach")
