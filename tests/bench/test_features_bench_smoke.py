"""The feature store benchmark still runs: a 10x-smaller pass, Slipway only (timings are not judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "features.py"


@pytest.mark.slow
def test_quick_feature_benchmark_prints_its_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--no-feast"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = proc.stdout.splitlines()
    for workload in ("join", "online 1 (sqlite)", "online 100 (sqlite)", "online 1 (redis)", "online 100 (redis)"):
        row = next((line for line in lines if line.startswith(f"| {workload} |")), None)
        assert row is not None, proc.stdout
        assert "n/a (skipped: --no-feast)" in row
    materialized = [line for line in lines if line.startswith("materialize (")]
    assert len(materialized) == 2, proc.stdout
    assert all("read back" in line and "MISSING" not in line for line in materialized), proc.stdout
    assert list(tmp_path.iterdir()) == []  # everything lived in a temp folder it removed
