"""Password hashing with the standard library's scrypt (no web framework needed), and the digest
under which API tokens are stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(stored: str | None, password: str) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


def token_digest(token: str) -> str:
    """What is stored of an API token: its SHA-256, hex."""
    return hashlib.sha256((token or "").strip().encode()).hexdigest()


# The hash a sign-in checks when the user name is unknown, so that an unknown name costs the same
# scrypt work as a known one (its password was random and thrown away).
DUMMY_HASH = (
    "scrypt$16384$8$1$L9G0dXEZOuFLOFbctJ7HWQ==$07yBiDgN7G5YumwKC1SJaaFNsiM6vn2JsZvsqVUJd01ckaPIPfD"
    "LbjmTdpEZ38JClbEnkBy7+naYQkyKb4yCQQ=="
)
