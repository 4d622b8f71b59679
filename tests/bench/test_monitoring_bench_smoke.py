"""The monitoring benchmark still runs: a small pass, Slipway only (timings are not judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "monitoring.py"


@pytest.mark.slow
def test_quick_monitoring_benchmark_prints_its_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    proc = subprocess.run([sys.executable, str(BENCH), "--rows", "20000", "--no-evidently"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for workload in ("baseline statistics", "check (current vs stored baseline)", "both sides", "peak memory"):
        assert any(line.startswith(f"| {workload}") for line in proc.stdout.splitlines()), proc.stdout
    assert "Slipway flags cat_0, num_0, num_1, num_2, num_3, num_4 " in proc.stdout
    assert list(tmp_path.iterdir()) == []
