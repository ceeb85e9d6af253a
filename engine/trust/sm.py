"""SM2 signatures over SM3 (GB/T 32918, GB/T 32905), as OpenSSL and other implementations read them.

The arithmetic is the maintained pure-Python library ``gmalg``; SM3 is ``cryptography``'s
``hashes.SM3`` (OpenSSL's). What this module fixes, because it is where SM2 implementations
disagree:

* the signer ID (the ``ID_A`` hashed into the Z value) is the GM/T 0009 default
  ``1234567812345678`` unless a signature names another; it is stored with every signature;
* the Z value (SM3 of the ID's bit length, the ID, the curve parameters and the public key) is
  computed by the library from the ID and the public key: callers sign the message itself,
  never a digest;
* a signature is DER ``SEQUENCE { INTEGER r, INTEGER s }`` (GB/T 35276), encoded and decoded by
  ``cryptography``;
* a public key travels as a PEM SubjectPublicKeyInfo, algorithm id-ecPublicKey with the SM2
  curve OID 1.2.156.10197.1.301 (``openssl pkey -pubin`` reads it).

Tested against the standards' examples and cross-verified with the ``openssl`` command line
(tests/test_sm_crypto.py).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from gmalg import SM2

DEFAULT_SIGNER_ID = "1234567812345678"  # GM/T 0009-2012, 10.2: the default distinguishing ID
# DER of SubjectPublicKeyInfo up to the 65-byte uncompressed point: SEQUENCE { SEQUENCE {
# OID 1.2.840.10045.2.1 (id-ecPublicKey), OID 1.2.156.10197.1.301 (sm2p256v1) }, BIT STRING }
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
PUBLIC_KEY_BYTES = 65  # 04 || x || y
PRIVATE_KEY_BYTES = 32


class KeyFormatError(ValueError):
    """A public key or signature that is not in the form this module reads."""


def sm3(data: bytes) -> bytes:
    """The SM3 digest (32 bytes) of ``data`` (GB/T 32905)."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


@dataclass(frozen=True)
class KeyPair:
    private: bytes  # 32 bytes, big-endian d
    public: bytes  # 65 bytes, 04 || x || y


def generate_keypair() -> KeyPair:
    """A fresh SM2 key pair on the recommended curve (random from :mod:`secrets`)."""
    private, public = SM2().generate_keypair()
    return KeyPair(private.rjust(PRIVATE_KEY_BYTES, b"\0"), public)


def public_key_of(private: bytes) -> bytes:
    """The uncompressed public point of a private key."""
    return SM2().generate_pk(private)


def sign(
    message: bytes, private: bytes, public: bytes, signer_id: str = DEFAULT_SIGNER_ID
) -> bytes:
    """The DER signature of ``message`` by the key pair, under ``signer_id``."""
    r, s = SM2(private, signer_id.encode(), public).sign(message)
    return encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))


def verify(
    message: bytes, signature: bytes, public: bytes, signer_id: str = DEFAULT_SIGNER_ID
) -> bool:
    """Whether ``signature`` (DER) is the signer's on ``message``; a malformed signature or key is
    simply not valid.

    The pure-Python verification costs about 0.1–0.3 s, and pages verify every signature they
    show: the answer for the same four inputs is remembered (it can only be the same; any changed
    byte is another question)."""
    return _verify(bytes(message), bytes(signature), bytes(public), signer_id)


@lru_cache(maxsize=4096)
def _verify(message: bytes, signature: bytes, public: bytes, signer_id: str) -> bool:
    try:
        r, s = decode_dss_signature(signature)
        signer = SM2(pk=public, uid=signer_id.encode())
        if not signer.verify_pk(public):
            return False
        return bool(signer.verify(message, _int_bytes(r), _int_bytes(s)))
    except Exception:  # noqa: BLE001 - any malformed input is an invalid signature
        return False


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def public_key_der(public: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of an uncompressed public point."""
    if len(public) != PUBLIC_KEY_BYTES or public[0] != 4:
        raise KeyFormatError("an SM2 public key is 65 bytes starting 04")
    return SPKI_PREFIX + public


def public_key_pem(public: bytes) -> str:
    """The PEM (``-----BEGIN PUBLIC KEY-----``) of an uncompressed public point."""
    b64 = base64.b64encode(public_key_der(public)).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "\n".join(["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----", ""])


def public_key_from_pem(pem: str) -> bytes:
    """The uncompressed public point of an SM2 PEM SubjectPublicKeyInfo (as OpenSSL writes it)."""
    body = "".join(
        line.strip() for line in pem.strip().splitlines() if line and not line.startswith("-----")
    )
    try:
        der = base64.b64decode(body, validate=True)
    except ValueError as exc:
        raise KeyFormatError("not a PEM public key") from exc
    if not der.startswith(SPKI_PREFIX) or len(der) != len(SPKI_PREFIX) + PUBLIC_KEY_BYTES:
        raise KeyFormatError("not an SM2 public key (id-ecPublicKey on sm2p256v1, uncompressed)")
    return der[len(SPKI_PREFIX) :]


def fingerprint(public: bytes) -> str:
    """The key id: SM3 of the public key's SubjectPublicKeyInfo DER, in hex (64 digits)."""
    return sm3(public_key_der(public)).hex()
