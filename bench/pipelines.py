"""Pipeline orchestration benchmark: DAG shapes of no-op steps, Slipway next to Prefect 3.

Run by hand::

    .venv/bin/python bench/pipelines.py              # chain 100, fan-out 100, DAG 1,000
    .venv/bin/python bench/pipelines.py --quick      # every size / 10: a smoke run

Workloads, all of no-op steps, so what is timed is orchestration:

- **chain 100**: 100 steps, each after the one before: per-step overhead, one step at a time.
- **fan-out 100**: one step, then 100 independent steps after it, two at a time (two cores).
- **DAG 1,000**: 1,000 steps, each after 1-3 random steps among the 50 before it (seeded).

Slipway runs each step in its own warm worker process (the local executor, one worker per CPU),
records every transition in its SQLite store, and looks each step up in the cache (every run gets
a fresh token parameter, so each lookup misses and each step really runs). The workers are started
by a warm-up run before the clock starts. Prefect 3 runs the same shapes as tasks of a flow
(``task.submit(wait_for=...)``, its default thread pool, a temporary ``PREFECT_HOME``), in an
environment of its own (``bench/_reference.py``: built on first use into the reference cache, at
the pins written there) so the project's own does not depend on it; if that cannot be built its
cells say n/a, with the reason.

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
TARGET_OVERHEAD_MS = 10.0
TARGET_DAG_S = 30.0
TARGET_RATIO = 5.0
SETTLE_S = 1.0  # both sides: idle seconds before each timed shape, once the previous one is fully recorded

Shape = dict[str, list[str]]  # step -> the steps it runs after, in order


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


def _pipeline(name: str, shape: Shape, fn: Any = noop) -> Pipeline:
    token = Parameter("token", str, "")
    steps: dict[str, ProcessingStep] = {}
    for step, deps in shape.items():
        steps[step] = ProcessingStep(step, fn, inputs={"token": token}, depends_on=[steps[d] for d in deps])
    return Pipeline(name, list(steps.values()))


def slipway_side(all_shapes: dict[str, Shape], work: Path) -> dict[str, Any]:
    backend = Backend(load_settings(env={}, cwd=work, home=str(work / "home")))
    service: PipelineService = backend.pipelines
    parallel = os.cpu_count() or 1
    results: dict[str, Any] = {}
    try:
        warm = _pipeline("warm-up", {f"w{i}": [] for i in range(2 * parallel)}, nap)
        service.run(warm, parameters={"token": uuid.uuid4().hex}, max_parallel=parallel)  # every worker started
        for name, shape in all_shapes.items():
            pipeline = _pipeline(name, shape)
            service.register(pipeline)  # a definition is stored once, not per run
            time.sleep(SETTLE_S)  # the same idle as Prefect's side gets (bench/_prefect_side.py)
            started = time.perf_counter()
            execution = service.run(pipeline, parameters={"token": uuid.uuid4().hex}, max_parallel=parallel)
            results[name] = time.perf_counter() - started
            if execution.status.value != "Succeeded":
                results[name] = f"error: {execution.failure_reason}"
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
    return f"{value / steps * 1000:.1f} ms" if isinstance(value, float) else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size / 10")
    parser.add_argument("--no-prefect", action="store_true", help="Slipway only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    all_shapes = shapes(10 if args.quick else 1)
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-pipelines-"))
    try:
        (work / "slipway").mkdir()
        ours = slipway_side(all_shapes, work / "slipway")
        (work / "prefect").mkdir()
        theirs = {"error": "skipped: --no-prefect"} if args.no_prefect else prefect_side(all_shapes, work / "prefect")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    print(
        f"Pipelines: no-op steps on {os.cpu_count()} CPUs (load average {load:.1f}); "
        f"Slipway: warm worker processes; Prefect: {theirs.get('version', 'n/a')}, threads; "
        f"both settled {SETTLE_S:g} s idle before each shape; figures under load need a quiet rerun"
    )
    print()
    print("| workload | steps | Slipway | per step | Prefect | per step | Slipway faster by | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = False
    for name, shape in all_shapes.items():
        steps = len(shape)
        mine = ours.get(name)
        other = theirs.get(name, f"n/a ({theirs['error']})" if "error" in theirs else "n/a")
        ratio = other / mine if isinstance(mine, float) and isinstance(other, float) else None
        per_step_ms = mine / steps * 1000 if isinstance(mine, float) else None
        if name == "dag":
            goal, met = f"< {TARGET_DAG_S:.0f} s", isinstance(mine, float) and mine < TARGET_DAG_S
        else:
            goal = f"≤ {TARGET_OVERHEAD_MS:.0f} ms/step"
            met = per_step_ms is not None and per_step_ms <= TARGET_OVERHEAD_MS
        if ratio is not None:
            goal += f", ≥ {TARGET_RATIO:.0f}× Prefect"
            met = met and ratio >= TARGET_RATIO
        failed |= not isinstance(mine, float)
        print(
            f"| {name} | {steps:,} | {_seconds(mine)} | {_per_step(mine, steps)} | {_seconds(other)} | "
            f"{_per_step(other, steps)} | {'n/a' if ratio is None else f'{ratio:.1f}×'} | {goal} | "
            f"{'yes' if met else 'NO'} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"slipway": ours, "prefect": theirs, "load": load, "steps": {k: len(v) for k, v in all_shapes.items()}},
                indent=2,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
