"""The clarify benchmark still runs: a small pass (timings are not judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "clarify.py"


@pytest.mark.slow
def test_quick_clarify_benchmark_prints_its_table(tmp_path: Path) -> None:
    pytest.importorskip("shap")
    pytest.importorskip("xgboost")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--bias-rows", "20000",
                           "--monitor-rows", "2000"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for workload in ("bias metrics, pre + post training, 20,000 rows", "peak memory of the bias metrics",
                     "SHAP, 20-tree XGBoost", "attribution-drift monitor run, 2,000 captured rows"):
        assert any(line.startswith(f"| {workload}") for line in proc.stdout.splitlines()), proc.stdout
    assert "nDCG 1.000" in proc.stdout  # the same model on data like its training data keeps its ranking
    assert list(tmp_path.iterdir()) == []
