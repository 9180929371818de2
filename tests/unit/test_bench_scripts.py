"""Every benchmark of `make bench` starts: its imports resolve from a checkout (a benchmark that broke
when a package moved would otherwise only be found by the next person to run `make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "bench").glob("bench_*.py")))
def test_the_benchmark_starts(script: str):
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout
