"""`govshare backup FILE` / `govshare restore FILE`: back up, wipe, restore gives the same rows in
every table and the same attachment files, on SQLite and on PostgreSQL (a database of the test's
own beside the test database, so the wipe never touches what other tests use)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import MetaData, make_url, pool, select, text

from engine.app import build_engine
from engine.cli import main
from engine.clock import FakeClock
from engine.db import make_engine
from engine.schema import upgrade
from engine.seed import seed_all
from engine.sharing import requests as share_requests
from engine.workflow import attachments
from tests.conftest import HUKOU, Actors
from tests.test_attachments import GOOD

NOW = "2026-09-18T10:00:00+08:00"


@pytest.fixture(scope="module")
def own_url(db_url, tmp_path_factory):
    """An empty database of this module's own, on the test database's server (or a file)."""
    if not db_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('backup') / 'govshare.db'}"
        return
    name = f"{make_url(db_url).database}_backup"
    admin = make_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def installation(own_url, tmp_path_factory):
    """The seeded database with two share requests (one answered) and three attachment files."""
    folder = tmp_path_factory.mktemp("attachments")
    upgrade(own_url)
    database = make_engine(own_url)
    factory = build_engine().sessions(database)
    clock = FakeClock(NOW)
    with factory() as s, s.begin():
        seed_all(s, clock, demo=True)
    actors = Actors(factory, clock)
    first = actors.request("civil.clerk", **HUKOU)
    actors.request("civil.clerk", **{**HUKOU, "purpose": "核定特困人员户籍状况"})
    actors.complete(
        "pubsec.clerk", first, "provider_review", review_decision="refuse", review_reason="超范围"
    )

    def attach(s):
        inst = share_requests.instance_by_key(s, first)
        user = actors.user(s, "pubsec.clerk")
        for name in ("scan.pdf", "note.txt", "letter.docx"):
            attachments.store(
                s, clock, str(folder), inst.id, None, user.id, name, "", io.BytesIO(GOOD[name])
            )

    actors.run(attach)
    database.dispose()
    return own_url, folder


def rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    database = make_engine(url, poolclass=pool.NullPool)
    meta = MetaData()
    meta.reflect(database)
    with database.connect() as conn:
        out = {
            name: [
                tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for name, table in meta.tables.items()
        }
    database.dispose()
    return out


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def wipe(url: str, folder: Path) -> None:
    if url.startswith("sqlite"):
        path = make_url(url).database
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    else:
        database = make_engine(url, poolclass=pool.NullPool)
        meta = MetaData()
        meta.reflect(database)
        meta.drop_all(database)
        database.dispose()
    for p in folder.iterdir():
        p.unlink()


def govshare(url, *argv) -> None:
    main(["--database", url, "--now", NOW, *argv])


def test_backup_wipe_restore_gives_the_same_rows_and_attachments(installation, tmp_path, capsys):
    url, folder = installation
    before, files_before = rows(url), files(folder)
    assert len(before["process_instance"]) == 2 and len(files_before) == 3
    archive = tmp_path / "govshare.backup"
    govshare(url, "backup", str(archive), "--attachments", str(folder))
    assert "3 attachments" in capsys.readouterr().out
    wipe(url, folder)
    assert files(folder) == {}
    govshare(url, "restore", str(archive), "--attachments", str(folder))
    printed = capsys.readouterr().out
    assert "process_instance: 2" in printed and "3 attachments" in printed
    after = rows(url)
    restored = [r for r in after["audit_event"] if r[4] == "database.restored"]
    assert len(restored) == 1  # the restore itself is audited, in the restored database
    after["audit_event"] = [r for r in after["audit_event"] if r not in restored]
    # the restore's event is chained after the restored head (its position and hash last)
    (_, seq, head_hash), (_, restored_seq, _) = (
        after.pop("audit_chain_head")[0],
        before.pop("audit_chain_head")[0],
    )
    assert (seq, head_hash) == (restored_seq + 1, restored[0][-1]) == tuple(restored[0][-2:])
    assert after == before
    assert files(folder) == files_before
    # the restored database goes on numbering where it stopped (sequences restored too)
    database = make_engine(url)
    actors = Actors(build_engine().sessions(database), FakeClock(NOW))
    assert actors.request("civil.clerk", **{**HUKOU, "purpose": "复核"}).startswith("GX-")
    database.dispose()


def test_restore_refuses_a_database_that_holds_data_unless_forced(installation, tmp_path, capsys):
    url, folder = installation
    archive = tmp_path / "govshare.backup"
    govshare(url, "backup", str(archive), "--attachments", str(folder))
    database = make_engine(url, poolclass=pool.NullPool)
    with database.begin() as conn:
        conn.execute(text("DELETE FROM outbox"))  # a change made after the backup
    before = rows(url)
    with pytest.raises(SystemExit) as refused:
        govshare(url, "restore", str(archive), "--attachments", str(folder))
    assert refused.value.code == 2 and "--force" in capsys.readouterr().err
    assert rows(url) == before  # nothing written
    govshare(url, "restore", str(archive), "--attachments", str(folder), "--force")
    with database.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM outbox")) > 0  # the backup's rows again
    database.dispose()


def test_restore_refuses_a_file_that_is_not_a_backup(installation, tmp_path, capsys):
    url, _folder = installation
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w"):
        pass
    with pytest.raises(SystemExit) as refused:
        govshare(url, "restore", str(junk), "--force")
    assert refused.value.code == 2 and "not a govshare backup" in capsys.readouterr().err


def test_restore_refuses_a_backup_of_the_other_database_kind(installation, tmp_path, capsys):
    url, _folder = installation
    other = "postgresql" if url.startswith("sqlite") else "sqlite"
    archive = tmp_path / "other.backup"
    data = {"format": 1, "dialect": other, "taken_at": NOW, "tables": {}, "attachments": 0}
    manifest = json.dumps(data).encode()
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    before = rows(url)
    with pytest.raises(SystemExit) as refused:
        govshare(url, "restore", str(archive), "--force")
    assert refused.value.code == 2 and f"backup of a {other} database" in capsys.readouterr().err
    assert rows(url) == before  # nothing written
