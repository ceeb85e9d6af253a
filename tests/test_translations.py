"""Every user-visible string is translated to Simplified Chinese, which is the default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {
    "Message": None,
    "N_": None,
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "_p": (2,),
}


def test_every_extracted_message_has_a_chinese_translation():
    with open(ROOT / "babel.cfg") as f:
        from babel.messages.frontend import parse_mapping_cfg

        method_map, options_map = parse_mapping_cfg(f)
    ids = {
        m[2] if isinstance(m[2], str) else m[2][0]
        for m in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
        if m[2]
    }
    ids = {i for i in ids if i}
    with open(ROOT / "web/translations/zh/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    untranslated = sorted(i for i in ids if not (catalog.get(i) and catalog.get(i).string))
    assert untranslated == [], "run `make messages` and translate: " + "; ".join(untranslated)


def test_the_cli_speaks_chinese_by_default():
    env = {k: v for k, v in os.environ.items() if k != "GOVSHARE_LANG"}
    r = subprocess.run(
        [sys.executable, "-m", "engine.cli", "calendar", "deadline", "2026-09-18", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "2026-10-09"
    assert "当日不计入" in r.stdout and "跳过 2026-10-01：国庆节" in r.stdout
