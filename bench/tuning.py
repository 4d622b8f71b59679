"""Tuning benchmark (issue 22): a Tuning step's cost per trial next to plain in-memory Optuna.

Run by hand::

    .venv/bin/python bench/tuning.py              # 200 TPE trials, 3 repeats a side
    .venv/bin/python bench/tuning.py --quick      # 40 trials, 1 repeat: a smoke run

The objective is the same on both sides: ``(x - 2)²`` for ``x`` in [0, 4], with the smallest model
to return (a fitted ``DummyRegressor``, built on both sides). Both search with TPE seeded alike,
one trial at a time, so both sample the same points: the bench checks that the best values and
parameters are equal.

- **Optuna**: ``study.optimize`` on an in-memory study. Seconds per trial: the call's wall time / trials.
- **Slipway**: a ``TuningStep`` (``executor="threads"``, the study in memory) run by a pipeline on
  the local executor with its SQLite store, each trial a child run holding its params, its objective
  and its tags; the best trial's model stored on its run and as the step's output. Seconds per
  trial: from the first trial run's start to the last one's end, / trials (the step's own start and
  the pipeline's orchestration are the other benches' business). The bench checks that every trial
  is a child run with its params and its objective.

The load average is printed: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from slipway import load_settings
from slipway._backend import Backend
from slipway.pipelines import FloatRange, LocalExecutor, Pipeline, PipelineService, ServiceSpec, TuningStep

TARGET_MS = 2.0  # Slipway's per-trial cost at most this above Optuna's


def quadratic(x: float) -> Any:
    """The objective: the loss, and the model a training function returns with it."""
    from sklearn.dummy import DummyRegressor

    from slipway.pipelines import TrainingResult

    loss = (x - 2.0) ** 2
    return TrainingResult(model=DummyRegressor(constant=loss).fit([[0.0]], [loss]), metrics={"loss": loss})


def optuna_side(trials: int) -> dict[str, Any]:
    """Plain Optuna on an in-memory study: seconds per trial, and the best trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    started = time.perf_counter()
    study.optimize(lambda t: quadratic(t.suggest_float("x", 0.0, 4.0)).metrics["loss"], n_trials=trials)
    seconds = time.perf_counter() - started
    return {"per_trial_s": seconds / trials, "best_value": study.best_value, "best_params": study.best_params}


def slipway_side(trials: int, backend: Backend, service: PipelineService, tag: str) -> dict[str, Any]:
    """A Tuning step in a pipeline: seconds per trial over the trial runs' span, and the best trial."""
    tune = TuningStep(
        "Tune", quadratic, search_space={"x": FloatRange(0.0, 4.0)}, objective="loss", sampler="tpe", seed=1,
        max_trials=trials, cache=False,
    )
    execution = service.run(Pipeline(f"bench-tuning-{tag}", [tune]))
    if execution.failure_reason:
        raise RuntimeError(execution.failure_reason)
    props = execution.step("Tune").properties or {}
    runs = backend.tracking.search_runs(filter=f"parent_run_id = '{props['run_id']}'", max_results=10_000).runs
    # Every trial tracked: a child run with its params, its objective and its state.
    complete = [r for r in runs if r.tags.get("slipway.tuning.state") == "COMPLETE"]
    if len(runs) != trials or len(complete) != trials or any("x" not in r.params or "loss" not in r.metrics
                                                             for r in runs):
        raise RuntimeError(f"expected {trials} complete trial runs with params and objective, got {len(complete)}")
    if not backend.tracking.list_artifacts(props["best_run_id"], "model"):
        raise RuntimeError("the best trial's run holds no model")
    first = min(r.start_time for r in runs)
    last = max(r.end_time or r.start_time for r in runs)
    return {"per_trial_s": (last - first).total_seconds() / trials, "best_value": props["best_value"],
            "best_params": props["best_params"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 trials, 1 repeat")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    trials, repeats = (40, 1) if args.quick else (args.trials, args.repeats)
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-tuning-"))
    load_before = os.getloadavg()[0]
    try:
        backend = Backend(load_settings(env={}, cwd=work, home=str(work / "home")))
        pool = LocalExecutor(max_workers=1)
        service = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings),
                                  local_executor=pool)
        slipway_side(5, backend, service, "warm-up")  # the worker started, its imports done
        optuna_side(5)
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for i in range(repeats):  # alternated, so both sides see the same load
            theirs.append(optuna_side(trials))
            ours.append(slipway_side(trials, backend, service, str(i)))
        service.close()
        pool.close()
        backend.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]
    same = all(o["best_value"] == t["best_value"] and o["best_params"] == t["best_params"]
               for o, t in zip(ours, theirs, strict=True))
    optuna_ms = statistics.median(t["per_trial_s"] for t in theirs) * 1000
    slipway_ms = statistics.median(o["per_trial_s"] for o in ours) * 1000
    extra = slipway_ms - optuna_ms
    print(f"Tuning, {trials} TPE trials, median of {repeats} (load average {load_before:.1f} before, "
          f"{load_after:.1f} after; {os.cpu_count()} CPUs)")
    print()
    print("| side | per trial | goal | met |")
    print("| --- | --- | --- | --- |")
    print(f"| Optuna, in-memory study | {optuna_ms:.2f} ms | | |")
    print(f"| Slipway TuningStep (each trial a child run) | {slipway_ms:.2f} ms | | |")
    print(f"| Slipway's cost above Optuna | {extra:.2f} ms ({slipway_ms / optuna_ms:.1f}×) | ≤ {TARGET_MS:g} ms | "
          f"{'yes' if extra <= TARGET_MS else 'NO'} |")
    print(f"| same best trial both sides | {'yes' if same else 'NO'} | yes | {'yes' if same else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps({"optuna": theirs, "slipway": ours, "load_before": load_before,
                                         "load_after": load_after}, indent=2, default=str))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
