"""The web UI benchmark still runs: a pass over a tiny store, one fetch per page. Not a performance test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ui.py"


@pytest.mark.slow
def test_ui_benchmark_measures_every_page(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "40", "--versions", "5", "--repeat", "1", "--json", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    figures = json.loads(out.read_text())
    assert {f["page"] for f in figures} >= {"home", "runs, first page (newest)", "version", "audit log"}
    assert all(f["status"] == 200 and f["server_median_ms"] > 0 for f in figures)
    assert "server median ms" in proc.stdout
