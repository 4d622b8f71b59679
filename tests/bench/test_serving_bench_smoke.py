"""The serving benchmark still runs: a 10x-smaller pass, Slipway only. Not a performance test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "serving.py"


@pytest.mark.slow
def test_quick_serving_benchmark_prints_its_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-mlflow", "--no-ray", "--plain"],  # Ray Serve: minutes
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for workload in ("bare predict", "latency, one row", "throughput, one row"):
        row = next((line for line in proc.stdout.splitlines() if line.startswith(workload)), None)
        assert row is not None and (" ms" in row or "req/s" in row), proc.stdout
    assert "n/a (skipped: --no-mlflow)" in proc.stdout
    assert list(tmp_path.iterdir()) == []
