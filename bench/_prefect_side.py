"""Prefect 3's side of bench/pipelines.py, run with the Python of an environment where Prefect is installed.

Usage: PYTHON _prefect_side.py SHAPES_JSON [SETTLE_S]. Runs each shape as a flow of no-op tasks,
each task submitted with ``wait_for`` its upstream tasks' futures, on Prefect's default task runner
(a thread pool), after one warm-up flow; prints one JSON line: shape -> seconds, and Prefect's version.

Settling, the same as Slipway's side: before each timed flow, the previous flow's records are all
in the store (Prefect's server records task-run states after the flow returns, so every task run of
the previous flow is polled until it is in a final state, for at most 300 s), then SETTLE_S seconds
of idle. Without this, a flow is timed while the server still writes the previous one.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import prefect
from prefect import flow, task


@task
def noop(token: str) -> None:
    """Nothing: only orchestration is measured."""


@flow
def run_shape(shape: dict[str, list[str]], token: str) -> None:
    futures: dict[str, Any] = {}
    for step, deps in shape.items():
        futures[step] = noop.submit(token, wait_for=[futures[d] for d in deps])
    for future in futures.values():
        future.result()


def settle(state: Any, tasks: int, idle_s: float) -> float:
    """Wait until every task run of the flow behind ``state`` is recorded as final, then idle."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    started = time.perf_counter()
    flow_run_id = state.state_details.flow_run_id
    deadline = started + 300
    with get_client(sync_client=True) as client:
        while time.perf_counter() < deadline:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            if len(runs) >= tasks and all(r.state is not None and r.state.is_final() for r in runs):
                break
            time.sleep(0.1)
    time.sleep(idle_s)
    return time.perf_counter() - started


def main(path: str, idle_s: float) -> None:
    with open(path) as fh:
        shapes: dict[str, dict[str, list[str]]] = json.load(fh)
    warm = {"a": [], "b": ["a"]}
    previous = (run_shape(warm, "warm-up", return_state=True), len(warm))
    result: dict[str, Any] = {"version": f"prefect {prefect.__version__}", "settled": {}}
    for name, shape in shapes.items():
        result["settled"][name] = settle(*previous, idle_s)
        started = time.perf_counter()
        state = run_shape(shape, name, return_state=True)
        result[name] = time.perf_counter() - started
        previous = (state, len(shape))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 1.0)
