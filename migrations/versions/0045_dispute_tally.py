"""the dispute board's counts in figure_tally and durations read on the calendar: the summary is
recounted from the facts in plain SQL (as ``govshare reports rebuild`` counts it) — answers as
their pair of days (``answer_dates``, replacing the working days frozen in ``answer_days``), the
disputes escalated, open per day of escalation and decided per pair of days — and this recount
is also the back-fill of revision 0042, which creates the table only

Revision ID: 0045
Revises: 0044
"""

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None

# the kinds the figures count one by one (engine/oversight/summary.py, COUNTED), and those that
# count an instance once per year: figure -> the condition on a fact ``f``
COUNTED = (
    "request_submitted",
    "request_answered",
    "error_reported",
    "catalog_update_required",
    "catalog_update_done",
)
INSTANCES = {
    "negotiations": "f.kind = 'negotiation_opened'",
    "coordinations": "f.kind = 'coordination_opened'",
    "errors_fixed": "(f.kind = 'verification_corrected' OR "
    "(f.kind = 'verification_answered' AND f.decision = 'corrected'))",
}
INVOLVING = ("negotiations", "coordinations")  # under the instance's requester and provider


def _sql(postgres: bool) -> list[str]:
    """The statements that recount ``figure_tally`` from ``process_fact``."""

    def day(column: str) -> str:  # its day in Asia/Shanghai, as YYYY-MM-DD text
        if postgres:
            return f"to_char({column} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"
        return f"date({column}, '+8 hours')"

    def year(column: str) -> str:
        if postgres:
            return f"CAST(EXTRACT(YEAR FROM {column} AT TIME ZONE 'Asia/Shanghai') AS INTEGER)"
        return f"CAST(strftime('%Y', {column}, '+8 hours') AS INTEGER)"

    into = "INSERT INTO figure_tally (year, department_id, figure, value, n) "
    kinds = ", ".join(f"'{k}'" for k in COUNTED)
    met = "CASE WHEN f.met IS NULL THEN '' WHEN f.met THEN '1' ELSE '0' END"
    out = [
        "DELETE FROM figure_tally",
        into + f"SELECT {year('f.at')}, COALESCE(f.department_id, 0), 'fact:' || f.kind, "
        f"COALESCE(f.decision, '') || '|' || {met}, COUNT(*) FROM process_fact f "
        f"WHERE f.kind IN ({kinds}) GROUP BY 1, 2, 3, 4",
        into + f"SELECT {year('f.at')}, i.provider_department_id, 'received', '', COUNT(*) "
        "FROM process_fact f JOIN process_instance i ON i.id = f.instance_id "
        "WHERE f.kind = 'request_submitted' AND i.provider_department_id IS NOT NULL "
        "GROUP BY 1, 2",
        *(
            into + f"SELECT {year('f.at')}, {department}, '{figure}', "
            f"{day('f.opened_at')} || '|' || {day('f.at')}, COUNT(*) FROM process_fact f "
            "WHERE f.kind = 'request_answered' AND f.opened_at IS NOT NULL GROUP BY 1, 2, 3, 4"
            for department, figure in (
                ("COALESCE(f.department_id, 0)", "answer_dates"),
                ("0", "answer_dates@region"),
            )
        ),
    ]
    for figure, clause in INSTANCES.items():
        once = (
            f"SELECT DISTINCT {year('f.at')} AS y, f.instance_id FROM process_fact f WHERE {clause}"
        )
        out.append(
            into + f"SELECT y, 0, '{figure}@region', '', COUNT(*) FROM ({once}) o GROUP BY y"
        )
        if figure in INVOLVING:
            parties = " UNION ".join(
                f"SELECT o.y, o.instance_id, i.{side}_department_id AS party FROM ({once}) o "
                f"JOIN process_instance i ON i.id = o.instance_id"
                for side in ("requester", "provider")
            )
            out.append(
                into + f"SELECT y, party, '{figure}', '', COUNT(*) FROM ({parties}) p "
                "WHERE party IS NOT NULL GROUP BY y, party"
            )
        else:
            out.append(
                into + f"SELECT y, department_id, '{figure}', '', COUNT(*) FROM ("
                f"SELECT DISTINCT {year('f.at')} AS y, f.department_id, f.instance_id "
                f"FROM process_fact f WHERE {clause} AND f.department_id IS NOT NULL) d "
                "GROUP BY y, department_id"
            )
    # disputes: the first escalation of an instance, and whether a decision followed
    first = (
        "SELECT e.instance_id, e.at, e.department_id FROM process_fact e "
        "WHERE e.kind = 'coordination_opened' AND NOT EXISTS (SELECT 1 FROM process_fact x "
        "WHERE x.instance_id = e.instance_id AND x.kind = 'coordination_opened' "
        "AND (x.at < e.at OR (x.at = e.at AND x.id < e.id)))"
    )
    out += [
        into + "SELECT 0, COALESCE(e.department_id, 0), 'disputes', '', COUNT(*) "
        f"FROM ({first}) e GROUP BY 1, 2",
        # instances escalated and not decided, by the day of their first escalation
        into + f"SELECT 0, COALESCE(e.department_id, 0), 'disputes_open', {day('e.at')}, "
        f"COUNT(*) FROM ({first}) e WHERE NOT EXISTS (SELECT 1 FROM process_fact d "
        "WHERE d.instance_id = e.instance_id AND d.kind = 'coordination_decided') "
        "GROUP BY 1, 2, 3, 4",
        into + f"SELECT {year('d.at')}, COALESCE(d.department_id, 0), 'disputes_decided', "
        f"COALESCE({day('e.at')}, '') || '|' || {day('d.at')}, COUNT(*) "
        f"FROM process_fact d LEFT JOIN ({first}) e ON e.instance_id = d.instance_id "
        "WHERE d.kind = 'coordination_decided' GROUP BY 1, 2, 3, 4",
        "DELETE FROM figure_tally WHERE n = 0",
    ]
    return out


def upgrade() -> None:
    # the region's figures read by name, not the departments' own rows (their pairs of days)
    op.create_index(
        "ix_tally_figure", "figure_tally", ["year", "figure", "department_id", "value", "n"]
    )
    bind = op.get_bind()
    for statement in _sql(bind.dialect.name == "postgresql"):
        op.execute(sa.text(statement))


def downgrade() -> None:
    op.drop_index("ix_tally_figure", table_name="figure_tally")
    # the working days frozen in ``answer_days`` are not recounted: run ``govshare reports
    # rebuild`` with the older version after downgrading
    op.execute(
        sa.text(
            "DELETE FROM figure_tally WHERE figure IN "
            "('answer_dates', 'answer_dates@region', 'disputes', 'disputes_open', "
            "'disputes_decided')"
        )
    )
