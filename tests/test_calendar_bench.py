"""bench/deadline_moves.py runs on databases of its own and prints the ratio (small numbers here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_the_calendar_benchmark_prints_the_ratio(db_url):
    env = {**os.environ, "DATABASE_URL": db_url}
    args = ["--touched", "3", "--small", "10", "--factor", "2", "--rounds", "1"]
    done = subprocess.run(
        [sys.executable, "bench/deadline_moves.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "recompute 6 deadlines" in done.stdout and "ratio 2x stored / stored" in done.stdout
