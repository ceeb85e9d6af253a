"""The audit viewer in the browser (issue 16): the authority's coordinator sees the chain's
status and the events, filters them, in Chinese and English; screenshots for review."""

from __future__ import annotations

import pytest

from engine import audit
from tests.conftest import HUKOU, Actors


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_authority_reads_the_audit_trail(official, session_factory, clock, lang):
    Actors(session_factory, clock).request("civil.clerk", **HUKOU)
    with session_factory() as s, s.begin():
        audit.write_checkpoint(s, clock)
    coord = official("data.coord", lang)
    page = coord.go("/audit/")
    status = page.locator("#chain-status").inner_text()
    assert ("至位置" if lang == "zh_CN" else "intact up to position") in status
    assert "GX-2026-000001" in page.locator("#audit-events").inner_text()
    coord.shot("audit-trail")
    page.fill("input[name=kind]", "audit_checkpoint")
    page.click("form.filters button[type=submit]")
    rows = page.locator("#audit-events tbody tr")
    assert rows.count() == 1 and "audit_checkpoint" in rows.inner_text()
