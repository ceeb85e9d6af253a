"""SM2/SM3 as the standards define them and as OpenSSL reads them (engine/trust/sm.py)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from gmalg import SM3
from gmalg import ellipticcurve as ec
from gmalg.sm2 import SM2Core

from engine.trust import sm
from tests import openssl_sm2
from tests.openssl_sm2 import needs_openssl

# GB/T 32918.5-2017 / GM/T 0003.5-2012 annex A: signature on the recommended curve
GM_PRIVATE = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
GM_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
GM_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
GM_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
MESSAGE = b"message digest"


def test_sm3_of_abc_is_the_standard_example():
    # GB/T 32905-2016 annex A, example 1
    assert sm.sm3(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_sm3_of_the_64_byte_message_is_the_standard_example():
    # GB/T 32905-2016 annex A, example 2: "abcd" sixteen times
    assert sm.sm3(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_sm3_matches_the_sm2_library_own_sm3():
    data = "政务数据共享".encode() * 7
    theirs = SM3()
    theirs.update(data)
    assert sm.sm3(data) == theirs.value()


def test_published_recommended_curve_signature_verifies():
    public = sm.public_key_of(GM_PRIVATE)
    der = _der(GM_R, GM_S)
    assert sm.verify(MESSAGE, der, public)
    assert not sm.verify(b"message digesT", der, public)
    assert not sm.verify(MESSAGE, der, public, signer_id="ALICE123@YAHOO.COM")


def test_fixed_k_reproduces_the_published_recommended_curve_signature():
    from gmalg import SM2

    r, s = SM2(GM_PRIVATE, sm.DEFAULT_SIGNER_ID.encode(), rnd_fn=lambda _bits: GM_K).sign(MESSAGE)
    assert (int.from_bytes(r, "big"), int.from_bytes(s, "big")) == (GM_R, GM_S)


def test_test_curve_example_of_gbt_32918_2_with_fixed_k():
    # GB/T 32918.2-2016 annex A (Fp-256 example curve), ID ALICE123@YAHOO.COM
    curve = ec.ECDLP(
        0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
        0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
        0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
        (
            0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
            0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
        ),
        0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
    )
    k = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
    core = SM2Core(curve, SM3(), lambda _bits: k)
    d = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
    public = core.generate_pk(d)
    assert public == (
        0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
        0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857,
    )
    r, s = core.sign(MESSAGE, d, b"ALICE123@YAHOO.COM", public)
    assert (r, s) == (
        0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1,
        0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7,
    )
    assert core.verify(MESSAGE, r, s, b"ALICE123@YAHOO.COM", public)


def test_signature_is_der_and_round_trips():
    pair = sm.generate_keypair()
    signature = sm.sign(b"decision", pair.private, pair.public)
    r, s = decode_dss_signature(signature)
    assert signature[0] == 0x30 and r > 0 and s > 0
    assert sm.verify(b"decision", signature, pair.public)
    assert not sm.verify(b"decision", _flip(signature), pair.public)
    assert not sm.verify(b"decision", b"not der", pair.public)


def test_public_key_pem_round_trips_and_fingerprint_is_sm3_of_the_der():
    pair = sm.generate_keypair()
    pem = sm.public_key_pem(pair.public)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert sm.public_key_from_pem(pem) == pair.public
    assert sm.fingerprint(pair.public) == sm.sm3(sm.public_key_der(pair.public)).hex()


@needs_openssl
def test_openssl_reads_our_public_key_as_sm2(tmp_path: Path):
    pair = sm.generate_keypair()
    (tmp_path / "pub.pem").write_text(sm.public_key_pem(pair.public))
    done = openssl_sm2.run("pkey", "-pubin", "-in", str(tmp_path / "pub.pem"), "-text", "-noout")
    assert done.returncode == 0, done.stderr
    assert b"SM2" in done.stdout


@needs_openssl
def test_openssl_verifies_our_signature_and_refuses_a_flipped_byte(tmp_path: Path):
    pair = sm.generate_keypair()
    pem = sm.public_key_pem(pair.public)
    message = "提供部门同意共享".encode()
    signature = sm.sign(message, pair.private, pair.public)
    assert openssl_sm2.verify(tmp_path, pem, message, signature)
    assert not openssl_sm2.verify(tmp_path, pem, message, _flip(signature))
    assert not openssl_sm2.verify(tmp_path, pem, _flip(message), signature)


@needs_openssl
def test_we_verify_openssl_signature_and_refuse_a_flipped_byte(tmp_path: Path):
    key, pem = openssl_sm2.keypair(tmp_path)
    message = "协调决定".encode()
    signature = openssl_sm2.sign(tmp_path, key, message)
    public = sm.public_key_from_pem(pem)
    assert sm.verify(message, signature, public)
    assert not sm.verify(message, _flip(signature), public)
    assert not sm.verify(_flip(message), signature, public)


@needs_openssl
def test_openssl_verifies_the_published_example_through_our_pem(tmp_path: Path):
    pem = sm.public_key_pem(sm.public_key_of(GM_PRIVATE))
    assert openssl_sm2.verify(tmp_path, pem, MESSAGE, _der(GM_R, GM_S))


def _der(r: int, s: int) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    return encode_dss_signature(r, s)


def _flip(data: bytes) -> bytes:
    index = len(data) // 2
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]
