"""Monitoring benchmark: drift of 1,000,000 rows against a baseline of the same size, Slipway next to Evidently.

Run by hand::

    .venv/bin/python bench/monitoring.py            # 1,000,000 rows x (20 numeric + 5 categorical) each side
    .venv/bin/python bench/monitoring.py --quick    # 100,000 rows: a smoke run
    .venv/bin/python bench/monitoring.py --rows 10000000 --no-evidently   # the memory bound at 10M rows

Both sides get the same two Parquet files (baseline and current; five numeric columns shifted by
half a standard deviation and one categorical column re-weighted) and produce a per-column drift
verdict. Slipway computes the baseline's statistics once (what a stored baseline costs, once per
model) and then the check: the current data's statistics read in chunks, the drift of every
column from the sketches, and the HTML report. Evidently reads both files into pandas and runs
its data-drift preset. Each side runs in its own process, so its peak memory is its own: the
kernel's high-water mark of that process's resident memory (``VmHWM``). Not ``ru_maxrss``: on
Linux it carries over the memory of the process a child was forked from, so every side used to be
charged this script's own peak (the data it had just generated, about 560 MB at 1M rows).

Evidently needs pandas < 3, which this project does not pin down to, so ``bench/_evidently_side.py``
runs in a virtual environment of its own (``bench/_reference.py``: built on first use into the
reference cache, at the pins written there); if that cannot be built its cells say n/a, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _harness import peak_mib
from _reference import ReferenceUnavailable, reference_python

HERE = Path(__file__).resolve().parent
NUMERIC, CATEGORICAL = 20, 5
SHIFTED = {f"num_{i}" for i in range(5)} | {"cat_0"}
TARGETS = {"check (current vs stored baseline)": 3.0}
PEAK_TARGET_MIB = 500
WRITE_ROWS = 1_000_000


def write_data(rows: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """The baseline and the current Parquet files; the current one drifts on the columns of ``SHIFTED``.

    Written a million rows at a time, so ten million rows need no more memory here than one.
    """
    rng = np.random.default_rng(seed)
    weights = np.array([0.4, 0.3, 0.2, 0.1])

    def frame(count: int, drift: bool) -> pd.DataFrame:
        columns: dict[str, Any] = {
            f"num_{i}": rng.normal(i + (0.5 if drift and f"num_{i}" in SHIFTED else 0.0), 1.0, count) * (1 + i % 3)
            for i in range(NUMERIC)
        }
        for j in range(CATEGORICAL):
            p = weights[::-1] if drift and f"cat_{j}" in SHIFTED else weights
            columns[f"cat_{j}"] = rng.choice(np.array(["red", "green", "blue", "grey"]), count, p=p)
        return pd.DataFrame(columns)

    paths = folder / "baseline.parquet", folder / "current.parquet"
    for path, drift in zip(paths, (False, True), strict=True):
        writer: pq.ParquetWriter | None = None
        for start in range(0, rows, WRITE_ROWS):
            table = pa.Table.from_pandas(frame(min(WRITE_ROWS, rows - start), drift), preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=65_536)
        assert writer is not None
        writer.close()
    return paths


def slipway_side(baseline_path: str, current_path: str) -> dict[str, Any]:
    """In a child process: time the baseline, the check and the report; report the peak memory."""
    from slipway.monitoring import check_data, compute_baseline, render_report

    # One-time start-up (thread pool, Arrow kernels, first allocations) is not part of the figure;
    # Evidently's side gets the same warm-up (one run on the first row group, bench/_evidently_side.py).
    check_data(pq.ParquetFile(baseline_path).read_row_group(0), compute_baseline(pq.ParquetFile(current_path)
                                                                                  .read_row_group(0)))
    start = time.perf_counter()
    baseline = compute_baseline(baseline_path)
    built = time.perf_counter()
    result = check_data(current_path, baseline)
    page = render_report(result)
    done = time.perf_counter()
    return {
        "baseline": built - start,
        "check": done - built,
        "total": done - start,
        "peak_mb": peak_mib(),
        "drifted": sorted(d.feature_name for d in result.drift if d.drifted),
        "report_kb": len(page.encode()) / 1024,
    }


def run_side(python: Path, args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([str(python), *args], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 rows per side instead of 1,000,000")
    parser.add_argument("--rows", type=int, help="rows per side (overrides --quick)")
    parser.add_argument("--no-evidently", action="store_true", help="do not run Evidently even if installed")
    parser.add_argument("--side", nargs=2, metavar=("BASELINE", "CURRENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(slipway_side(*args.side)))
        return 0
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-monitoring-"))
    try:
        paths = [str(p) for p in write_data(rows, work)]
        ours = run_side(Path(sys.executable), [str(Path(__file__).resolve()), "--side", *paths])
        theirs: dict[str, Any] | str
        if args.no_evidently:
            theirs = "skipped: --no-evidently"
        else:
            try:
                theirs = run_side(reference_python("evidently"), [str(HERE / "_evidently_side.py"), *paths])
            except ReferenceUnavailable as exc:
                theirs = f"not installed: {exc}"
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                theirs = f"failed: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Monitoring: drift of {rows:,} rows x ({NUMERIC} numeric + {CATEGORICAL} categorical) columns against a "
          f"baseline of {rows:,} rows; {os.cpu_count()} CPUs, load average {load_before:.2f} -> "
          f"{os.getloadavg()[0]:.2f}; both sides warmed up alike; figures under load need a quiet rerun")
    print()
    print("| workload | Slipway | Evidently | Slipway faster by | target |")
    print("| --- | --- | --- | --- | --- |")
    other_total = theirs.get("total") if isinstance(theirs, dict) else None
    na = f"n/a ({theirs})" if isinstance(theirs, str) else "—"
    print(f"| baseline statistics (once per model) | {ours['baseline']:.2f} s | — | — | — |")
    target = TARGETS["check (current vs stored baseline)"]
    print(f"| check (current vs stored baseline) | {ours['check']:.2f} s | — | — | ≤ {target:g} s |")
    ratio = f"{other_total / ours['total']:.1f}×" if other_total else "—"
    their_cell = f"{other_total:.2f} s" if other_total else na
    print(f"| both sides from raw data | {ours['total']:.2f} s | {their_cell} | {ratio} | ≥ 10× |")
    their_peak = f"{theirs['peak_mb']:.0f} MiB" if isinstance(theirs, dict) else na
    print(f"| peak memory | {ours['peak_mb']:.0f} MiB | {their_peak} | — | ≤ {PEAK_TARGET_MIB} MiB |")
    print()
    print(f"Slipway flags {', '.join(ours['drifted'])} (shifted: {', '.join(sorted(SHIFTED))}); "
          f"HTML report {ours['report_kb']:.0f} KB")
    if isinstance(theirs, dict):
        print(f"Evidently {theirs.get('version', '')} flags {', '.join(theirs['drifted'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
