"""The auditor's bundle (docs/trust.md): a period's signed decisions, the audit chain segment that
covers it, its checkpoints and the public keys, verified offline by one command; a flipped byte
anywhere fails it and the report names where."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest

from engine.cli import main
from engine.errors import ValidationFailed
from engine.trust import bundle, sm
from engine.trust.keys import region_signer
from tests.conftest import HUKOU
from tests.test_coordination import to_coordination
from tests.test_deployment import cli
from tests.test_share_request_process import SCOPE

SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))


@pytest.fixture
def decided(actors, clock):
    """A period with signed decisions: a provider's reply and a coordination decision."""
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    disputed = to_coordination(actors)
    actors.complete(
        "data.coord",
        disputed,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="依据不足",
    )
    clock.set("2026-10-09T10:00:00+08:00")  # the bundle of September is asked for later
    return key, disputed


def exported(actors, period=SEPTEMBER) -> bytes:
    """As the command does: the closing checkpoint in its own transaction, then the export."""
    actors.run(lambda s: bundle.close_period(s, actors.clock, *period))

    def go(s):
        signer = region_signer(s, actors.clock)
        return bundle.export_bytes(s, actors.clock, *period, signer=signer)

    return actors.run(go)


def region_key(actors) -> str:
    return actors.run(lambda s: region_signer(s, actors.clock)[0])


def verified(actors, data: bytes) -> bundle.BundleReport:
    return bundle.verify(io.BytesIO(data), [region_key(actors)])


def files_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def problems(actors, data: bytes) -> list[str]:
    return [str(p) for p in verified(actors, data).problems]


def test_an_exported_bundle_verifies_offline_with_everything_it_holds(actors, decided):
    data = exported(actors)
    report = verified(actors, data)
    assert report.valid, [str(p) for p in report.problems]
    assert report.signatures == 3  # the reply, and the dispute's refusal and coordination decision
    assert report.events > 10 and report.segment is not None and report.segment[0] == 1
    assert report.checkpoints >= 1 and report.manifest_signed
    files = files_of(data)
    kinds = [json.loads(line)["kind"] for line in files["signatures.jsonl"].splitlines()]
    assert sorted(kinds) == ["coordination_decision", "provider_reply", "provider_reply"]
    # every key a signature names is in the bundle, as a PEM OpenSSL reads
    for line in files["signatures.jsonl"].splitlines():
        pem = files[f"keys/{json.loads(line)['key_id']}.pem"].decode()
        assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    # each event line is the exact bytes its hash covers, linked to the one before
    previous = bytes.fromhex(json.loads(files["audit/anchor.json"])["hash"])
    for line in files["audit/events.txt"].splitlines():
        stored, _, canonical = line.partition(b" ")
        assert sm.sm3(previous + canonical).hex() == stored.decode()
        previous = bytes.fromhex(stored.decode())


def test_a_period_starts_after_the_checkpoint_before_it_and_the_export_is_audited(
    actors, clock, capsys, db_url
):
    actors.request("civil.clerk", **HUKOU)
    clock.set("2026-09-30T23:00:00+08:00")  # the worker's daily checkpoint
    assert cli(capsys, db_url, clock, "audit", "checkpoint")[0] == 0
    clock.set("2026-10-09T10:00:00+08:00")
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    clock.set("2026-11-02T10:00:00+08:00")
    october = exported(actors, (date(2026, 10, 1), date(2026, 10, 31)))
    report = verified(actors, october)
    assert report.valid and report.signatures == 1
    assert report.segment is not None and report.segment[0] > 1  # anchored at September's close
    anchor = json.loads(files_of(october)["audit/anchor.json"])
    assert anchor["checkpoint"]["signature"]  # the anchor is a signed checkpoint
    assert '"object_ref":"GX-2026-000001"' not in files_of(october)["audit/events.txt"].decode()
    exported(actors, (date(2026, 10, 1), date(2026, 10, 31)))
    november = exported(actors, (date(2026, 11, 1), date(2026, 11, 30)))
    assert '"kind":"bundle_exported"' in files_of(november)["audit/events.txt"].decode()


@pytest.mark.parametrize(
    "name",
    ["manifest.json", "signatures.jsonl", "audit/events.txt", "audit/checkpoints.jsonl"],
)
def test_a_flipped_byte_in_any_file_fails_and_is_named(actors, decided, name):
    files = files_of(exported(actors))
    files[name] = flipped(files[name], len(files[name]) // 2)
    found = problems(actors, zipped(files))
    assert found, name
    if name != "manifest.json":
        assert any(name in p for p in found), found


def test_a_flipped_byte_in_the_zip_file_itself_fails(actors, decided):
    data = exported(actors)
    for at in (len(data) // 3, len(data) // 2, len(data) - 30):
        assert problems(actors, flipped(data, at)), at


def test_an_edit_with_every_digest_and_hash_recomputed_still_fails(actors, decided):
    """Someone who changes a signed reason and recomputes the chain and the manifest cannot
    re-sign: the decision's signature, the closing checkpoint and the manifest's signature fail."""
    files = files_of(exported(actors))
    lines = files["signatures.jsonl"].splitlines()
    entry = json.loads(lines[0])
    entry["canonical"] = entry["canonical"].replace("approve", "approve_in_part", 1)
    entry["digest"] = sm.sm3(entry["canonical"].encode()).hex()
    lines[0] = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    files["signatures.jsonl"] = b"\n".join(lines) + b"\n"
    events = files["audit/events.txt"].splitlines()
    previous = bytes.fromhex(json.loads(files["audit/anchor.json"])["hash"])
    rebuilt = []
    for n, line in enumerate(events):
        _, _, canonical = line.partition(b" ")
        if n == 3:
            row = json.loads(canonical)
            row["kind"] = "edited"
            canonical = json.dumps(
                row, ensure_ascii=False, sort_keys=True, separators=(",", ":")
            ).encode()
        previous = sm.sm3(previous + canonical)
        rebuilt.append(previous.hex().encode() + b" " + canonical)
    files["audit/events.txt"] = b"\n".join(rebuilt) + b"\n"
    manifest = json.loads(files["manifest.json"])
    for name in manifest["files"]:
        manifest["files"][name] = sm.sm3(files[name]).hex()
    files["manifest.json"] = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    found = problems(actors, zipped(files))
    assert any("SM2 signature does not verify" in p or "签名" in p for p in found), found
    assert any("Checkpoint at position" in p or "检查点" in p for p in found), found
    assert any("manifest" in p.lower() or "清单" in p for p in found), found


def test_the_command_line_exports_and_verifies_without_a_database(
    actors, decided, capsys, db_url, clock, tmp_path
):
    target = tmp_path / "bundle-2026-09.zip"
    status, out, err = cli(
        capsys, db_url, clock, "bundle", "export", "--from", "2026-09-01", "--to", "2026-09-30",
        str(target),
    )  # fmt: skip
    assert status == 0, err
    assert target.exists() and "2026-09" in out
    # offline: no database named at all
    try:
        main(["bundle", "verify", str(target), "--region-key", region_key(actors)])
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    out = capsys.readouterr().out
    assert status == 0 and "VALID" in out
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(flipped(target.read_bytes(), target.stat().st_size // 2))
    with pytest.raises(SystemExit) as failed:
        main(["bundle", "verify", str(damaged), "--region-key", region_key(actors)])
    assert failed.value.code == 1 and "INVALID" in capsys.readouterr().out


def test_a_period_ending_before_it_starts_is_refused_naming_the_field(
    actors, capsys, db_url, clock
):
    with pytest.raises(ValidationFailed) as refused:
        bundle.period("2026-09-30", "2026-09-01")
    assert [d["field"] for d in refused.value.details] == ["to"]
    status, _, err = cli(
        capsys, db_url, clock, "bundle", "export", "--from", "2026-13-01", "--to", "2026-09-30",
        "x.zip",
    )  # fmt: skip
    assert status != 0 and ("First day" in err or "起始日" in err or "第一天" in err), err


def _resigned(files: dict[str, bytes], pair: sm.KeyPair) -> dict[str, bytes]:
    """The bundle as a forger would make it: checkpoints and manifest signed with their own key,
    whose public key they put in the bundle."""
    key_id = sm.fingerprint(pair.public)
    lines = []
    for line in files["audit/checkpoints.jsonl"].splitlines():
        cp = json.loads(line)
        payload = json.dumps(
            {"at": cp["at"], "hash": cp["hash"], "seq": cp["seq"]},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        cp["key_id"], cp["signature"] = key_id, sm.sign(payload, pair.private, pair.public).hex()
        lines.append(json.dumps(cp, sort_keys=True, separators=(",", ":")).encode())
    files["audit/checkpoints.jsonl"] = b"\n".join(lines) + b"\n"
    files[f"keys/{key_id}.pem"] = sm.public_key_pem(pair.public).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = {
        name: sm.sm3(data).hex()
        for name, data in files.items()
        if name not in ("manifest.json", "manifest.sig")
    }
    manifest["signed_by"] = key_id
    files["manifest.json"] = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    files["manifest.sig"] = sm.sign(files["manifest.json"], pair.private, pair.public)
    return files


def test_a_bundle_signed_with_any_key_but_the_region_authoritys_fails(actors, decided):
    forged = zipped(_resigned(files_of(exported(actors)), sm.generate_keypair()))
    found = problems(actors, forged)
    assert any("trusted key" in p or "可信" in p for p in found), found
    # trusting the forger's key instead is what verification must never do on its own: it
    # trusts only the key named by the region, never one the bundle brings
    assert bundle.verify(io.BytesIO(forged), []).problems


def test_a_bundle_without_its_signatures_or_its_closing_checkpoint_fails(actors, decided):
    files = files_of(exported(actors))
    unsigned = {k: v for k, v in files.items() if k != "manifest.sig"}
    assert any("manifest" in p.lower() or "清单" in p for p in problems(actors, zipped(unsigned)))
    emptied = dict(files)
    emptied["audit/checkpoints.jsonl"] = b""
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["audit/checkpoints.jsonl"] = sm.sm3(b"").hex()
    emptied["manifest.json"] = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    found = problems(actors, zipped(emptied))
    assert any("does not end at a signed checkpoint" in p or "检查点" in p for p in found), found


def test_the_command_line_refuses_a_cut_key_id_and_a_missing_file_naming_them(
    actors, decided, capsys, db_url, clock, tmp_path
):
    status, _, err = cli(
        capsys, db_url, clock, "bundle", "export", "--from", "2026-09-01", "--to", "2026-09-30",
        str(tmp_path / "no-such-folder" / "b.zip"),
    )  # fmt: skip
    assert status != 0 and ("Bundle file" in err or "审计包文件" in err), err
    target = tmp_path / "b.zip"
    assert cli(
        capsys, db_url, clock, "bundle", "export", "--from", "2026-09-01", "--to", "2026-09-30",
        str(target),
    )[0] == 0  # fmt: skip
    for args in (
        [str(target), "--region-key", region_key(actors)[:16]],  # cut as a list might show it
        [str(tmp_path / "missing.zip"), "--region-key", region_key(actors)],
    ):
        with pytest.raises(SystemExit) as refused:
            main(["bundle", "verify", *args])
        err = capsys.readouterr().err
        assert refused.value.code == 2 and "Traceback" not in err, err
        assert "key id" in err or "密钥" in err or "Bundle file" in err or "审计包文件" in err, err
