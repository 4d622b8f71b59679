"""Where steps run: the contract every executor keeps, and the Ray executor.

An executor takes tasks (:class:`~slipway.pipelines._worker.Task`) and reports each one's result
exactly once, through the callback given with it, from any thread. The local executor
(:class:`~slipway.pipelines._pool.LocalExecutor`) keeps warm worker processes; the Ray executor runs
each task as a Ray task with the step's resources.
"""

from __future__ import annotations

import abc
import pickle
import threading
from collections.abc import Callable
from typing import Any

from slipway._ray import connect_ray
from slipway.pipelines._worker import Task, TaskResult, run_payload

Done = Callable[[TaskResult], None]


class Executor(abc.ABC):
    """Runs step tasks somewhere and reports each result once.

    Contract: :meth:`submit` never blocks on the task; ``done`` is called exactly once per
    submitted task, with a failed result if the task could not run or was cancelled, possibly
    from another thread (so it must be quick and thread-safe). :meth:`cancel` of a finished or
    unknown task does nothing. Executors may be shared by several executions at once.
    """

    @abc.abstractmethod
    def submit(self, task: Task, done: Done) -> None:
        """Start ``task``; report its result through ``done``."""

    @abc.abstractmethod
    def cancel(self, task_id: str, error_type: str, message: str) -> None:
        """Stop a task; its result is a failure with ``error_type`` and ``message``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release workers; tasks still running are cancelled."""


def _ray_entry(payload: bytes) -> bytes:
    """The Ray task: the same worker code as the local pool, in a Ray worker process (which Ray may
    kill at any time, so it keeps no scratch folder between tasks)."""
    return run_payload(payload, keep_scratch=False)


class RayExecutor(Executor):
    """Each step a Ray task, reserving the step's :class:`~slipway.pipelines.Resources`.

    Uses the Ray cluster this process is connected to (``ray.init`` called already), or connects
    to ``address`` (by default ``RAY_ADDRESS``, else a new local cluster). The workers must
    reach the same metadata database and artifact store as the orchestrator, and import the
    step functions: on a cluster that means PostgreSQL, S3 and the code installed on every node.

    Example:
        >>> pipeline.run(executor="ray")  # doctest: +SKIP
    """

    def __init__(self, address: str | None = None) -> None:
        ray = connect_ray(address)
        self._ray = ray
        self._remote = ray.remote(_ray_entry)
        self._lock = threading.Lock()
        self._running: dict[Any, tuple[str, Done]] = {}
        self._cancelled: dict[str, tuple[str, str]] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._collect, name="slipway-ray-results", daemon=True)
        self._thread.start()

    def submit(self, task: Task, done: Done) -> None:
        resources = task.step.resources
        options: dict[str, Any] = {"num_cpus": resources.cpus, "num_gpus": resources.gpus, "max_retries": 0}
        if resources.memory_mb:
            options["memory"] = resources.memory_mb * 2**20
        ref = self._remote.options(**options).remote(task.dumps())
        with self._lock:
            self._running[ref] = (task.id, done)

    def cancel(self, task_id: str, error_type: str, message: str) -> None:
        with self._lock:
            ref = next((r for r, (tid, _) in self._running.items() if tid == task_id), None)
            if ref is None:
                return
            self._cancelled[task_id] = (error_type, message)
        self._ray.cancel(ref, force=True)

    def _collect(self) -> None:
        while not self._closed:
            with self._lock:
                refs = list(self._running)
            if not refs:
                threading.Event().wait(0.05)
                continue
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0.1, fetch_local=True)
            for ref in ready:
                with self._lock:
                    task_id, done = self._running.pop(ref)
                    cancelled = self._cancelled.pop(task_id, None)
                done(self._result(ref, task_id, cancelled))

    def _result(self, ref: Any, task_id: str, cancelled: tuple[str, str] | None) -> TaskResult:
        if cancelled is not None:
            return TaskResult.failure(task_id, *cancelled)
        try:
            result: TaskResult = pickle.loads(self._ray.get(ref))
        except Exception as exc:  # the worker died or Ray refused the task
            return TaskResult.failure(task_id, "WorkerLost", f"the Ray task failed: {type(exc).__name__}: {exc}")
        return result

    def close(self) -> None:
        self._closed = True
        with self._lock:
            refs = list(self._running)
        for ref in refs:
            self._ray.cancel(ref, force=True)
        self._thread.join(timeout=5)
