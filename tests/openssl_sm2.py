"""The ``openssl`` command line (3.x) as the second, independent SM2/SM3 implementation that every
signature kind is cross-verified with."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from engine.trust.sm import DEFAULT_SIGNER_ID

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def run(*args: str) -> subprocess.CompletedProcess:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, text=False, check=False)


def verify(
    tmp: Path, pem: str, message: bytes, signature: bytes, signer_id: str = DEFAULT_SIGNER_ID
) -> bool:
    """Whether ``openssl pkeyutl -verify`` accepts the DER signature of the message."""
    (tmp / "pub.pem").write_text(pem)
    (tmp / "msg").write_bytes(message)
    (tmp / "sig.der").write_bytes(signature)
    done = run(
        "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "pub.pem"), "-rawin",
        "-in", str(tmp / "msg"), "-sigfile", str(tmp / "sig.der"),
        "-digest", "sm3", "-pkeyopt", f"distid:{signer_id}",
    )  # fmt: skip
    return done.returncode == 0 and b"Signature Verified Successfully" in done.stdout


def keypair(tmp: Path) -> tuple[Path, str]:
    """A fresh OpenSSL SM2 key (its file) and its public key PEM."""
    key = tmp / "key.pem"
    assert run("genpkey", "-algorithm", "SM2", "-out", str(key)).returncode == 0
    pub = run("pkey", "-in", str(key), "-pubout")
    assert pub.returncode == 0
    return key, pub.stdout.decode()


def sign(tmp: Path, key: Path, message: bytes, signer_id: str = DEFAULT_SIGNER_ID) -> bytes:
    (tmp / "msg").write_bytes(message)
    done = run(
        "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(tmp / "msg"),
        "-digest", "sm3", "-pkeyopt", f"distid:{signer_id}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout
