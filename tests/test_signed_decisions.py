"""Binding decisions are signed by the acting department (SM2 over SM3, docs/trust.md), each kind
cross-verified with OpenSSL; keys are sealed at rest and rotate; tampering shows as INVALID."""

from __future__ import annotations

import json
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.trust import keys, sm
from engine.trust.models import Signature, SigningKey
from engine.trust.signatures import canonical_json, verify
from tests import openssl_sm2
from tests.conftest import HUKOU
from tests.openssl_sm2 import needs_openssl
from tests.test_coordination import to_coordination
from tests.test_share_request_process import REFUSE, SCOPE


def signatures(actors, key):
    return actors.run(lambda s: verify(s, key))


def test_the_providers_reply_is_signed_by_the_provider_in_the_same_transaction(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    [sig] = signatures(actors, key)
    assert sig.valid and sig.kind == "provider_reply"
    assert sig.department.zh == "自治区公安厅"
    document = json.loads(sig.canonical)
    assert document["decision"]["review_decision"] == "approve"
    assert document["decision"]["granted_items"] == SCOPE["granted_items"]
    assert document["signer"]["official"] == "pubsec.clerk"
    assert document["signed_at"].endswith("Z") and document["rule_set_version"] == 1
    assert document["what"]["process"] == "share_request"
    # the stored text is the canonical form: sorted keys, no spaces, UTF-8
    assert sig.canonical.encode() == canonical_json(document)
    assert sig.digest == sm.sm3(sig.canonical.encode()).hex()
    # found by its verification code too
    assert [s.id for s in signatures(actors, sig.code.lower())] == [sig.id]


def test_a_refusal_is_signed_with_its_reasons(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    [sig] = signatures(actors, key)
    assert json.loads(sig.canonical)["decision"]["review_reason"] == REFUSE["review_reason"]


def test_only_the_coordinators_decision_is_signed_not_its_requests_for_information(actors):
    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="request_info",
        info_target="requester",
        info_question="请提供低保核定的法定依据",
        info_days="3",
    )
    actors.complete("civil.clerk", key, "requester_info", info_answer="《社会救助暂行办法》")
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="grant_in_part",
        coordination_reasons="低保核定确需，迁入地不予共享",
        coordination_conditions="仅限低保核定",
        **{**SCOPE, "granted_items": ["公民身份号码"]},
    )
    sigs = signatures(actors, key)
    assert [s.kind for s in sigs] == ["provider_reply", "coordination_decision"]
    decision = sigs[1]
    assert decision.valid and decision.department.zh == "自治区数据共享主管部门"
    assert json.loads(decision.canonical)["signer"]["official"] == "data.coord"
    assert json.loads(decision.canonical)["decision"]["coordination_reasons"] == (
        "低保核定确需，迁入地不予共享"
    )


def test_a_department_signs_with_one_key_made_on_its_first_signature(actors):
    for _ in range(2):
        key = actors.request("civil.clerk", **HUKOU)
        actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    rows = actors.run(lambda s: [(k.key_id, k.status) for k in s.scalars(select(SigningKey))])
    assert len(rows) == 1 and rows[0][1] == "active"


def test_private_keys_are_sealed_under_the_kek_with_the_key_id_bound(actors):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    row = actors.run(lambda s: s.scalars(select(SigningKey)).one())
    kek = keys.key_encryption_key()
    private = keys.unseal(row.private_key_encrypted, row.key_id, kek)
    assert sm.public_key_of(private) == row.public_key
    assert private not in row.private_key_encrypted
    with pytest.raises(keys.KeyConfigurationError):
        keys.unseal(row.private_key_encrypted, "0" * 64, kek)  # moved to another key's row
    with pytest.raises(keys.KeyConfigurationError):
        keys.unseal(row.private_key_encrypted, row.key_id, b"\x22" * 32)  # another KEK


def test_the_kek_setting_is_required_outside_demo_mode_and_must_be_32_bytes():
    with pytest.raises(keys.KeyConfigurationError, match="GOVSHARE_KEY_ENCRYPTION_KEY is not set"):
        keys.key_encryption_key({})
    assert keys.key_encryption_key({"GOVSHARE_DEMO": "1"}) == keys.DEMO_KEK
    assert keys.key_encryption_key({"GOVSHARE_KEY_ENCRYPTION_KEY": "ab" * 32}) == b"\xab" * 32
    b64 = "q" * 43 + "="
    assert len(keys.key_encryption_key({"GOVSHARE_KEY_ENCRYPTION_KEY": b64})) == 32
    with pytest.raises(keys.KeyConfigurationError, match="must be 32 bytes"):
        keys.key_encryption_key({"GOVSHARE_KEY_ENCRYPTION_KEY": "abcd"})


def test_rotation_keeps_the_old_key_verifying_and_signs_with_the_new(actors):
    first = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", first, "provider_review", **REFUSE)
    new = actors.run(lambda s: keys.rotate(s, actors.clock, "pubsec"))
    second = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", second, "provider_review", **REFUSE)
    [old_sig] = signatures(actors, first)
    [new_sig] = signatures(actors, second)
    assert old_sig.valid and new_sig.valid
    assert new_sig.key_id == new.key_id != old_sig.key_id
    listed = actors.run(lambda s: keys.list_keys(s, "pubsec"))
    assert [(k.key_id, k.status) for k in listed] == [
        (new.key_id, "active"),
        (old_sig.key_id, "retired"),
    ]


@pytest.mark.parametrize(
    "edit",
    [
        lambda row: {"canonical": row.canonical.replace("申请的信息项", "申请的全部信息项")},
        lambda row: {
            "canonical": row.canonical.replace("申请的信息项", "申请的全部信息项"),
            "digest": sm.sm3(
                row.canonical.replace("申请的信息项", "申请的全部信息项").encode()
            ).hex(),
        },
        lambda row: {"signature": row.signature[:-1] + bytes([row.signature[-1] ^ 1])},
    ],
    ids=["text", "text-and-digest", "signature"],
)
def test_an_edited_decision_or_signature_is_invalid(actors, edit):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    row = actors.run(lambda s: s.scalars(select(Signature)).one())
    changes = edit(row)
    actors.run(lambda s: s.execute(update(Signature).values(**changes)))
    [sig] = signatures(actors, key)
    assert not sig.valid and sig.problem is not None


@needs_openssl
@pytest.mark.parametrize("kind", ["provider_reply", "coordination_decision"])
def test_openssl_verifies_every_kind_of_signed_decision(actors, tmp_path: Path, kind):
    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="理由不足",
    )
    [sig] = [s for s in signatures(actors, key) if s.kind == kind]
    message = sig.canonical.encode("utf-8")
    der = bytes.fromhex(sig.signature_hex)
    assert openssl_sm2.verify(tmp_path, sig.public_key_pem, message, der, sig.signer_id)
    tampered = message.replace(b'"kind"', b'"kinD"')
    assert not openssl_sm2.verify(tmp_path, sig.public_key_pem, tampered, der, sig.signer_id)


# -- the command line ---------------------------------------------------------------------------
def _cli(db_url, capsys, *argv):
    from engine import cli

    try:
        cli.main(["--database", db_url, *argv])
        code = 0
    except SystemExit as exit:
        code = exit.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_verify_prints_each_signature_valid_then_invalid_after_an_edit(actors, db_url, capsys):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    code, out, _ = _cli(db_url, capsys, "signatures", "verify", key)
    assert code == 0
    assert out.startswith("VALID ") and "Provider's reply" in out and key in out
    assert "Public Security" in out
    sig = actors.run(lambda s: s.scalars(select(Signature)).one())
    actors.run(
        lambda s: s.execute(
            update(Signature).values(canonical=sig.canonical.replace("范围", "范畴"))
        )
    )
    code, out, _ = _cli(db_url, capsys, "signatures", "verify", sig.code)
    assert code == 1 and out.startswith("INVALID ")
    assert "does not match its SM3 digest" in out


def test_cli_verify_of_an_unknown_key_names_it(actors, db_url, capsys):
    code, _, err = _cli(db_url, capsys, "signatures", "verify", "GX-2026-999999")
    assert code == 2 and "GX-2026-999999" in err


def test_cli_keys_generate_list_and_rotate_are_audited(actors, db_url, capsys):
    from engine.audit import AuditEvent

    code, out, _ = _cli(db_url, capsys, "keys", "generate", "civil")
    assert code == 0 and "-----BEGIN PUBLIC KEY-----" in out
    code, out, _ = _cli(db_url, capsys, "keys", "rotate", "civil")
    assert code == 0 and "retired" in out
    code, out, _ = _cli(db_url, capsys, "keys", "list", "--department", "civil")
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "signs now" in lines[0] and "retired" in lines[1]
    kinds = actors.run(
        lambda s: [
            e.kind
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.object_ref == "civil").order_by(AuditEvent.id)
            )
        ]
    )
    assert kinds == ["signing_key_created", "signing_key_retired", "signing_key_created"]


def test_signing_commands_refuse_to_start_without_the_kek(db_url, capsys, monkeypatch):
    monkeypatch.delenv("GOVSHARE_KEY_ENCRYPTION_KEY")
    monkeypatch.delenv("GOVSHARE_DEMO", raising=False)
    for argv in (["keys", "rotate", "civil"], ["worker", "--once"]):
        code, _, err = _cli(db_url, capsys, *argv)
        assert code == 2
        assert err.count("\n") == 1 and "GOVSHARE_KEY_ENCRYPTION_KEY is not set" in err


def test_the_web_app_refuses_to_start_without_the_kek_outside_demo_mode(db_url, monkeypatch):
    from web import ConfigurationError, create_app

    monkeypatch.delenv("GOVSHARE_KEY_ENCRYPTION_KEY")
    with pytest.raises(ConfigurationError, match="GOVSHARE_KEY_ENCRYPTION_KEY is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_DEMO": False, "SECRET_KEY": "x"})
    create_app({"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_DEMO": True})


# -- the verification page and the API ----------------------------------------------------------
@pytest.fixture
def client(db_url, session_factory, clock):
    from web import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_CLOCK": clock, "SECRET_KEY": "t"}
    )
    with app.test_client() as c:
        yield c


def _tamper(actors):
    actors.run(
        lambda s: s.execute(
            update(Signature).values(
                canonical=Signature.canonical.op("||")(" "),  # one byte more
            )
        )
    )


def test_the_verification_page_shows_a_signature_by_its_code_without_sign_in(actors, client):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    [sig] = signatures(actors, key)
    page = client.get(f"/verify/?code={sig.code.lower()}&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "VALID" in html and "INVALID" not in html and key in html
    assert "Public Security" in html and sig.key_id in html
    _tamper(actors)
    html = client.get(f"/verify/?code={sig.code}&lang=en").get_data(as_text=True)
    assert "INVALID" in html and "does not match its SM3 digest" in html
    zh = client.get(f"/verify/?code={sig.code}&lang=zh_CN").get_data(as_text=True)
    assert "无效" in zh and "核验签名决定" in zh


def test_the_verification_page_refuses_an_unknown_code_and_does_not_take_business_keys(
    actors, client
):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    for code in ("ZZZZ-ZZZZ-ZZZZ", key, "<script>" * 10):
        page = client.get("/verify/", query_string={"code": code, "lang": "en"})
        assert page.status_code == 404
        assert "No signed decision has the verification code" in page.get_data(as_text=True)


def test_the_api_returns_the_signatures_with_the_decision_and_shows_tampering(actors, client):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    headers = {"Authorization": "Bearer demo-civil.clerk"}
    body = client.get(f"/api/v1/requests/{key}", headers=headers).get_json()
    [sig] = body["signatures"]
    assert sig["valid"] is True and sig["kind"] == "provider_reply"
    assert sig["signer_id"] == "1234567812345678" and sig["problem"] is None
    assert json.loads(sig["canonical"])["decision"]["review_decision"] == "refuse"
    public = sm.public_key_from_pem(sig["public_key_pem"])
    assert sm.verify(sig["canonical"].encode(), bytes.fromhex(sig["signature_der_hex"]), public)
    _tamper(actors)
    [sig] = client.get(f"/api/v1/requests/{key}", headers=headers).get_json()["signatures"]
    assert sig["valid"] is False and "SM3 digest" in sig["problem"]


# -- the other kinds: joint-review opinions and the annual report --------------------------------
def _openssl_accepts(tmp_path, sig):
    message = sig.canonical.encode("utf-8")
    der = bytes.fromhex(sig.signature_hex)
    flipped = der[:-1] + bytes([der[-1] ^ 1])
    return openssl_sm2.verify(
        tmp_path, sig.public_key_pem, message, der, sig.signer_id
    ) and not openssl_sm2.verify(tmp_path, sig.public_key_pem, message, flipped, sig.signer_id)


@needs_openssl
def test_each_review_seat_signs_its_opinion_and_openssl_verifies_them(actors, tmp_path):
    from tests.test_project_approval import SEATS, _submitted, review_all

    _, key = _submitted(actors)
    review_all(actors, key, cyberspace="return")
    sigs = [s for s in signatures(actors, key) if s.kind == "review_opinion"]
    assert len(sigs) == len(SEATS)
    assert {json.loads(s.canonical)["signer"]["official"] for s in sigs} == set(SEATS.values())
    returned = [s for s in sigs if json.loads(s.canonical)["what"]["task"] == "review_cyberspace"]
    assert json.loads(returned[0].canonical)["decision"]["cyberspace_decision"] == "return"
    assert all(s.valid for s in sigs)
    assert all(_openssl_accepts(tmp_path, s) for s in sigs)


@needs_openssl
def test_the_annual_report_is_signed_by_the_reporting_department(actors, clock, tmp_path):
    from tests.test_evaluation import report_task, start

    clock.set("2027-01-01T08:00:00+08:00")
    start(actors)
    key = report_task(actors, "pubsec")
    actors.complete(
        "pubsec.clerk", key, "submit_annual_report", achievements="完成户籍数据共享接口改造"
    )
    [sig] = signatures(actors, key)
    assert sig.kind == "annual_report" and sig.valid and sig.department.zh == "自治区公安厅"
    assert json.loads(sig.canonical)["decision"]["achievements"] == "完成户籍数据共享接口改造"
    assert _openssl_accepts(tmp_path, sig)


@needs_openssl
def test_an_appeal_decision_is_signed_by_the_authority_and_openssl_verifies_it(
    actors, clock, tmp_path
):
    from engine.oversight import breaches
    from tests.test_breaches import overdue_breach

    bid = overdue_breach(actors, clock)
    actors.run(lambda s: breaches.appeal(s, clock, actors.user(s, "pubsec.clerk"), bid, "系统停机"))
    actors.run(
        lambda s: breaches.decide_appeal(
            s, clock, actors.user(s, "data.coord"), bid, False, "停机未书面报告"
        )
    )
    [sig] = signatures(actors, f"WG-{bid}")
    document = json.loads(sig.canonical)
    assert sig.kind == "appeal_decision" and sig.valid
    assert sig.department.zh == "自治区数据共享主管部门"
    assert document["decision"]["appeal_status"] == "rejected"
    assert document["decision"]["reasons"] == "停机未书面报告"
    assert document["what"]["department"] == "pubsec"
    assert _openssl_accepts(tmp_path, sig)


# -- the printable decision ---------------------------------------------------------------------
def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_providers_reply_prints_with_fingerprint_code_and_verification_link(actors, client):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    [sig] = signatures(actors, key)
    page = client.get(f"/verify/?code={sig.code}&lang=en").get_data(as_text=True)
    assert f"/verify/{sig.code}.pdf" in page
    r = client.get(f"/verify/{sig.code}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "".join(_pdf_text(r.data).split())  # the PDF's line breaks fall anywhere
    assert "政务数据共享申请答复函" in text and key in text
    assert sig.code in text and sig.key_id in text and sig.digest in text
    assert "不予共享" in text  # the decision by its form label, not its value "refuse"
    assert REFUSE["review_reason"] in text
    assert f"/verify/?code={sig.code}" in text


def test_the_coordination_decision_prints_and_other_kinds_do_not(actors, client, clock):
    key = to_coordination(actors)
    actors.complete(
        "data.coord",
        key,
        "coordinate",
        coordination_action="decide",
        coordination_decision="uphold",
        coordination_reasons="理由不足",
    )
    decision = [s for s in signatures(actors, key) if s.kind == "coordination_decision"][0]
    text = "".join(_pdf_text(client.get(f"/verify/{decision.code}.pdf").data).split())
    assert "政务数据共享协调决定书" in text and "维持不予共享" in text
    assert "自治区数据共享主管部门" in text
    assert client.get("/verify/ZZZZ-ZZZZ-ZZZZ.pdf").status_code == 404


def test_the_request_page_lists_its_signed_decisions_with_their_codes(actors, db_url, clock):
    from tests.test_web import Browser
    from web import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_CLOCK": clock, "SECRET_KEY": "t"}
    )
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    [sig] = signatures(actors, key)
    html = Browser(app, "civil.clerk").client.get(f"/requests/{key}?lang=en").get_data(as_text=True)
    card = unescape(html[html.index('id="signatures"') :])
    assert "Provider's reply" in card and "VALID" in card and sig.code in card
    assert f"/verify/?code={sig.code}" in card


# -- the row's unsigned columns and the key cannot vouch for another signer ------------------------
def _other_department(s, row):
    from engine.directory.models import Department

    return s.scalars(
        select(Department.id).where(Department.id != row.department_id).order_by(Department.id)
    ).first()


def _other_user(s, row):
    from engine.directory.models import User

    return s.scalars(select(User.id).where(User.id != row.signer_user_id).order_by(User.id)).first()


def _swap_the_key(s, row):
    """The key's public key replaced by another pair's, the decision re-signed with it."""
    pair = sm.generate_keypair()
    der = sm.sign(row.canonical.encode("utf-8"), pair.private, pair.public)
    s.execute(
        update(SigningKey).where(SigningKey.key_id == row.key_id).values(public_key=pair.public)
    )
    s.execute(update(Signature).where(Signature.id == row.id).values(signature=der))


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (
            lambda s, row: s.execute(
                update(Signature).values(department_id=_other_department(s, row))
            ),
            "is not a key of the department",
        ),
        (
            lambda s, row: s.execute(update(Signature).values(signer_user_id=_other_user(s, row))),
            "names the official pubsec.clerk",
        ),
        (
            lambda s, row: s.execute(
                update(Signature).values(signed_at=row.signed_at + timedelta(hours=3))
            ),
            "gives the time of signing",
        ),
        (_swap_the_key, "is not that key"),
    ],
    ids=["department", "signer", "signed-at", "public-key"],
)
def test_a_changed_signer_time_or_key_is_invalid_and_the_signed_values_are_shown(
    actors, db_url, capsys, monkeypatch, tamper, reason
):
    monkeypatch.setenv("GOVSHARE_LANG", "en")
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)
    [before] = signatures(actors, key)
    assert before.valid
    row = actors.run(lambda s: s.scalars(select(Signature)).one())
    actors.run(lambda s: tamper(s, row))
    [sig] = signatures(actors, key)
    assert not sig.valid and reason in str(sig.problem)
    # what is shown is what was signed, not the edited row
    assert (sig.department, sig.official, sig.signed_at) == (
        before.department,
        before.official,
        before.signed_at,
    )
    code, out, _ = _cli(db_url, capsys, "signatures", "verify", key)
    assert code == 1 and out.startswith("INVALID ") and reason in out
    assert "Public Security" in out
