"""The tracking benchmark still runs: a 10×-smaller pass of (a) and (b), Slipway only.

Not a performance test: nothing here compares timings. It only keeps ``bench/tracking.py`` from
rotting as the SDK and the server change under it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tracking.py"


@pytest.mark.slow
def test_quick_benchmark_prints_its_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-mlflow", "--only", "a,b", "--plain", "--json", str(out_json)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert "Slipway vs MLflow tracking" in out
    for workload in ("(a) log_metric", "(b) log_batch"):
        for engine in ("embedded (SQLite)", "remote (server, SQLite)"):
            row = next((line for line in out.splitlines() if workload in line and engine in line), None)
            assert row is not None, f"no row for {workload} on {engine} in:\n{out}"
            assert re.search(r"\d[\d,.]* (calls|points)/s", row), row
            assert "n/a (skipped: --no-mlflow)" in row
    assert out_json.is_file()
    # Everything it made lived in a temp folder it removed; nothing was left in the working folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]
