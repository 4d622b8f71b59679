"""The pipelines benchmark still runs: a 10×-smaller pass, Slipway only, looking at the table, not the timings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pipelines.py"


@pytest.mark.slow
def test_quick_pipelines_benchmark_prints_its_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-prefect"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for workload, steps in (("chain", "10"), ("fan-out", "11"), ("dag", "100")):
        row = next((line for line in proc.stdout.splitlines() if line.startswith(f"| {workload} |")), None)
        assert row is not None, proc.stdout
        assert f"| {steps} |" in row and re.search(r"\d+\.\d+ s \| \d+\.\d+ ms", row), row
        assert "n/a (skipped: --no-prefect)" in row
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # its temp folders are gone
