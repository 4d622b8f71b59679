"""Prefect 3's side of bench/pipelines.py, run with the Python of an environment where Prefect is installed.

Usage: PYTHON _prefect_side.py SHAPES_JSON. Runs each shape as a flow of no-op tasks, each task
submitted with ``wait_for`` its upstream tasks' futures, on Prefect's default task runner (a thread
pool), after one warm-up flow; prints one JSON line: shape -> seconds, and Prefect's version.
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


def main(path: str) -> None:
    with open(path) as fh:
        shapes: dict[str, dict[str, list[str]]] = json.load(fh)
    run_shape({"a": [], "b": ["a"]}, "warm-up")
    result: dict[str, Any] = {"version": f"prefect {prefect.__version__}"}
    for name, shape in shapes.items():
        started = time.perf_counter()
        run_shape(shape, name)
        result[name] = time.perf_counter() - started
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
