"""The local executor: a pool of warm worker processes, one step at a time in each.

Workers are plain ``python -m slipway.pipelines._workerproc`` processes. They start once, then
stay alive between steps and between executions run by the same service, so a step pays neither a
process start nor the imports its worker has already done; a fresh interpreter (rather than a
fork) means a worker never re-runs the caller's script, whatever its ``__main__`` guard. Each
worker runs one task at a time, reading tasks and writing results on two pipes of its own; a task
that must stop (timeout, stop request) is stopped by killing its worker, which is then replaced.
Workers exit by themselves when the process that made the pool dies.

One dispatcher thread owns the workers: it hands queued tasks to idle workers and waits on all
busy ones at once for results and deaths; :meth:`LocalExecutor.submit` and
:meth:`LocalExecutor.cancel` only post commands to it.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any

from slipway.pipelines._executors import Done, Executor
from slipway.pipelines._worker import Task, TaskResult

_WORKER_MODULE = "slipway.pipelines._workerproc"


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    tasks: Connection  # we write tasks
    results: Connection  # we read results
    task: tuple[str, Done] | None = None


class LocalExecutor(Executor):
    """Runs each step in a warm worker process on this machine.

    Args:
        max_workers: worker processes at most (by default one per CPU); more tasks than that wait.

    Example:
        >>> executor = LocalExecutor(max_workers=4)
        >>> service = PipelineService(db, artifacts, services, local_executor=executor)  # doctest: +SKIP
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = Pipe(duplex=False)
        self._workers: list[_Worker] = []
        self._queued: deque[tuple[str, bytes, Done]] = deque()
        self._cancelled: dict[str, tuple[str, str]] = {}
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # -- the caller's side (any thread) ------------------------------------------------------------

    def submit(self, task: Task, done: Done) -> None:
        self._post("submit", (task.id, task.dumps(), done))

    def cancel(self, task_id: str, error_type: str, message: str) -> None:
        self._post("cancel", (task_id, error_type, message))

    def close(self) -> None:
        if self._thread is None or self._closed:
            self._closed = True
            return
        self._post("close", None)
        self._thread.join(timeout=10)

    def _post(self, command: str, arg: Any) -> None:
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the executor is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._dispatch, name="slipway-pool", daemon=True)
                self._thread.start()
        self._commands.put((command, arg))
        self._wake_w.send_bytes(b"!")

    # -- the dispatcher thread -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            if not self._handle_commands():
                break
            self._assign()
            busy = {w.results: w for w in self._workers if w.task is not None}
            for ready in wait([self._wake_r, *busy]):
                if ready is self._wake_r:
                    self._wake_r.recv_bytes()
                else:
                    self._receive(busy[ready])  # type: ignore[index]
        self._shutdown()

    def _handle_commands(self) -> bool:
        while True:
            try:
                command, arg = self._commands.get_nowait()
            except queue.Empty:
                return True
            if command == "submit":
                self._queued.append(arg)
            elif command == "cancel":
                self._cancel(*arg)
            elif command == "close":
                self._closed = True
                return False

    def _assign(self) -> None:
        while self._queued:
            worker = next((w for w in self._workers if w.task is None), None)
            if worker is None:
                if len(self._workers) >= self.max_workers:
                    return
                worker = self._spawn()
            task_id, payload, done = self._queued.popleft()
            try:
                worker.tasks.send_bytes(payload)
            except OSError:  # the worker died while idle: start another
                self._queued.appendleft((task_id, payload, done))
                self._remove(worker)
                continue
            worker.task = (task_id, done)

    def _spawn(self) -> _Worker:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        process = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE, str(task_r), str(result_w), str(os.getpid())],
            pass_fds=(task_r, result_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            close_fds=True,
        )
        os.close(task_r)
        os.close(result_w)
        worker = _Worker(process, Connection(task_w, readable=False), Connection(result_r, writable=False))
        self._workers.append(worker)
        return worker

    def _receive(self, worker: _Worker) -> None:
        assert worker.task is not None
        task_id, done = worker.task
        try:
            result: TaskResult = pickle.loads(worker.results.recv_bytes())
        except (EOFError, OSError):
            self._lost(worker)
            return
        worker.task = None
        done(result)

    def _lost(self, worker: _Worker) -> None:
        """A worker died (killed to stop its task, or crashed): report its task, forget the worker."""
        self._remove(worker)
        if worker.task is None:
            return
        task_id, done = worker.task
        cancelled = self._cancelled.pop(task_id, None)
        if cancelled is not None:
            done(TaskResult.failure(task_id, *cancelled))
        else:
            code = worker.process.wait()
            done(TaskResult.failure(task_id, "WorkerLost", f"the worker process died (exit code {code})"))

    def _cancel(self, task_id: str, error_type: str, message: str) -> None:
        for i, (queued_id, _payload, done) in enumerate(self._queued):
            if queued_id == task_id:
                del self._queued[i]
                done(TaskResult.failure(task_id, error_type, message))
                return
        worker = next((w for w in self._workers if w.task is not None and w.task[0] == task_id), None)
        if worker is not None:
            self._cancelled[task_id] = (error_type, message)
            worker.process.kill()

    def _remove(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        worker.tasks.close()
        worker.results.close()
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()

    def _shutdown(self) -> None:
        for worker in list(self._workers):
            if worker.task is not None:
                self._cancelled[worker.task[0]] = ("Stopped", "the executor was closed")
                worker.process.kill()
                self._lost(worker)
            else:
                worker.tasks.close()  # an idle worker exits when its task pipe closes
                try:
                    worker.process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                worker.results.close()
        self._workers.clear()
        for task_id, _payload, done in self._queued:
            done(TaskResult.failure(task_id, "Stopped", "the executor was closed"))
        self._queued.clear()
