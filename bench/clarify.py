"""Bias and explainability benchmark: bias metrics of 1,000,000 rows, SHAP next to shap called directly,
and an attribution-drift monitor run over 100,000 captured rows.

Run by hand::

    .venv/bin/python bench/clarify.py            # the issue's sizes
    .venv/bin/python bench/clarify.py --quick    # every size (and the trees) / 10: a smoke run

1. Bias: every pre- and post-training metric (CI ... CDDL, DPPL ... GE, the flip test on its
   20,000-row sample) of one Parquet file of N rows (a facet of three values, a group, a binary
   label and prediction, three numeric features), read in batches. Run in its own process, so
   the peak memory (max RSS) is the metrics' own. Target: ≤ 2 s at 1,000,000 rows. Wall and CPU
   seconds are both shown: on a shared machine the CPU time is the steadier figure.
2. SHAP: a 200-tree XGBoost regressor on 1,000 rows x 20 features; ``slipway.clarify.explain``
   (tree method, no partial dependence) against ``shap.TreeExplainer(model)(X)`` on the same
   rows, best of three each. Target: within 1.2x of shap.
3. Attribution drift: a ModelExplainability monitor of an endpoint serving that model, run over
   100,000 captured rows (written in the capture layout serving writes: 1,000 requests of 100
   rows), explaining a 1,000-row sample and scoring the ranking by nDCG. No target; reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BIAS_TARGET_S = 2.0
SHAP_TARGET_RATIO = 1.2
FEATURES = 20


def write_bias_data(rows: int, path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    facet = rng.choice(np.array(["a", "b", "c"]), rows, p=[0.5, 0.3, 0.2])
    score = rng.normal(size=rows) + (facet == "a") * 0.5
    pd.DataFrame({
        "facet": facet,
        "group": rng.choice(np.array(["g1", "g2", "g3", "g4"]), rows),
        "f1": score + rng.normal(scale=0.5, size=rows),
        "f2": rng.normal(size=rows),
        "f3": rng.uniform(size=rows),
        "label": (score > 0.3).astype(np.int64),
        "prediction": (score + rng.normal(scale=0.7, size=rows) > 0.2).astype(np.int64),
    }).to_parquet(path)


def bias_side(path: str) -> dict[str, Any]:
    from slipway.clarify import BiasConfig, bias_metrics

    config = BiasConfig(label="label", label_values=(1,), facet="facet", group="group", predicted_label="prediction")
    bias_metrics(path, config, methods=["CI"])  # imports and first-call costs out of the timing
    start, cpu = time.perf_counter(), time.process_time()
    found = bias_metrics(path, config)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    computed = sum(1 for section in found.values() for entry in section["facets"]["facet"]
                   for metric in entry["metrics"] if metric["value"] is not None)
    return {"seconds": seconds, "cpu": cpu, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "metrics": computed}


def _model_and_rows(rows: int, trees: int, seed: int = 1) -> tuple[Any, pd.DataFrame]:
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, FEATURES)), columns=[f"x{i:02d}" for i in range(FEATURES)])
    target = frame["x00"] * 3 + frame["x01"] ** 2 + frame["x02"] * frame["x03"] + rng.normal(scale=0.1, size=rows)
    return xgb.XGBRegressor(n_estimators=trees, max_depth=4).fit(frame, target), frame


def shap_side(rows: int, trees: int) -> dict[str, Any]:
    import shap

    from slipway.clarify import explain
    from slipway.models import load_model, save_model

    model, frame = _model_and_rows(max(rows, 2000), trees)
    X = frame.head(rows)
    with tempfile.TemporaryDirectory() as tmp:
        save_model(model, Path(tmp) / "m", input_example=X.head(3))
        loaded = load_model(Path(tmp) / "m")
    theirs, ours, theirs_cpu, ours_cpu = [], [], [], []
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        shap.TreeExplainer(model)(X)
        theirs.append(time.perf_counter() - start)
        theirs_cpu.append(time.process_time() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        result = explain(loaded, X, max_rows=None, pdp_features=0)
        ours.append(time.perf_counter() - start)
        ours_cpu.append(time.process_time() - cpu)
    assert result.method == "tree"
    return {"shap": min(theirs), "slipway": min(ours), "shap_cpu": min(theirs_cpu), "slipway_cpu": min(ours_cpu)}


def monitor_side(rows: int, trees: int) -> dict[str, Any]:
    from slipway import Client
    from slipway.models import save_model
    from slipway.monitoring import ExecutionStatus
    from slipway.store.artifacts import Owner

    model, frame = _model_and_rows(rows + 2000, trees, seed=2)
    train, live = frame.head(2000), frame.iloc[2000:].reset_index(drop=True)
    home = Path(tempfile.mkdtemp(prefix="slipway-bench-clarify-"))
    try:
        with Client(home=home) as client:
            save_model(model, home / "m", input_example=train.head(3))
            version = client.registry.register_model("bench-xgb", home / "m").version
            client.registry.approve("bench-xgb", version)
            endpoint = client.backend.serving.create_endpoint("bench-xgb", [{"model": f"bench-xgb/{version}"}])
            report = client.clarify.run_explain(f"bench-xgb/{version}", train, pdp_features=0)
            client.monitoring.create_monitor("bench-attribution", kind="ModelExplainability", report=report.id,
                                             endpoint="bench-xgb")
            _write_captures(client.backend.artifacts, Owner("endpoint", endpoint.id), live, model.predict(live))
            start = time.perf_counter()
            run = client.monitoring.run_monitor("bench-attribution")
            seconds = time.perf_counter() - start
        assert run.status is not ExecutionStatus.FAILED, run.message
        return {"seconds": seconds, "rows": rows, "ndcg": run.metrics["attribution.ndcg"],
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _write_captures(artifacts: Any, owner: Any, rows: pd.DataFrame, predictions: np.ndarray, per_request: int = 100,
                    per_file: int = 100) -> None:
    """Captured requests in the layout serving writes (``capture/YYYY/MM/DD/HH/<file>.jsonl``)."""
    columns = list(rows.columns)
    now = dt.datetime.now(dt.UTC)
    lines: list[str] = []
    files = 0
    for start in range(0, len(rows), per_request):
        chunk = rows.iloc[start:start + per_request]
        lines.append(json.dumps({"time": now.isoformat(), "inference_id": f"bench-{start}", "variant": "v",
                                 "request": {"columns": columns, "data": chunk.to_numpy().tolist()},
                                 "response": predictions[start:start + per_request].tolist()}))
        if len(lines) == per_file or start + per_request >= len(rows):
            artifacts.put_bytes(owner, f"capture/{now:%Y/%m/%d/%H}/bench-{files:05d}.jsonl", "\n".join(lines).encode())
            lines, files = [], files + 1


def run_side(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-2000:] or f"exit {proc.returncode}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every size / 10")
    parser.add_argument("--bias-rows", type=int, help="rows of the bias benchmark (default 1,000,000)")
    parser.add_argument("--monitor-rows", type=int, help="captured rows of the monitor run (default 100,000)")
    parser.add_argument("--side", nargs=3, metavar=("KIND", "ARG", "TREES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        kind, arg, trees = args.side
        sides = {"bias": lambda: bias_side(arg), "shap": lambda: shap_side(int(arg), int(trees)),
                 "monitor": lambda: monitor_side(int(arg), int(trees))}
        print(json.dumps(sides[kind]()))
        return 0
    scale = 10 if args.quick else 1
    bias_rows = args.bias_rows or 1_000_000 // scale
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-clarify-"))
    try:
        write_bias_data(bias_rows, work / "bias.parquet")
        bias = run_side(["--side", "bias", str(work / "bias.parquet"), "0"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shap_rows, monitor_rows, trees = 1000 // scale, args.monitor_rows or 100_000 // scale, 200 // scale
    explained = run_side(["--side", "shap", str(shap_rows), str(trees)])
    monitored = run_side(["--side", "monitor", str(monitor_rows), str(trees)])

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Clarify: {os.cpu_count()} CPUs, load average {load}")
    print()
    print("| workload | Slipway | reference | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| bias metrics, pre + post training, {bias_rows:,} rows ({bias['metrics']} values) | "
          f"{bias['seconds']:.2f} s (CPU {bias['cpu']:.2f} s) | — | — | ≤ {BIAS_TARGET_S:g} s |")
    print(f"| peak memory of the bias metrics | {bias['peak_mb']:.0f} MB | — | — | bounded |")
    ratio, cpu_ratio = explained["slipway"] / explained["shap"], explained["slipway_cpu"] / explained["shap_cpu"]
    ours = f"{explained['slipway']:.3f} s (CPU {explained['slipway_cpu']:.3f} s)"
    theirs = f"shap {explained['shap']:.3f} s (CPU {explained['shap_cpu']:.3f} s)"
    print(f"| SHAP, {trees}-tree XGBoost, {shap_rows:,} rows x {FEATURES} features | {ours} | {theirs} "
          f"| {ratio:.2f}× (CPU {cpu_ratio:.2f}×) | ≤ {SHAP_TARGET_RATIO:g}× |")
    print(f"| attribution-drift monitor run, {monitor_rows:,} captured rows | {monitored['seconds']:.2f} s | — | — | "
          f"— |")
    print()
    print(f"Attribution drift: nDCG {monitored['ndcg']:.3f} against the training report (same model); "
          f"monitor process peak {monitored['peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
