"""The worker side of a step: what runs in a pool process or a Ray task.

A task arrives as bytes (cloudpickle: the step object, its resolved arguments, the recipe for the
store's services). The worker makes a private work folder, copies inputs in, sends the process's
stdout and stderr (file descriptors 1 and 2, so subprocesses and native code are captured too) to
files, runs the step, and stores the outputs and the logs under the step execution in one go.
The result goes back as bytes; the worker keeps nothing of the task but warm imports and engines.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle

from slipway.pipelines._artifacts import STEP_OWNER, ArtifactRef, refs_below
from slipway.pipelines._code import fresh_module, importable
from slipway.pipelines._context import Services, ServiceSpec, TaskInfo, WorkContext
from slipway.store.artifacts import Owner

# One set of engines per worker process and store: a warm worker reuses its database pool.
_SERVICES: dict[ServiceSpec, Services] = {}


@dataclass
class Task:
    """One attempt of one step, as sent to a worker."""

    id: str
    info: TaskInfo
    step: Any  # a Step; typed loosely so this module needs no step types
    args: dict[str, Any]
    services: ServiceSpec
    sys_path: list[str] = field(default_factory=lambda: list(sys.path))

    def dumps(self) -> bytes:
        """The task as a worker reads it: the import path and the step's module first, so the module
        can be found, and reloaded if its file changed since the worker loaded it."""
        code = self.step.code()
        modules = [code.ref.partition(":")[0]] if code is not None and importable(code.ref) else []
        return pickle.dumps((self.id, self.sys_path, modules, cloudpickle.dumps(self)))


@dataclass
class TaskResult:
    """How an attempt ended: outputs and properties, or the error (with its class and bases by name)."""

    task_id: str
    ok: bool
    outputs: dict[str, ArtifactRef] = field(default_factory=dict)
    properties: dict[str, Any] | None = None
    run_id: str | None = None
    error_types: list[str] = field(default_factory=list)
    error: str | None = None
    worker: str | None = None
    seconds: float = 0.0

    @property
    def error_type(self) -> str | None:
        return self.error_types[0] if self.error_types else None

    @classmethod
    def failure(cls, task_id: str, error_type: str, message: str, worker: str | None = None) -> TaskResult:
        return cls(task_id, False, error_types=[error_type, "Exception"], error=message, worker=worker)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_payload(payload: bytes) -> bytes:
    """Run one task given as bytes and return its result as bytes (the entry of every executor)."""
    task_id, path, modules, data = pickle.loads(payload)
    for entry in path:
        if entry not in sys.path:
            sys.path.append(entry)
    try:
        for module in modules:
            fresh_module(module)
        task: Task = pickle.loads(data)
    except Exception as exc:  # the step's code cannot be loaded here (a module missing on this machine)
        result = TaskResult.failure(task_id, type(exc).__name__, f"cannot load the step here: {exc}", worker_name())
    else:
        result = run_task(task)
    return pickle.dumps(result)


def _services(spec: ServiceSpec) -> Services:
    services = _SERVICES.get(spec)
    if services is None:
        services = _SERVICES[spec] = spec.build()
    return services


def run_task(task: Task) -> TaskResult:
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="slipway-step-"))
    out = work / "out"
    logs = out / "logs" / f"attempt-{task.info.attempt}"
    logs.mkdir(parents=True)
    owner = Owner(STEP_OWNER, task.info.step_execution_id)
    result = TaskResult(task.id, ok=False, worker=worker_name())
    try:
        with _captured(logs):
            try:
                ctx = WorkContext(task.info, task.args, work, lambda: _services(task.services))
                outcome = task.step.run(ctx)
                result.ok = True
                result.properties, result.run_id = outcome.properties, outcome.run_id
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the step's failure, sys.exit included, is the attempt's result
                traceback.print_exc()
                result.error_types = [cls.__name__ for cls in type(exc).__mro__]
                result.error = f"{type(exc).__name__}: {exc}"
        if not result.ok:
            shutil.rmtree(out / "outputs", ignore_errors=True)
        for log in logs.iterdir():
            if log.stat().st_size == 0:
                log.unlink()
        if any(p.is_file() for p in out.rglob("*")):
            entries = _services(task.services).artifacts.put_dir(owner, "", out)
            if result.ok:
                result.outputs = refs_below(entries, owner, "outputs", task.step.output_names)
    except Exception as exc:  # storing failed: the attempt fails, with the reason
        result.ok = False
        result.error_types = [cls.__name__ for cls in type(exc).__mro__]
        result.error = f"storing the step's files failed: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


@contextlib.contextmanager
def _captured(folder: Path) -> Iterator[None]:
    """Send file descriptors 1 and 2 to ``stdout.txt`` and ``stderr.txt`` in ``folder`` for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with (folder / "stdout.txt").open("wb") as out, (folder / "stderr.txt").open("wb") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])
