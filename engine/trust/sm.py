"""SM3 (GB/T 32905-2016), the hash of the audit chain (:mod:`engine.audit`).

This module imports nothing of the engine: the foundation (the audit trail) uses it."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()
