"""The key-encryption key outside demo mode: never the demo's (published with the source), and a
key sealed under another one (made in demo mode) is refused with the way out: rotate it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.trust import keys
from engine.trust.models import SigningKey
from tests.conftest import HUKOU
from tests.test_share_request_process import REFUSE


def test_the_demo_kek_is_refused_outside_demo_mode_and_allowed_in_it():
    demo_hex = keys.DEMO_KEK.hex()
    with pytest.raises(keys.KeyConfigurationError, match="demo"):
        keys.key_encryption_key({keys.KEK_SETTING: demo_hex})
    assert keys.key_encryption_key({keys.KEK_SETTING: demo_hex, "GOVSHARE_DEMO": "1"}) == (
        keys.DEMO_KEK
    )


def test_a_key_sealed_under_another_kek_is_refused_until_rotated(actors, clock, monkeypatch):
    key = actors.request("civil.clerk", **HUKOU)
    actors.complete("pubsec.clerk", key, "provider_review", **REFUSE)  # the provider's key
    monkeypatch.setenv(keys.KEK_SETTING, "cd" * 32)  # production's own KEK from now on
    monkeypatch.delenv("GOVSHARE_DEMO", raising=False)
    row = actors.run(lambda s: s.scalars(select(SigningKey)).one())
    with pytest.raises(keys.KeyConfigurationError, match="keys rotate"):
        keys.private_key(row)
    fresh = actors.run(lambda s: keys.rotate(s, clock, "pubsec"))
    again = actors.run(
        lambda s: s.scalars(select(SigningKey).where(SigningKey.key_id == fresh.key_id)).one()
    )
    assert len(keys.private_key(again)) == 32  # the new key opens under the configured KEK
