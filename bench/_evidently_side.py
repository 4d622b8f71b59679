"""Evidently's side of bench/monitoring.py, run in Evidently's own environment (pandas < 3).

Usage: python _evidently_side.py BASELINE.parquet CURRENT.parquet; prints one JSON line with the
seconds taken (reading both files, the data-drift preset, the HTML page), the peak memory and
the columns Evidently finds drifted. Works with Evidently 0.4-0.6 (``evidently.report``) and 0.7+
(``evidently.Report``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

import evidently
import pandas as pd
from _harness import peak_mib  # bench/ is on the path: this file runs as a script


def _run_legacy(reference: pd.DataFrame, current: pd.DataFrame, html: str) -> list[str]:
    from evidently.metric_preset import DataDriftPreset
    from evidently.report import Report

    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=reference, current_data=current)
    report.save_html(html)
    for metric in report.as_dict()["metrics"]:
        by_column = metric.get("result", {}).get("drift_by_columns")
        if by_column:
            return sorted(name for name, found in by_column.items() if found.get("drift_detected"))
    return []


def _run_current(reference: pd.DataFrame, current: pd.DataFrame, html: str) -> list[str]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    snapshot.save_html(html)
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        config: dict[str, Any] = metric.get("config", {})
        column, value, threshold = config.get("column"), metric.get("value"), config.get("threshold")
        method = str(config.get("method", ""))
        if column is None or not isinstance(value, int | float) or threshold is None:
            continue
        # p-value tests drift below the threshold, distances above it
        is_p_value = "p_value" in method or "test" in method.lower()
        if (value < threshold) if is_p_value else (value >= threshold):
            drifted.append(column)
    return sorted(drifted)


def warm_up(baseline: str, current: str) -> None:
    """The same warm-up as Slipway's side (bench/monitoring.py): one run on the first row group of each
    file, so one-time start-up (imports, first allocations) is not part of the figure."""
    import pyarrow.parquet as pq

    reference = pq.ParquetFile(baseline).read_row_group(0).to_pandas()
    data = pq.ParquetFile(current).read_row_group(0).to_pandas()
    with tempfile.TemporaryDirectory() as tmp:
        legacy = int(evidently.__version__.split(".")[1]) < 7 and evidently.__version__.startswith("0.")
        (_run_legacy if legacy else _run_current)(reference, data, os.path.join(tmp, "report.html"))


def main(baseline: str, current: str) -> None:
    warm_up(baseline, current)
    start = time.perf_counter()
    reference, data = pd.read_parquet(baseline), pd.read_parquet(current)
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "report.html")
        legacy = int(evidently.__version__.split(".")[1]) < 7 and evidently.__version__.startswith("0.")
        drifted = (_run_legacy if legacy else _run_current)(reference, data, html)
    total = time.perf_counter() - start
    print(json.dumps({"total": total, "peak_mb": peak_mib(),
                      "drifted": drifted, "version": evidently.__version__}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
