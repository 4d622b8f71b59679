"""The worker side of a step: what runs in a pool process or a Ray task.

A task arrives as bytes (cloudpickle: the step object, its resolved arguments, the recipe for the
store's services). The worker makes a private work folder, copies inputs in, sends the process's
stdout and stderr (file descriptors 1 and 2, so subprocesses and native code are captured too) to
files, runs the step, and stores the outputs and the logs under the step execution in one go.
The result goes back as bytes; the worker keeps nothing of the task but warm imports and engines.
A light step goes through the same :func:`run_task` in the orchestrator's own thread
(:mod:`slipway.pipelines._light`), with its own log capture.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import functools
import itertools
import os
import pickle
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import cloudpickle

from slipway._confinement import Confinement
from slipway._disclosure import PathScreen
from slipway._kinds import ObjectKind
from slipway.pipelines._artifacts import ArtifactRef, refs_below
from slipway.pipelines._code import fresh_module, importable, loaded_stamp
from slipway.pipelines._context import Services, ServiceSpec, TaskInfo, WorkContext
from slipway.store.artifacts import Owner

# One set of engines per worker process and store: a warm worker reuses its database pool. Keyed
# by the spec's pickle, which needs nothing of the settings' fields but that they pickle.
_SERVICES: dict[bytes, Services] = {}
_SCREENS: dict[bytes, PathScreen] = {}
_BUILD_LOCK = threading.Lock()
_SPECS: dict[bytes, ServiceSpec] = {}  # pickled spec -> the spec: see _spec
_MAX_SPECS = 16
_STEPS: dict[tuple[bytes, tuple[Any, ...]], Any] = {}  # packed step and its modules' stamps -> the step: see _step
_MAX_STEPS = 1024


@dataclass(frozen=True)
class PackedStep:
    """A step ready to travel, pickled once however many attempts it takes (see :class:`PackedSteps`).

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


class PackedSteps:
    """Packed steps kept between executions of the same step objects: a service runs the same
    pipeline object again and again, and packing a step costs more than the orchestrator's whole
    round for it. A step is packed again when its JSON definition differs from the one it was
    packed with (it was changed in place); entries go with the step objects. Thread-safe."""

    def __init__(self) -> None:
        self._packed: weakref.WeakKeyDictionary[Any, tuple[Mapping[str, Any], PackedStep]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self, step: Any, definition: Mapping[str, Any]) -> PackedStep:
        """``step`` packed, ``definition`` its JSON in the execution's pipeline version."""
        with self._lock:
            found = self._packed.get(step)
        if found is not None and found[0] == definition:
            return found[1]
        packed = PackedStep.of(step)
        with self._lock:
            self._packed[step] = (definition, packed)
        return packed


@dataclass
class Assignment:
    """One attempt of one step, as whatever runs it needs it besides the step itself."""

    id: str
    info: TaskInfo
    args: dict[str, Any]
    services: ServiceSpec
    screened: bool = False  # a server's step: its error and logs name no path of the worker's folders


@dataclass(kw_only=True)
class Task(Assignment):
    """An assignment with its step packed, as sent to a worker process or a Ray task.

    ``services_blob`` is ``services`` pickled, once for all the tasks of an execution: a warm
    worker unpickles the same bytes once (:func:`_spec`), not the settings again for every step.
    """

    step: PackedStep
    services_blob: bytes
    sys_path: list[str] = field(default_factory=lambda: list(sys.path))

    def dumps(self) -> bytes:
        """The task as a worker reads it: the import path and the step's module first, then the
        services and the step as the bytes they were packed into, and the rest of the assignment."""
        rest = pickle.dumps((self.info, self.args, self.screened))
        return pickle.dumps((self.id, self.sys_path, self.step.modules, self.services_blob, self.step.blob, rest))


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
    return f"{_host()}:{os.getpid()}"


@functools.cache
def _host() -> str:
    return socket.gethostname()


def run_payload(payload: bytes, *, keep_scratch: bool = True) -> bytes:
    """Run one task given as bytes and return its result as bytes (the entry of every executor).

    ``keep_scratch=False`` removes the process's scratch folder after the task: for workers that
    may be killed without notice by someone else (Ray's), where nobody would remove it later.
    """
    task_id, path, modules, services, packed, rest = pickle.loads(payload)
    for entry in path:
        if entry not in sys.path:
            sys.path.append(entry)
    try:
        for module in modules:
            fresh_module(module)
        info, args, screened = pickle.loads(rest)
        task = Assignment(task_id, info, args, _spec(services), screened)
        step = _step(packed, modules)
    except Exception as exc:  # the step's code cannot be loaded here (a module missing on this machine)
        result = TaskResult.failure(task_id, type(exc).__name__, f"cannot load the step here: {exc}", worker_name())
    else:
        result = run_task(task, step)
    if not keep_scratch and _SCRATCH:
        _SCRATCH.pop().remove()
    return pickle.dumps(result)


def _spec(blob: bytes) -> ServiceSpec:
    """The services of a pickled spec, unpickled once per process and spec (a warm worker gets
    the same bytes with every task of an execution, and of every execution of the service)."""
    spec = _SPECS.get(blob)
    if spec is None:
        if len(_SPECS) >= _MAX_SPECS:  # a long-lived Ray worker may see many services' specs
            _SPECS.clear()
        spec = _SPECS[blob] = pickle.loads(blob)
    return spec


def _step(blob: bytes, modules: tuple[str, ...]) -> Any:
    """A packed step, unpickled once per process for as long as its module's code is unchanged.

    A step whose code is pickled by value (no module: a function of ``__main__`` or a closure) is
    unpickled for every task, so each task starts from the globals it was packed with, as before.
    A step object keeps no state between runs (its run reads its settings only); the function it
    calls is its module's, which a warm worker keeps anyway.
    """
    if not modules:
        return pickle.loads(blob)
    key = (blob, tuple(loaded_stamp(m) for m in modules))
    step = _STEPS.get(key)
    if step is None:
        if len(_STEPS) >= _MAX_STEPS:
            _STEPS.clear()
        step = _STEPS[key] = pickle.loads(blob)
    return step


def _screen(task: Assignment) -> PathScreen:
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
        with _BUILD_LOCK:  # several orchestrator threads may run light steps at once
            services = _SERVICES.get(key)
            if services is None:
                services = _SERVICES[key] = spec.build()
    return services


class LogCapture(abc.ABC):
    """Where a step's stdout and stderr go while it runs, and what they were."""

    @abc.abstractmethod
    def captured(self) -> contextlib.AbstractContextManager[None]:
        """Capture (from empty) what the step writes, for the block."""

    @abc.abstractmethod
    def logs(self) -> Iterator[tuple[str, Path | bytes]]:
        """The non-empty logs captured last, by file name: a file, or the bytes."""


def _save_logs(logs: list[tuple[str, Path | bytes]], folder: Path, screen: PathScreen | None) -> None:
    """Write captured logs into ``folder`` (with no path of ``screen``'s folders in them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, log in logs:
        target = folder / name
        if screen is None and isinstance(log, Path):
            shutil.copyfile(log, target)
            continue
        data = log.read_bytes() if isinstance(log, Path) else log
        if screen is not None:  # a traceback names this machine's folders: its files, the cache, the scratch
            data = screen.text(data.decode("utf-8", errors="surrogateescape")).encode("utf-8", errors="surrogateescape")
        target.write_bytes(data)


class _DescriptorCapture(LogCapture):
    """File descriptors 1 and 2 sent to two files: a worker process's own, so subprocesses and
    native code are captured too."""

    def __init__(self, base: Path) -> None:
        self.stdout = (base / "stdout.txt").open("w+b")
        self.stderr = (base / "stderr.txt").open("w+b")

    def captured(self) -> contextlib.AbstractContextManager[None]:
        return _captured(self.stdout, self.stderr)

    def logs(self) -> Iterator[tuple[str, Path | bytes]]:
        for log in (self.stdout, self.stderr):
            if os.fstat(log.fileno()).st_size:
                yield Path(log.name).name, Path(log.name)

    def close(self) -> None:
        self.stdout.close()
        self.stderr.close()


class _Scratch:
    """A process's own folder: a folder per task, and (in a worker process) two log files reused by
    every task.

    Creating and removing folders is the slowest thing a no-op step would do (file-system metadata
    writes), so nothing is created unless a step asks: a task's folder appears only when it copies
    inputs or writes outputs, and the logs are truncated, not re-created. Several threads may take
    task folders at once (light steps of several executions in one orchestrator).
    """

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="slipway-worker-"))
        self._numbers = itertools.count(1)
        self._capture: _DescriptorCapture | None = None
        atexit.register(shutil.rmtree, self.base, True)

    @property
    def capture(self) -> _DescriptorCapture:
        if self._capture is None:
            self._capture = _DescriptorCapture(self.base)
        return self._capture

    def task_dir(self) -> Path:
        return self.base / f"task-{next(self._numbers)}"

    def remove(self) -> None:
        if self._capture is not None:
            self._capture.close()
        shutil.rmtree(self.base, ignore_errors=True)


_SCRATCH: list[_Scratch] = []  # made on this process's first task
_SCRATCH_LOCK = threading.Lock()


def _scratch() -> _Scratch:
    if not _SCRATCH:
        with _SCRATCH_LOCK:
            if not _SCRATCH:
                _SCRATCH.append(_Scratch())
    return _SCRATCH[0]


def run_task(task: Assignment, step: Any, capture: LogCapture | None = None) -> TaskResult:
    """Run one attempt of ``step`` in this process: its outputs and logs stored, its result returned.

    Args:
        capture: where its stdout and stderr go; by default this process's file descriptors 1 and 2
            (a worker process's, whose every output is the step's).
    """
    started = time.perf_counter()
    scratch = _scratch()
    capture = capture or scratch.capture
    work = scratch.task_dir()  # created by the step only if it needs it
    owner = Owner(ObjectKind.STEP_EXECUTION, task.info.step_execution_id)
    result = TaskResult(task.id, ok=False, worker=worker_name())
    made: bool | None = None  # whether the task's folder exists (None: not looked yet)
    try:
        with capture.captured():
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
        made = os.path.isdir(work)  # a no-op step made no folder: nothing to store, nothing to remove
        if made and not result.ok:
            shutil.rmtree(out / "outputs", ignore_errors=True)
        screen = _screen(task) if task.screened else None
        logs = list(capture.logs())
        if logs:
            _save_logs(logs, out / "logs" / f"attempt-{task.info.attempt}", screen)
            made = True
        if screen is not None and result.error is not None:
            result.error = screen.text(result.error)
        if made and os.path.isdir(out):
            entries = services_of(task.services).artifacts.put_dir(owner, "", out)
            if result.ok:
                result.outputs = refs_below(entries, owner, "outputs", step.output_names)
    except Exception as exc:  # storing failed: the attempt fails, with the reason
        result.ok = False
        result.error_types = [cls.__name__ for cls in type(exc).__mro__]
        result.error = f"storing the step's files failed: {type(exc).__name__}: {exc}"
    finally:
        if made or (made is None and os.path.isdir(work)):
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
