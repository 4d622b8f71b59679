"""Pipeline orchestration benchmark: DAG shapes of no-op steps, Slipway next to Prefect 3.

Run by hand::

    .venv/bin/python bench/pipelines.py              # chain 100 (workers, light), fan-out 100, DAG 1,000
    .venv/bin/python bench/pipelines.py --quick      # every size / 10: a smoke run

Workloads, all of no-op steps, so what is timed is orchestration:

- **chain 100**: 100 steps, each after the one before: per-step overhead, one step at a time.
- **chain 100, light**: the same chain with every step marked ``light``: run in the orchestrator's
  own thread, no worker process (Prefect's tasks run in threads of the flow's process too).
- **fan-out 100**: one step, then 100 independent steps after it, two at a time (two cores).
- **DAG 1,000**: 1,000 steps, each after 1-3 random steps among the 50 before it (seeded).

Slipway runs each step in its own warm worker process (the local executor, one worker per CPU),
or in the orchestrator's thread for the light chain; either way it records every transition in its
SQLite store (each in a committed transaction before the step is handed out, at the store's
default durability), and looks each step up in the cache (every run gets a fresh token
parameter, so each lookup misses and each step really runs). The workers are started by a
warm-up run before the clock starts; each shape runs ``--repeats`` times and the median counts
(the best is printed too). Prefect 3 runs the same shapes as tasks of a flow
(``task.submit(wait_for=...)``, its default thread pool, a temporary ``PREFECT_HOME``), in an
environment of its own (``bench/_reference.py``: built on first use into the reference cache, at
the pins written there) so the project's own does not depend on it; if that cannot be built its
cells say n/a, with the reason. Its chain figure stands for both chain rows.

Both sides settle the same way before each timed shape: the previous run is fully recorded (Slipway
writes every transition before ``run`` returns; Prefect's task-run states are polled until final),
then ``SETTLE_S`` seconds idle. Without it Prefect's fan-out was timed while its server still
recorded the previous flow (issue 22: 1.1 s settled against 7.6-8.1 s unsettled).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _reference import ReferenceUnavailable, reference_python

from slipway import load_settings
from slipway._backend import Backend
from slipway.pipelines import Parameter, Pipeline, PipelineService, ProcessingStep

HERE = Path(__file__).resolve().parent
TARGET_OVERHEAD_MS = 10.0  # fan-out: per step
TARGET_CHAIN_MS = 1.0  # chain on warm workers: per step (issue 22)
TARGET_LIGHT_MS = 0.5  # chain of light steps: per step (issue 22)
TARGET_DAG_S = 30.0
TARGET_RATIO = 5.0
SETTLE_S = 1.0  # both sides: idle seconds before each timed shape, once the previous one is fully recorded

Shape = dict[str, list[str]]  # step -> the steps it runs after, in order
# row -> (shape, light): what Slipway runs; Prefect runs each shape once
WORKLOADS = {"chain": ("chain", False), "chain, light": ("chain", True), "fan-out": ("fan-out", False),
             "dag": ("dag", False)}


def shapes(scale: int) -> dict[str, Shape]:
    chain_n, fan_n, dag_n = 100 // scale, 100 // scale, 1000 // scale
    chain = {f"s{i}": ([f"s{i - 1}"] if i else []) for i in range(chain_n)}
    fan = {"root": []} | {f"leaf{i}": ["root"] for i in range(fan_n)}
    rng = random.Random(42)
    dag: Shape = {}
    for i in range(dag_n):
        window = list(range(max(0, i - 50), i))
        deps = rng.sample(window, k=min(len(window), rng.randint(1, 3))) if i >= 10 else []
        dag[f"n{i}"] = [f"n{d}" for d in sorted(deps)]
    return {"chain": chain, "fan-out": fan, "dag": dag}


def noop(token: str) -> None:
    """The step: nothing, so only orchestration is measured."""


def nap(token: str) -> None:
    """A short sleep for the warm-up, so that every worker gets a step before the clock starts."""
    time.sleep(0.2)


def _pipeline(name: str, shape: Shape, fn: Any = noop, *, light: bool = False) -> Pipeline:
    token = Parameter("token", str, "")
    steps: dict[str, ProcessingStep] = {}
    for step, deps in shape.items():
        steps[step] = ProcessingStep(
            step, fn, inputs={"token": token}, depends_on=[steps[d] for d in deps], light=light
        )
    return Pipeline(name, list(steps.values()))


def slipway_side(all_shapes: dict[str, Shape], work: Path, repeats: int) -> dict[str, Any]:
    """Each workload's seconds, ``repeats`` times (or an error)."""
    backend = Backend(load_settings(env={}, cwd=work, home=str(work / "home")))
    service: PipelineService = backend.pipelines
    parallel = os.cpu_count() or 1
    results: dict[str, Any] = {}
    try:
        warm = _pipeline("warm-up", {f"w{i}": [] for i in range(2 * parallel)}, nap)
        service.run(warm, parameters={"token": uuid.uuid4().hex}, max_parallel=parallel)  # every worker started
        for row, (shape_name, light) in WORKLOADS.items():
            pipeline = _pipeline(row.replace(", ", "-"), all_shapes[shape_name], light=light)
            service.register(pipeline)  # a definition is stored once, not per run
            times: list[float] = []
            for _ in range(repeats):
                time.sleep(SETTLE_S)  # the same idle as Prefect's side gets (bench/_prefect_side.py)
                started = time.perf_counter()
                execution = service.run(pipeline, parameters={"token": uuid.uuid4().hex}, max_parallel=parallel)
                times.append(time.perf_counter() - started)
                done = [s for s in execution.steps if s.status.value == "Succeeded" and s.attempts == 1]
                if execution.status.value != "Succeeded" or len(done) != len(pipeline.steps):
                    results[row] = f"error: {execution.status.value}, {execution.failure_reason}"
                    break
            else:
                results[row] = times
    finally:
        backend.close()
    return results


def prefect_side(all_shapes: dict[str, Shape], work: Path) -> dict[str, Any]:
    try:
        python = reference_python("prefect")
    except ReferenceUnavailable as exc:
        return {"error": str(exc)}
    (work / "shapes.json").write_text(json.dumps(all_shapes))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SLIPWAY_"))}
    env |= {
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_LOGGING_LEVEL": "ERROR",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    proc = subprocess.run(
        [str(python), str(HERE / "_prefect_side.py"), str(work / "shapes.json"), str(SETTLE_S)],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
        cwd=work,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _seconds(value: Any) -> str:
    return f"{value:.2f} s" if isinstance(value, float) else str(value)


def _per_step(value: Any, steps: int) -> str:
    return f"{value / steps * 1000:.2f} ms" if isinstance(value, float) else "n/a"


def _goal(row: str, seconds: float | None, steps: int) -> tuple[str, bool]:
    """The row's target and whether ``seconds`` meets it."""
    if row == "dag":
        return f"< {TARGET_DAG_S:.0f} s", seconds is not None and seconds < TARGET_DAG_S
    limit = {"chain": TARGET_CHAIN_MS, "chain, light": TARGET_LIGHT_MS}.get(row, TARGET_OVERHEAD_MS)
    return f"≤ {limit:g} ms/step", seconds is not None and seconds / steps * 1000 <= limit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size / 10")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each workload; the median counts")
    parser.add_argument("--no-prefect", action="store_true", help="Slipway only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    all_shapes = shapes(10 if args.quick else 1)
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-pipelines-"))
    try:
        (work / "slipway").mkdir()
        ours = slipway_side(all_shapes, work / "slipway", max(1, args.repeats))
        (work / "prefect").mkdir()
        theirs = {"error": "skipped: --no-prefect"} if args.no_prefect else prefect_side(all_shapes, work / "prefect")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    print(
        f"Pipelines: no-op steps on {os.cpu_count()} CPUs (load average {load_before:.1f} before, {load:.1f} after); "
        f"Slipway: warm worker processes, or the orchestrator's thread (light), median of {args.repeats}; "
        f"Prefect: {theirs.get('version', 'n/a')}, threads; both settled {SETTLE_S:g} s idle before each run; "
        "figures under load need a quiet rerun"
    )
    print()
    print("| workload | steps | Slipway | per step | best per step | Prefect | per step | Slipway faster by | target "
          "| met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = False
    for row, (shape_name, _light) in WORKLOADS.items():
        steps = len(all_shapes[shape_name])
        runs = ours.get(row)
        mine = statistics.median(runs) if isinstance(runs, list) else None
        best = min(runs) if isinstance(runs, list) else None
        other = theirs.get(shape_name, f"n/a ({theirs['error']})" if "error" in theirs else "n/a")
        ratio = other / mine if mine is not None and isinstance(other, float) else None
        goal, met = _goal(row, mine, steps)
        if ratio is not None:
            goal += f", ≥ {TARGET_RATIO:.0f}× Prefect"
            met = met and ratio >= TARGET_RATIO
        failed |= mine is None
        print(
            f"| {row} | {steps:,} | {_seconds(mine if mine is not None else runs)} | {_per_step(mine, steps)} | "
            f"{_per_step(best, steps)} | {_seconds(other)} | {_per_step(other, steps)} | "
            f"{'n/a' if ratio is None else f'{ratio:.1f}×'} | {goal} | {'yes' if met else 'NO'} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"slipway": ours, "prefect": theirs, "load": [load_before, load],
                 "steps": {k: len(v) for k, v in all_shapes.items()}},
                indent=2,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
