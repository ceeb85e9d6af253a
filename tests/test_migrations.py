"""Migrations carry existing data forward: a database with requests at revision 0001 upgrades to
head (SQLite batch migrations copy tables with foreign keys off) and back."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from engine.schema import downgrade, upgrade

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="builds its own SQLite database file"
)


def test_upgrade_from_the_first_revision_keeps_and_backfills_data(tmp_path):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0001")
    c = sqlite3.connect(path)
    c.execute("PRAGMA foreign_keys=ON")
    c.execute("INSERT INTO division VALUES ('640000', '宁夏回族自治区', 'Ningxia', 'region', NULL)")
    for i, slug in enumerate(("civil", "pubsec", "data"), 1):
        c.execute(
            "INSERT INTO department (id, slug, name, name_en, division_code, is_authority, duties) VALUES (?, ?, ?, ?, '640000', ?, '[]')",
            (i, slug, slug, slug, slug == "data"),
        )
    c.execute(
        "INSERT INTO process_definition (id, process_id, version, content_hash, name, source_file, bpmn_xml, spec_json, forms, task_meta, deployed_at) "
        "VALUES (1, 'share_request', 1, 'h', 'n', 'f', '<x/>', '{}', '{}', '{}', '2026-09-18 02:00:00')"
    )
    c.execute(
        "INSERT INTO process_instance (id, business_key, definition_id, process_id, status, bindings, summary, state, version, created_at, updated_at) "
        "VALUES (1, 'GX-2026-000001', 1, 'share_request', 'running', ?, '{}', x'00', 1, '2026-09-18 02:00:00', '2026-09-18 02:00:00')",
        (json.dumps({"requester": 1, "provider": 2, "authority": 3}),),
    )
    c.execute(
        "INSERT INTO human_task (instance_id, spiff_task_id, task_name, title, role, department_id, statute, state, due_at, created_at) "
        "VALUES (1, 't1', 'provider_review', '审核共享申请', 'provider', 2, '', 'open', '2026-10-09 16:00:00', '2026-09-18 02:00:00')"
    )
    c.execute(
        "INSERT INTO human_task (instance_id, spiff_task_id, task_name, title, role, department_id, statute, state, created_at) "
        "VALUES (1, 't2', 'after_refusal', '决定是否协商', 'requester', 1, '', 'open', '2026-09-18 02:00:00')"
    )
    c.commit()
    c.close()

    upgrade(url)
    c = sqlite3.connect(path)
    assert c.execute(
        "SELECT requester_department_id, provider_department_id, authority_department_id FROM process_instance"
    ).fetchall() == [(1, 2, 3)]
    sorts = dict(c.execute("SELECT spiff_task_id, due_sort FROM human_task").fetchall())
    assert sorts["t1"].startswith("2026-10-09 16:00:00") and sorts["t2"].startswith("9999-12-31")
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    c.close()

    downgrade(url, "0001")
    upgrade(url)
    c = sqlite3.connect(path)
    assert c.execute("SELECT count(*) FROM human_task").fetchone() == (2,)
    c.close()


def test_upgrade_backfills_the_facts_earlier_versions_kept_as_tasks(tmp_path):
    from engine.app import build_engine
    from engine.db import make_engine
    from engine.oversight.reports import figures

    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0010")
    c = sqlite3.connect(path)
    c.execute("INSERT INTO division VALUES ('640000', '宁夏回族自治区', 'Ningxia', 'region', NULL)")
    for i, slug in enumerate(("civil", "pubsec", "data"), 1):
        c.execute(
            "INSERT INTO department (id, slug, name, name_en, division_code, is_authority, duties) VALUES (?, ?, ?, ?, '640000', ?, '[]')",
            (i, slug, slug, slug, slug == "data"),
        )
    c.execute(
        "INSERT INTO process_definition (id, process_id, version, content_hash, name, source_file, bpmn_xml, spec_json, forms, task_meta, deployed_at, active) "
        "VALUES (1, 'share_request', 1, 'h', 'n', 'f', '<x/>', '{}', '{}', '{}', '2026-09-18 02:00:00', 1)"
    )
    c.execute(
        "INSERT INTO process_instance (id, business_key, definition_id, process_id, status, bindings, summary, state, version, created_at, updated_at, requester_department_id, provider_department_id, authority_department_id) "
        "VALUES (1, 'GX-2026-000001', 1, 'share_request', 'completed', ?, '{}', x'00', 1, '2026-09-18 02:00:00', '2026-09-24 02:00:00', 1, 2, 3)",
        (json.dumps({"requester": 1, "provider": 2, "authority": 3}),),
    )
    tasks = [
        (
            "provider_review",
            2,
            "2026-09-18 02:00:00",
            "2026-09-22 02:00:00",
            "2026-10-09 16:00:00",
            {"review_decision": "refuse", "review_reason": "超出范围"},
        ),
        (
            "requester_position",
            1,
            "2026-09-22 02:00:00",
            "2026-09-22 03:00:00",
            "2026-10-12 16:00:00",
            {"requester_position": "确需"},
        ),
        (
            "provider_position",
            2,
            "2026-09-22 03:00:00",
            "2026-09-22 04:00:00",
            "2026-10-12 16:00:00",
            {"provider_position": "隐私", "negotiation_result": "failed"},
        ),
        (
            "coordinate",
            3,
            "2026-09-22 04:00:00",
            "2026-09-24 02:00:00",
            None,
            {"coordination_action": "decide"},
        ),
    ]
    for n, (name, dept, created, completed, due, data) in enumerate(tasks):
        c.execute(
            "INSERT INTO human_task (instance_id, spiff_task_id, task_name, title, role, department_id, statute, state, due_at, due_sort, created_at, completed_at, data) "
            "VALUES (1, ?, ?, ?, 'x', ?, '', 'completed', ?, '9999-12-31 00:00:00', ?, ?, ?)",
            (f"t{n}", name, name, dept, due, created, completed, json.dumps(data)),
        )
    c.execute(
        "INSERT INTO dossier_entry (instance_id, kind, party, text, details, at) "
        "VALUES (1, 'decision', 'authority', '依据不足', ?, '2026-09-24 02:00:00')",
        (json.dumps({"decision": "uphold"}),),
    )
    c.commit()
    c.close()

    upgrade(url)
    c = sqlite3.connect(path)
    rows = c.execute(
        "SELECT kind, role, department_id, decision, reasons, met, details FROM process_fact ORDER BY at, id"
    ).fetchall()
    assert [(*r[:6], json.loads(r[6])) for r in rows] == [
        ("request_submitted", "requester", 1, None, None, None, {}),
        ("request_answered", "provider", 2, "refused", "超出范围", 1, {}),
        ("negotiation_opened", "requester", 1, None, None, 1, {}),
        ("position_stated", "requester", 1, None, None, 1, {"position": "确需"}),
        ("position_stated", "provider", 2, None, None, 1, {"position": "隐私"}),
        ("coordination_opened", "authority", 3, None, None, None, {}),
        ("coordination_decided", "authority", 3, "refusal_upheld", "依据不足", None, {}),
    ]
    c.close()
    engine = make_engine(url)
    with build_engine().sessions(engine)() as session:
        pubsec = figures(session, 2026, 2)
    engine.dispose()
    assert (pubsec["answered"], pubsec["refusals"], pubsec["median_days_to_answer"]) == (1, 1, 3)
    assert (pubsec["negotiations"], pubsec["coordinations"]) == (1, 1)
    assert (pubsec["requests_received"], pubsec["requests_sent"]) == (1, 0)


def test_upgrade_marks_grants_narrower_than_requested_in_part(tmp_path):
    """Revision 0025: a grant issued as ``granted`` for fewer items or a shorter period than the
    request asked reads ``granted_in_part``, on the grant and in its request's summary."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0020")
    c = sqlite3.connect(path)
    c.execute("INSERT INTO division VALUES ('640000', '宁夏回族自治区', 'Ningxia', 'region', NULL)")
    c.execute(
        "INSERT INTO department (id, slug, name, name_en, division_code, is_authority, duties) "
        "VALUES (1, 'civil', 'civil', 'civil', '640000', 0, '[]')"
    )
    c.execute(
        "INSERT INTO process_definition (id, process_id, version, content_hash, name, source_file, bpmn_xml, spec_json, forms, task_meta, deployed_at, active) "
        "VALUES (1, 'share_request', 1, 'h', 'n', 'f', '<x/>', '{}', '{}', '{}', '2026-09-18 02:00:00', 1)"
    )
    asked = {
        "info_items": ["公民身份号码", "变动类型"],
        "period_start": "2026-10-01",
        "period_end": "2027-09-30",
        "decision": "granted",
    }
    grants = [  # (basis, items, end): fewer items; a shorter period; everything asked; unconditional
        ("negotiated", ["公民身份号码"], "2027-09-30"),
        ("coordinated", ["公民身份号码", "变动类型"], "2027-03-31"),
        ("negotiated", ["公民身份号码", "变动类型"], "2027-09-30"),
        ("unconditional", ["公民身份号码"], "2027-09-30"),
    ]
    for n, (basis, items, end) in enumerate(grants, 1):
        c.execute(
            "INSERT INTO process_instance (id, business_key, definition_id, process_id, status, bindings, summary, state, version, created_at, updated_at) "
            "VALUES (?, ?, 1, 'share_request', 'completed', '{}', ?, x'00', 1, '2026-09-18 02:00:00', '2026-09-18 02:00:00')",
            (n, f"GX-2026-00000{n}", json.dumps(asked)),
        )
        c.execute(
            "INSERT INTO data_grant (instance_id, resource_id, requester_id, info_items, period_start, period_end, purpose, basis, granted_at, decision) "
            "VALUES (?, 1, 1, ?, '2026-10-01', ?, '核定', ?, '2026-09-18 02:00:00', 'granted')",
            (n, json.dumps(items, ensure_ascii=False), end, basis),
        )
    c.commit()
    c.close()

    upgrade(url)
    c = sqlite3.connect(path)
    decided = c.execute("SELECT decision FROM data_grant ORDER BY instance_id").fetchall()
    summaries = c.execute("SELECT summary FROM process_instance ORDER BY id").fetchall()
    indexes = {r[1] for r in c.execute("PRAGMA index_list('breach')").fetchall()}
    held = c.execute(
        "SELECT grant_id, requester_id, resource_id, item, until FROM data_grant_item"
    ).fetchall()
    c.close()
    # revision 0046: the grant check's rows, one per info item of each grant
    assert sorted(held) == sorted(
        (n, 1, 1, item, end) for n, (_, items, end) in enumerate(grants, 1) for item in items
    )
    in_part = ["granted_in_part", "granted_in_part", "granted", "granted"]
    assert [d for (d,) in decided] == in_part
    assert [json.loads(s)["decision"] for (s,) in summaries] == in_part
    assert {"ix_breach_recorded", "ix_breach_department_recorded"} <= indexes
