"""deploy/gunicorn.conf.py: its defaults, and a bad setting stops gunicorn with one line naming
the variable instead of a traceback."""

from __future__ import annotations

import multiprocessing
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def settings(monkeypatch, **env: str) -> dict:
    for name in ("GOVSHARE_WEB_WORKERS", "GOVSHARE_WEB_THREADS", "GOVSHARE_WEB_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_one_worker_per_core_with_four_threads_by_default(monkeypatch):
    conf = settings(monkeypatch)
    assert (conf["workers"], conf["threads"]) == (multiprocessing.cpu_count(), 4)
    conf = settings(monkeypatch, GOVSHARE_WEB_WORKERS="3", GOVSHARE_WEB_THREADS="1")
    assert (conf["workers"], conf["threads"]) == (3, 1)


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_a_bad_worker_count_is_named_in_one_line(monkeypatch, value):
    with pytest.raises(SystemExit) as stop:
        settings(monkeypatch, GOVSHARE_WEB_WORKERS=value)
    assert str(stop.value) == (
        f"GOVSHARE_WEB_WORKERS={value!r}: a whole number of at least 1 is needed"
    )


def test_gunicorn_stops_with_that_line_and_no_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), "web:create_app()"],
        env={"GOVSHARE_WEB_THREADS": "many", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert run.stderr.strip() == (
        "GOVSHARE_WEB_THREADS='many': a whole number of at least 1 is needed"
    )
    assert "Traceback" not in run.stdout + run.stderr
