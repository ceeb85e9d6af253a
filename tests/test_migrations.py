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
