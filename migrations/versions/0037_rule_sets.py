"""rule sets: versioned statutory time limits; each instance records the version it started under

Version 1 is the 2018 measures (宁夏回族自治区政务数据资源共享管理办法, in force 2018-11-01) as
engine/rules held them. Instances already stored started under version 1.

GOVSHARE_DAYS_<NAME> settings are retired: if any is set when this migration runs, their values
become version 2 ("运维配置（原 GOVSHARE_DAYS_*）"), published with the same effective date (the
higher version wins a tie), so a running installation keeps its limits for new instances
(docs/deadlines.md). Instances already stored keep version 1 (the numbers they started with are
in their own data either way). No wall clock: the rows are dated 2018-11-01.

Revision ID: 0037
Revises: 0036
"""

import os
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

# name, working days, month-day, article ("" = no statutory limit), statutory
MEASURES_2018 = [
    ("reminder_before", 2, None, "", False),
    ("supervision", 5, None, "", False),
    ("reply", 10, None, "《办法》第十一条", True),
    ("negotiation", 10, None, "", False),
    ("negotiation_decision", 5, None, "", False),
    ("coordination", 20, None, "", False),
    ("coordination_info", 5, None, "", False),
    ("sharing_supervision", 5, None, "", False),
    ("catalog_update", 15, None, "《办法》第八条", True),
    ("catalog_review", 10, None, "", False),
    ("catalog_revision", 10, None, "", False),
    ("declaration_review", 5, None, "", False),
    ("verification", 10, None, "", False),
    ("more_info", 5, None, "", False),
    ("verification_review", 5, None, "", False),
    ("ruling", 10, None, "", False),
    ("correction", 10, None, "", False),
    ("project_review", 10, None, "", False),
    ("project_application", 10, None, "", False),
    ("rectification", 15, None, "", False),
    ("rectification_review", 10, None, "", False),
    ("annual_report", None, "01-31", "《办法》第十七条", True),
]
BASIS = "宁夏回族自治区政务数据资源共享管理办法（2018年11月1日施行）。第二十四条：国家另有规定的，从其规定。"


def _env_overrides() -> dict[str, int]:
    out = {}
    for name, days, _md, _article, statutory in MEASURES_2018:
        raw = os.environ.get(f"GOVSHARE_DAYS_{name.upper()}", "")
        if raw == "" or days is None:
            continue
        ceiling = days if statutory else 365
        if not raw.strip().isdigit() or not 1 <= int(raw) <= ceiling:
            raise RuntimeError(
                f"GOVSHARE_DAYS_{name.upper()}={raw!r}: must be 1 to {ceiling} working days;"
                " fix or unset it and migrate again"
            )
        out[name] = int(raw)
    return out


def upgrade() -> None:
    rule_set = op.create_table(
        "rule_set",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=True),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_rule_set_effective_from", "rule_set", ["effective_from"])
    rule_limit = op.create_table(
        "rule_limit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rule_set_id", sa.Integer, sa.ForeignKey("rule_set.id"), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("days", sa.Integer, nullable=True),
        sa.Column("month_day", sa.String(5), nullable=True),
        sa.Column("article", sa.String(200), nullable=False),
        sa.Column("statutory", sa.Boolean, nullable=False),
        sa.UniqueConstraint("rule_set_id", "name", name="uq_rule_limit_name"),
    )
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("rule_set_version", sa.Integer, nullable=True))

    # dated by the measures, not by the wall clock: 2018-11-01 00:00 Beijing time
    now = datetime(2018, 11, 1, tzinfo=timezone(timedelta(hours=8)))
    op.bulk_insert(
        rule_set,
        [
            {
                "version": 1,
                "name": "宁夏办法（2018）",
                "basis": BASIS,
                "state": "published",
                "effective_from": date(2018, 11, 1),
                "created_at": now,
                "published_at": now,
            }
        ],
    )
    conn = op.get_bind()
    first = conn.execute(sa.text("SELECT id FROM rule_set WHERE version = 1")).scalar_one()
    rows = [
        {
            "rule_set_id": first,
            "name": n,
            "days": d,
            "month_day": md,
            "article": a,
            "statutory": s,
        }
        for n, d, md, a, s in MEASURES_2018
    ]
    op.bulk_insert(rule_limit, rows)
    op.execute("UPDATE process_instance SET rule_set_version = 1")

    overrides = _env_overrides()
    if overrides:
        op.bulk_insert(
            rule_set,
            [
                {
                    "version": 2,
                    "name": "运维配置（原 GOVSHARE_DAYS_*）",
                    "basis": "GOVSHARE_DAYS_* "
                    + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())),
                    "state": "published",
                    "effective_from": date(2018, 11, 1),
                    "created_at": now,
                    "published_at": now,
                }
            ],
        )
        second = conn.execute(sa.text("SELECT id FROM rule_set WHERE version = 2")).scalar_one()
        op.bulk_insert(
            rule_limit,
            [
                {**r, "rule_set_id": second, "days": overrides.get(r["name"], r["days"])}
                for r in rows
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_column("rule_set_version")
    op.drop_table("rule_limit")
    op.drop_index("ix_rule_set_effective_from", table_name="rule_set")
    op.drop_table("rule_set")
