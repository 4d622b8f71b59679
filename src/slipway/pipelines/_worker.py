"""The worker side of a step: what runs in a pool process or a Ray task.

A task arrives as bytes (cloudpickle: the step object, its resolved arguments, the recipe for the
store's services). The worker makes a private work folder, copies inputs in, sends the process's
stdout and stderr (file descriptors 1 and 2, so subprocesses and native code are captured too) to
files, runs the step, and stores the outputs and the logs under the step execution in one go.
The result goes back as bytes; the worker keeps nothing of the task but warm imports and engines.
"""

from __future__ import annotations

import atexit
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
from typing import Any, BinaryIO

import cloudpickle

from slipway._confinement import Confinement
from slipway._disclosure import PathScreen
from slipway._kinds import ObjectKind
from slipway.pipelines._artifacts import ArtifactRef, refs_below
from slipway.pipelines._code import fresh_module, importable
from slipway.pipelines._context import Services, ServiceSpec, TaskInfo, WorkContext
from slipway.store.artifacts import Owner

# One set of engines per worker process and store: a warm worker reuses its database pool. Keyed
# by the spec's pickle, which needs nothing of the settings' fields but that they pickle.
_SERVICES: dict[bytes, Services] = {}
_SCREENS: dict[bytes, PathScreen] = {}


@dataclass(frozen=True)
class PackedStep:
    """A step ready to travel, pickled once per execution however many attempts it takes.

    ``modules`` names the module of its code, which a worker imports (or reloads, if its file
    changed) before unpickling the step; ``resources`` is what the Ray executor reserves.
    """

    blob: bytes
    modules: tuple[str, ...]
    resources: Any

    @classmethod
    def of(cls, step: Any) -> PackedStep:
        """Pack a step (typed loosely so this module needs no step types)."""
        code = step.code()
        modules = (code.ref.partition(":")[0],) if code is not None and importable(code.ref) else ()
        return cls(cloudpickle.dumps(step.detached()), modules, step.resources)


@dataclass
class Task:
    """One attempt of one step, as sent to a worker."""

    id: str
    info: TaskInfo
    step: PackedStep
    args: dict[str, Any]
    services: ServiceSpec
    sys_path: list[str] = field(default_factory=lambda: list(sys.path))
    screened: bool = False  # a server's step: its error and logs name no path of the worker's folders

    def dumps(self) -> bytes:
        """The task as a worker reads it: the import path and the step's module first."""
        return pickle.dumps((self.id, self.sys_path, self.step.modules, pickle.dumps(self)))


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


def run_payload(payload: bytes, *, keep_scratch: bool = True) -> bytes:
    """Run one task given as bytes and return its result as bytes (the entry of every executor).

    ``keep_scratch=False`` removes the process's scratch folder after the task: for workers that
    may be killed without notice by someone else (Ray's), where nobody would remove it later.
    """
    task_id, path, modules, data = pickle.loads(payload)
    for entry in path:
        if entry not in sys.path:
            sys.path.append(entry)
    try:
        for module in modules:
            fresh_module(module)
        task: Task = pickle.loads(data)
        step = pickle.loads(task.step.blob)
    except Exception as exc:  # the step's code cannot be loaded here (a module missing on this machine)
        result = TaskResult.failure(task_id, type(exc).__name__, f"cannot load the step here: {exc}", worker_name())
    else:
        result = run_task(task, step)
    if not keep_scratch and _SCRATCH:
        _SCRATCH.pop().remove()
    return pickle.dumps(result)


def _screen(task: Task) -> PathScreen:
    """The folders of this worker's machine that a server's step never names (its own view: a Ray
    worker's temporary folder and Python are not the server's)."""
    key = pickle.dumps(task.services.settings)
    screen = _SCREENS.get(key)
    if screen is None:
        screen = _SCREENS[key] = Confinement.server(task.services.settings).paths
    return screen


def services_of(spec: ServiceSpec) -> Services:
    """This process's services for ``spec``: built on first use, then kept (a warm worker's engines)."""
    key = pickle.dumps(spec)
    services = _SERVICES.get(key)
    if services is None:
        services = _SERVICES[key] = spec.build()
    return services


class _Scratch:
    """A worker process's own folder: two log files reused by every task, and a folder per task.

    Creating and removing folders is the slowest thing a no-op step would do (file-system metadata
    writes), so nothing is created unless a step asks: a task's folder appears only when it copies
    inputs or writes outputs, and the logs are truncated, not re-created.
    """

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="slipway-worker-"))
        self.stdout = (self.base / "stdout.txt").open("w+b")
        self.stderr = (self.base / "stderr.txt").open("w+b")
        self.tasks = 0
        atexit.register(shutil.rmtree, self.base, True)

    def task_dir(self) -> Path:
        self.tasks += 1
        return self.base / f"task-{self.tasks}"

    def remove(self) -> None:
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.base, ignore_errors=True)


_SCRATCH: list[_Scratch] = []  # made on this process's first task


def _scratch() -> _Scratch:
    if not _SCRATCH:
        _SCRATCH.append(_Scratch())
    return _SCRATCH[0]


def run_task(task: Task, step: Any) -> TaskResult:
    started = time.perf_counter()
    scratch = _scratch()
    work = scratch.task_dir()  # created by the step only if it needs it
    owner = Owner(ObjectKind.STEP_EXECUTION, task.info.step_execution_id)
    result = TaskResult(task.id, ok=False, worker=worker_name())
    try:
        with _captured(scratch.stdout, scratch.stderr):
            try:
                ctx = WorkContext(task.info, task.args, work, lambda: services_of(task.services), spec=task.services)
                outcome = step.run(ctx)
                result.ok = True
                result.properties, result.run_id = outcome.properties, outcome.run_id
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the step's failure, sys.exit included, is the attempt's result
                traceback.print_exc()
                result.error_types = [cls.__name__ for cls in type(exc).__mro__]
                result.error = f"{type(exc).__name__}: {exc}"
        out = work / "out"
        if not result.ok:
            shutil.rmtree(out / "outputs", ignore_errors=True)
        screen = _screen(task) if task.screened else None
        for log in (scratch.stdout, scratch.stderr):
            if os.fstat(log.fileno()).st_size:
                target = out / "logs" / f"attempt-{task.info.attempt}" / Path(log.name).name
                target.parent.mkdir(parents=True, exist_ok=True)
                if screen is None:
                    shutil.copyfile(log.name, target)
                else:  # a traceback names this machine's folders: its files, the cache, the scratch folder
                    text = Path(log.name).read_bytes().decode("utf-8", errors="surrogateescape")
                    target.write_bytes(screen.text(text).encode("utf-8", errors="surrogateescape"))
        if screen is not None and result.error is not None:
            result.error = screen.text(result.error)
        if out.is_dir():
            entries = services_of(task.services).artifacts.put_dir(owner, "", out)
            if result.ok:
                result.outputs = refs_below(entries, owner, "outputs", step.output_names)
    except Exception as exc:  # storing failed: the attempt fails, with the reason
        result.ok = False
        result.error_types = [cls.__name__ for cls in type(exc).__mro__]
        result.error = f"storing the step's files failed: {type(exc).__name__}: {exc}"
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


@contextlib.contextmanager
def _captured(stdout: BinaryIO, stderr: BinaryIO) -> Iterator[None]:
    """Send file descriptors 1 and 2 to the (emptied) files ``stdout`` and ``stderr`` for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    for log in (stdout, stderr):
        log.seek(0)
        log.truncate()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(stdout.fileno(), 1)
        os.dup2(stderr.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
