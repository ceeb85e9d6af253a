"""The audit trail as an SM3 hash chain (issue 16, part 3): each event commits to the one before,
in commit order, also under concurrency; `govshare audit verify` names an edited, a deleted and an
inserted event; checkpoints record the head; the migration chains the events already stored."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from engine import audit
from engine.audit import GENESIS, AuditCheckpoint, AuditEvent, canonical, link
from engine.cli import main
from engine.clock import FakeClock
from engine.directory import authority_of, region_code
from engine.schema import upgrade
from engine.trust import keys, sm
from engine.trust.sm import sm3
from tests.conftest import HUKOU


def test_sm3_known_answers_of_gb_t_32905():
    assert sm3(b"abc").hex() == ("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    assert sm3(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def _record(factory, clock, n, kind="test_event", **detail):
    for i in range(n):
        with factory() as s, s.begin():
            audit.record(
                s, clock.now(), kind, object_type="test", object_ref=f"T-{i}", n=i, **detail
            )


def _events(factory):
    with factory() as s:
        return s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


def _verify(factory, **kw):
    with factory() as s:
        return audit.verify(s, **kw)


def test_each_event_links_to_the_one_before(session_factory, actors, clock):
    actors.request("civil.clerk", **HUKOU)
    _record(session_factory, clock, 2, reason="缺少依据")
    rows = _events(session_factory)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert [r.id for r in rows] == sorted(r.id for r in rows)  # commit order is id order too
    previous = GENESIS
    for row in rows:
        assert row.hash == sm3(previous + canonical(row)).hex()
        previous = bytes.fromhex(row.hash)
    # canonical bytes: every column, sorted keys, no whitespace, UTF-8
    body = json.loads(canonical(rows[-1]))
    assert set(body) == {
        "actor", "at", "detail", "instance", "kind", "object_ref", "object_type", "seq"
    }  # fmt: skip
    assert b" " not in canonical(rows[-1]) and "缺少依据".encode() in canonical(rows[-1])
    with session_factory() as s:
        assert audit.head(s) == (rows[-1].seq, rows[-1].hash)
    report = _verify(session_factory)
    assert report.ok and report.checked == len(rows)


def test_a_savepoint_rolled_back_takes_its_events_with_it(session_factory, clock):
    with session_factory() as s, s.begin():
        audit.record(s, clock.now(), "kept_before")
        with pytest.raises(ValueError), s.begin_nested():
            audit.record(s, clock.now(), "rolled_back")
            raise ValueError
        s.add(AuditEvent(at=clock.now(), kind="kept_after", detail={}))
    assert [e.kind for e in _events(session_factory)] == ["kept_before", "kept_after"]
    with session_factory() as s:
        audit.record(s, clock.now(), "never_committed")
        s.rollback()
    assert _verify(session_factory).ok and len(_events(session_factory)) == 2


def test_a_transaction_reads_its_own_events_before_it_commits(session_factory, clock):
    with session_factory() as s, s.begin():
        audit.record(s, clock.now(), "first", object_type="test", object_ref="R")
        assert [e.kind for e in audit.events_for(s, "test", "R")] == ["first"]
        audit.record(s, clock.now(), "second", object_type="test", object_ref="R")
    assert [e.seq for e in _events(session_factory)] == [1, 2]
    assert _verify(session_factory).ok


def test_concurrent_writers_keep_one_chain_in_commit_order(session_factory, clock):
    def work():
        _record(session_factory, clock, 5, kind="concurrent")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rows = _events(session_factory)
    assert [r.seq for r in rows] == list(range(1, 21))
    assert _verify(session_factory).ok


def test_two_transactions_committing_in_either_order_keep_the_chain(session_factory, engine, clock):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE)")
    # committed in the other order than begun: the chain follows the commits
    first, second = session_factory(), session_factory()
    audit.record(first, clock.now(), "begun_first")
    first.flush()
    audit.record(second, clock.now(), "begun_second")
    second.flush()
    second.commit()
    first.commit()
    assert [e.kind for e in _events(session_factory)] == ["begun_second", "begun_first"]
    # one holds the head (it read its own events), the other waits for it at its commit
    audit.record(first, clock.now(), "holder")
    assert audit.events_for(first, "x", "y") == []  # a read of events: written, head locked
    done = threading.Event()

    def commit_second():
        with session_factory() as s, s.begin():
            audit.record(s, clock.now(), "waiter")
        done.set()

    waiter = threading.Thread(target=commit_second)
    waiter.start()
    assert not done.wait(0.5)  # waits for the head, and nothing else
    first.commit()
    waiter.join(10)
    assert done.is_set()
    first.close()
    second.close()
    kinds = [e.kind for e in _events(session_factory)]
    assert kinds[-2:] == ["holder", "waiter"]
    assert _verify(session_factory).ok


# -- tampering, found by `govshare audit verify` --------------------------------------------------
@pytest.fixture
def chain(session_factory, clock, engine, monkeypatch):
    monkeypatch.setenv("GOVSHARE_LANG", "en")
    _record(session_factory, clock, 6)
    return {r.seq: r for r in _events(session_factory)}


def _cli(engine, capsys, *args):
    url = engine.url.render_as_string(hide_password=False)
    try:
        main(["--database", url, "audit", "verify", *args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().out


def test_verify_reports_an_intact_chain(chain, engine, capsys):
    code, out = _cli(engine, capsys)
    assert code == 0 and "intact" in out and "1 to 6" in out
    code, out = _cli(engine, capsys, "--from", "3", "--to", "5")
    assert code == 0 and "3 to 5" in out


def test_positions_outside_the_chain_are_refused_naming_the_option(chain, engine, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--database", engine.url.render_as_string(False), "audit", "verify", "--from", "9"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "First position" in err and "from 1 to 6" in err
    with pytest.raises(SystemExit):
        main(
            ["--database", engine.url.render_as_string(False), "audit", "verify"]
            + ["--from", "4", "--to", "2"]
        )
    assert "Last position" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # past the head: refused, not reported as deleted
        main(["--database", engine.url.render_as_string(False), "audit", "verify", "--to", "9"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Last position" in err and "from 1 to 6" in err


def test_an_edited_event_is_named(chain, engine, capsys):
    victim = chain[3]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET detail = :d WHERE id = :id"),
            {"d": json.dumps({"n": 2, "forged": "改过的理由"}), "id": victim.id},
        )
    code, out = _cli(engine, capsys)
    assert code == 1
    assert f"Edited event: chain position 3 (event id {victim.id})" in out
    assert "改过的理由" in out  # the stored values it shows
    report = _verify(engine_factory(engine))
    assert (report.broken.kind, report.broken.seq, report.broken.event_id) == (
        "edited", 3, victim.id
    )  # fmt: skip
    assert report.last == 2  # verified up to the event before


def test_an_edited_event_with_its_hash_recomputed_breaks_the_next_link(chain, engine, capsys):
    victim = chain[3]
    with engine_factory(engine)() as s, s.begin():
        row = s.get(AuditEvent, victim.id)
        row.actor_id = 999
        row.hash = link(bytes.fromhex(chain[2].hash), row).hex()
        s.execute(
            text("UPDATE audit_event SET actor_id = 999, hash = :h WHERE id = :id"),
            {"h": row.hash, "id": victim.id},
        )
        s.expunge(row)
    code, out = _cli(engine, capsys)
    assert code == 1
    assert f"chain position 4 (event id {chain[4].id})" in out
    assert f"the event before it, id {victim.id}" in out


def test_a_deleted_event_is_named(chain, engine, capsys):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 4"))
    code, out = _cli(engine, capsys)
    assert code == 1
    assert "Deleted events: chain positions 4 to 4 are missing" in out
    assert f"after event id {chain[3].id}, before event id {chain[5].id}" in out


def test_the_newest_event_deleted_is_named(chain, engine, capsys):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 6"))
    code, out = _cli(engine, capsys)
    assert code == 1 and "chain positions 6 to 6 are missing" in out


def test_an_inserted_event_is_named(chain, engine, capsys):
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (at, kind, detail) VALUES ('2026-09-18 02:00:00', 'forged', '{}')"
            )
        )
        forged = conn.scalar(text("SELECT max(id) FROM audit_event"))
    code, out = _cli(engine, capsys)
    assert code == 1
    assert f"Inserted event: event id {forged} has no chain position" in out


def test_an_event_inserted_after_the_head_is_named(chain, engine, capsys):
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (at, kind, detail, seq, hash)"
                " VALUES ('2026-09-18 02:00:00', 'forged', '{}', 7, :h)"
            ),
            {"h": "ab" * 32},
        )
        forged = conn.scalar(text("SELECT id FROM audit_event WHERE seq = 7"))
    code, out = _cli(engine, capsys)
    assert code == 1
    assert f"event id {forged} at chain position 7 lies beyond the chain head (position 6)" in out


def engine_factory(engine):
    from engine.app import build_engine

    return build_engine().sessions(engine)


# -- checkpoints ----------------------------------------------------------------------------------
def test_checkpoints_record_the_head_and_a_range_verifies_between_them(
    chain, session_factory, engine, capsys, clock
):
    url = engine.url.render_as_string(hide_password=False)
    main(["--database", url, "--now", clock.now().isoformat(), "audit", "checkpoint"])
    assert "Checkpoint" in capsys.readouterr().out
    with session_factory() as s:
        first = s.scalars(select(AuditCheckpoint)).one()
    assert (first.seq, first.hash) == (6, chain[6].hash)
    assert first.verified is True
    # signed by the region authority's key (engine/app.py configures the signer)
    with session_factory() as s:
        region = keys.active_key(s, authority_of(s, region_code(s)).id)
        assert region is not None and first.key_id == region.key_id
        payload = audit.checkpoint_bytes(first.seq, first.hash, first.at)
        assert sm.verify(payload, bytes.fromhex(first.signature), region.public_key)
    _record(session_factory, clock, 3)
    with session_factory() as s, s.begin():
        second = audit.write_checkpoint(s, clock)
        second_id = second.id
    code, out = _cli(engine, capsys, "--from-checkpoint", "--checkpoint", str(first.id))
    assert code == 0 and "intact" in out and f"checkpoint {second_id}" in out
    # the events between the checkpoints rewritten, each hash recomputed: the next checkpoint
    # no longer matches (the head and every link would)
    _rewrite_after(session_factory, first)
    code, out = _cli(engine, capsys, "--from-checkpoint", "--checkpoint", str(first.id))
    assert code == 1 and "does not match the hash the checkpoint recorded" in out


def test_the_worker_writes_a_checkpoint_once_per_interval(session_factory, clock):
    from engine.oversight.audit_log import checkpoint_job

    with session_factory() as s, s.begin():
        assert checkpoint_job(s, clock) is not None
    for later in (timedelta(hours=1), timedelta(hours=23)):
        with session_factory() as s, s.begin():
            assert checkpoint_job(s, FakeClock(clock.now() + later)) is None
    with session_factory() as s, s.begin():
        assert checkpoint_job(s, FakeClock(clock.now() + timedelta(days=1))) is not None
    with session_factory() as s:
        assert len(s.scalars(select(AuditCheckpoint)).all()) == 2


def test_a_signer_signs_checkpoints(session_factory, clock):
    before = audit.set_checkpoint_signer(lambda s, c, payload: ("region-2026", sm3(payload).hex()))
    try:
        with session_factory() as s, s.begin():
            cp = audit.write_checkpoint(s, clock)
            assert cp.key_id == "region-2026"
            assert cp.signature == sm3(audit.checkpoint_bytes(cp.seq, cp.hash, cp.at)).hex()
    finally:
        audit.set_checkpoint_signer(before)


# -- the migration --------------------------------------------------------------------------------
def test_the_migration_chains_the_events_stored_in_id_order(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0046")
    c = sqlite3.connect(path)
    for i in (1, 2, 3):
        c.execute(
            "INSERT INTO audit_event (id, at, kind, detail, object_type, object_ref)"
            " VALUES (?, ?, 'old', ?, 'test', ?)",
            (i * 10, f"2026-09-1{i} 02:00:00.000000", json.dumps({"n": i, "理由": "旧"}), f"R{i}"),
        )
    c.commit()
    c.close()
    upgrade(url)
    from engine.db import make_engine

    eng = make_engine(url)
    factory = engine_factory(eng)
    rows = _events(factory)
    assert [(r.id, r.seq) for r in rows] == [(10, 1), (20, 2), (30, 3)]
    assert rows[0].hash == sm3(GENESIS + canonical(rows[0])).hex()
    with factory() as s:
        assert audit.head(s) == (3, rows[-1].hash)
    assert _verify(factory).ok
    clock = FakeClock("2026-09-20T10:00:00+08:00")
    _record(factory, clock, 1)  # the chain goes on from the back-filled head
    assert [r.seq for r in _events(factory)] == [1, 2, 3, 4]
    assert _verify(factory).ok
    eng.dispose()


def test_the_head_lock_is_the_last_lock_no_deadlock_with_a_locked_user(
    session_factory, engine, clock
):
    """An event naming a user whom another transaction holds locked (e.g. setting a
    delegation) never waits for that transaction: the events have no foreign keys, so the
    transaction holding the head never waits for a lock while another waits for the head."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE)")
    from engine.directory import user_by_name
    from engine.directory.models import User

    with session_factory() as s:
        user_id = user_by_name(s, "civil.clerk").id
    holder = session_factory()
    audit.record(holder, clock.now(), "holder")
    holder.execute(select(AuditEvent.id).limit(1))  # its events written: it holds the head
    locked, done = threading.Event(), threading.Event()

    def lock_the_user_then_commit():
        with session_factory() as s, s.begin():
            s.execute(select(User.id).where(User.id == user_id).with_for_update())
            audit.record(s, clock.now(), "user_locked", actor_id=user_id)
            locked.set()
        done.set()

    other = threading.Thread(target=lock_the_user_then_commit)
    other.start()
    assert locked.wait(10) and not done.wait(0.3)  # it waits for the head at its commit
    audit.record(holder, clock.now(), "names_the_locked_user", actor_id=user_id)
    holder.commit()  # would wait for the user's lock (and deadlock) with a foreign key
    holder.close()
    other.join(10)
    assert done.is_set()
    assert [e.kind for e in _events(session_factory)] == [
        "holder",
        "names_the_locked_user",
        "user_locked",
    ]
    assert _verify(session_factory).ok


def test_the_head_is_locked_after_every_other_write_of_the_transaction(
    session_factory, engine, clock
):
    """Changes still unflushed at the commit are written before the head is locked."""
    from engine.directory import user_by_name
    from tests import sql_counting

    with session_factory() as s, s.begin():
        user = user_by_name(s, "civil.clerk")
        name = user.display_name
        with sql_counting.statements(engine, flat=True) as seen:
            audit.record(s, clock.now(), "renamed", actor_id=user.id)
            user.display_name = "改名"
            s.commit()
    try:
        head = next(i for i, q in enumerate(seen) if q.startswith("SELECT audit_chain_head"))
        assert any(q.startswith("UPDATE app_user") for q in seen[:head])
        assert [q.split()[0] for q in seen[head + 1 :]] == ["INSERT", "UPDATE"]
    finally:  # the seeded official keeps its name for the tests after this one
        with session_factory() as s, s.begin():
            user_by_name(s, "civil.clerk").display_name = name


def test_a_checkpoint_after_a_break_records_it_and_the_worker_logs_it(
    chain, session_factory, engine, clock, caplog
):
    from engine.oversight.audit_log import checkpoint_job

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    with session_factory() as s, s.begin():
        checkpoint = checkpoint_job(s, clock)
        assert checkpoint is not None and checkpoint.verified is False
        assert "chain positions 2 to 2 are missing" in str(audit.checkpoint_problem(checkpoint))
    assert "audit chain broken" in caplog.text


# -- checkpoints' signatures ----------------------------------------------------------------------
def _rewrite_after(session_factory, first):
    """The events after checkpoint ``first`` rewritten, each hash and the head recomputed: the
    new hash at the head."""
    with session_factory() as s, s.begin():
        previous = bytes.fromhex(first.hash)
        for row in s.scalars(
            select(AuditEvent).where(AuditEvent.seq > first.seq).order_by(AuditEvent.seq)
        ):
            if row.seq == first.seq + 2:
                row.kind = "rewritten"
            row.hash = link(previous, row).hex()
            previous = bytes.fromhex(row.hash)
            s.execute(
                text("UPDATE audit_event SET kind = :k, hash = :h WHERE id = :id"),
                {"k": row.kind, "h": row.hash, "id": row.id},
            )
            s.expunge(row)
        s.execute(text("UPDATE audit_chain_head SET hash = :h"), {"h": previous.hex()})
    return previous.hex()


def _forged(cp, hash_hex):
    """Another key's signature on the checkpoint with ``hash_hex``, under the region key's id."""
    pair = sm.generate_keypair()
    return sm.sign(audit.checkpoint_bytes(cp.seq, hash_hex, cp.at), pair.private, pair.public).hex()


@pytest.mark.parametrize("replacement", ["unsigned", "forged"])
def test_a_rewritten_range_with_its_signed_checkpoint_replaced_is_named(
    chain, session_factory, engine, capsys, clock, replacement
):
    with session_factory() as s, s.begin():
        first = audit.write_checkpoint(s, clock)
    _record(session_factory, clock, 3)
    with session_factory() as s, s.begin():
        second = audit.write_checkpoint(s, clock)
    assert second.signature and _cli(engine, capsys)[0] == 0
    new_hash = _rewrite_after(session_factory, first)
    signature = None if replacement == "unsigned" else _forged(second, new_hash)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE audit_checkpoint SET hash = :h, signature = :sig, key_id = :k WHERE id = :id"
            ),
            {
                "h": new_hash,
                "sig": signature,
                "k": None if signature is None else second.key_id,
                "id": second.id,
            },
        )
    named = f"Checkpoint {second.id} (position {second.seq})"
    why = "is not signed" if replacement == "unsigned" else "does not verify with a key"
    for args in ((), ("--from-checkpoint", "--checkpoint", str(first.id))):
        code, out = _cli(engine, capsys, *args)
        assert code == 1 and named in out and why in out
    # the range before the checkpoints still verifies
    assert _cli(engine, capsys, "--to", str(first.seq))[0] == 0


def test_a_range_starting_from_an_unsigned_checkpoint_is_not_trusted(
    chain, session_factory, engine, capsys, clock
):
    with session_factory() as s, s.begin():
        first = audit.write_checkpoint(s, clock)
    _record(session_factory, clock, 2)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_checkpoint SET signature = NULL, key_id = NULL"))
    code, out = _cli(engine, capsys, "--from-checkpoint", "--checkpoint", str(first.id))
    assert code == 1 and f"Checkpoint {first.id} (position {first.seq}) is not signed" in out


def test_a_checkpoint_recording_another_hash_is_named(
    chain, session_factory, engine, capsys, clock
):
    with session_factory() as s, s.begin():
        cp = audit.write_checkpoint(s, clock)
    forged_hash = "cd" * 32
    with session_factory() as s, s.begin():  # re-signed by the region's own key: only the hash
        _, sign = keys.region_signer(s, clock)
        signature = sign(audit.checkpoint_bytes(cp.seq, forged_hash, cp.at)).hex()
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_checkpoint SET hash = :h, signature = :sig"),
            {"h": forged_hash, "sig": signature},
        )
    code, out = _cli(engine, capsys)
    assert code == 1 and f"hash the checkpoint recorded (checkpoint {cp.id})" in out
