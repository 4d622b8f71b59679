"""The local executor: a pool of warm worker processes, one step at a time in each.

Workers are plain ``python -m slipway.pipelines._workerproc`` processes. They start once, then
stay alive between steps and between executions run by the same service, so a step pays neither a
process start nor the imports its worker has already done; a fresh interpreter (rather than a
fork) means a worker never re-runs the caller's script, whatever its ``__main__`` guard. Each
worker runs one task at a time, reading tasks and writing results on two pipes of its own; a task
that must stop (timeout, stop request) is stopped by killing its worker, which is then replaced.
Workers exit by themselves when the process that made the pool dies.

A submitting thread hands its task straight to an idle worker (under the pool's lock), so a step
costs one pipe write and no thread hop; one collector thread waits on every worker's result pipe
at once, reports results and deaths, and gives a freed worker the next queued task.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe

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

    Safe to share between threads and executions: tasks beyond ``max_workers`` wait their turn.

    Args:
        max_workers: worker processes at most (by default one per CPU).

    Example:
        >>> executor = LocalExecutor(max_workers=4)
        >>> service = PipelineService(db, artifacts, services, local_executor=executor)  # doctest: +SKIP
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._generation = 0  # changes with the list of workers (the collector watches theirs)
        self._queued: deque[tuple[str, bytes, Done]] = deque()
        self._cancelled: dict[str, tuple[str, str]] = {}
        self._wake_r, self._wake_w = Pipe(duplex=False)
        self._closed = False
        self._thread: threading.Thread | None = None
        # The workers' temporary folder (their TMPDIR), removed with the pool: a worker killed to
        # stop its step leaves its scratch files there, not in the system's temp folder.
        self._tmp: str | None = None

    def warm(self) -> None:
        """Start every worker now, so the first steps do not wait for a process to start; returns at once."""
        with self._lock:
            self._open()
            missing = self.max_workers - len(self._workers)
            for _ in range(missing):
                self._spawn()
        if missing > 0:
            self._wake_w.send_bytes(b"!")  # the collector must watch the new workers too

    def submit(self, task: Task, done: Done) -> None:
        payload = task.dumps()
        with self._lock:
            self._open()
            self._queued.append((task.id, payload, done))
            spawned = self._assign()
        if spawned:
            self._wake_w.send_bytes(b"!")

    def cancel(self, task_id: str, error_type: str, message: str) -> None:
        with self._lock:
            queued = next((q for q in self._queued if q[0] == task_id), None)
            if queued is not None:
                self._queued.remove(queued)
            else:
                worker = next((w for w in self._workers if w.task is not None and w.task[0] == task_id), None)
                if worker is not None:  # its result pipe reaches EOF: the collector reports the task
                    self._cancelled[task_id] = (error_type, message)
                    worker.process.kill()
        if queued is not None:
            queued[2](TaskResult.failure(task_id, error_type, message))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._wake_w.send_bytes(b"!")
        thread.join(timeout=10)

    # -- under the lock ------------------------------------------------------------------------------

    def _open(self) -> None:
        if self._closed:
            raise RuntimeError("the executor is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._collect, name="slipway-pool", daemon=True)
            self._thread.start()

    def _assign(self) -> bool:
        """Give queued tasks to idle workers, starting workers up to the limit; True if any started."""
        spawned = False
        while self._queued:
            worker = next((w for w in self._workers if w.task is None), None)
            if worker is None:
                if len(self._workers) >= self.max_workers:
                    break
                worker, spawned = self._spawn(), True
            task_id, payload, done = self._queued.popleft()
            try:
                worker.tasks.send_bytes(payload)
            except OSError:  # it died while idle: the collector will see it go; try another
                self._queued.appendleft((task_id, payload, done))
                self._workers.remove(worker)
                self._generation += 1
                continue
            worker.task = (task_id, done)
        return spawned

    def _spawn(self) -> _Worker:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        self._tmp = self._tmp or tempfile.mkdtemp(prefix="slipway-pool-")
        # stderr is the caller's: a worker that dies outside a step says why there.
        process = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE, str(task_r), str(result_w), str(os.getpid())],
            pass_fds=(task_r, result_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            close_fds=True,
            env={**os.environ, "TMPDIR": self._tmp},
        )
        os.close(task_r)
        os.close(result_w)
        worker = _Worker(process, Connection(task_w, readable=False), Connection(result_r, writable=False))
        self._workers.append(worker)
        self._generation += 1
        return worker

    # -- the collector thread ------------------------------------------------------------------------

    def _collect(self) -> None:
        # One poll set for the thread's life, changed only when the workers change: a result's
        # callback wakes the orchestrator, which waits for this thread to be back in poll (and to
        # let go of the GIL), so the way back there is kept short.
        poller = select.poll()
        wake = self._wake_r.fileno()
        poller.register(wake, select.POLLIN)
        watched: dict[int, _Worker] = {}
        seen = -1
        while True:
            with self._lock:
                if self._closed:
                    break
                if seen != self._generation:
                    seen = self._generation
                    current = {w.results.fileno(): w for w in self._workers}
                    for fd in watched.keys() - current.keys():
                        poller.unregister(fd)
                    for fd in current.keys() - watched.keys():
                        poller.register(fd, select.POLLIN)
                    watched = current
            for fd, _event in poller.poll():
                if fd == wake:
                    self._wake_r.recv_bytes()
                else:
                    self._receive(watched[fd])
        self._shutdown()

    def _receive(self, worker: _Worker) -> None:
        try:
            data = worker.results.recv_bytes()
        except (EOFError, OSError):
            self._lost(worker)
            return
        with self._lock:
            task, worker.task = worker.task, None
            self._assign()
        if task is not None:
            task[1](pickle.loads(data))

    def _lost(self, worker: _Worker) -> None:
        """A worker died (killed to stop its task, or crashed): report its task, replace it if needed."""
        _close(worker)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
                self._generation += 1
            cancelled = self._cancelled.pop(worker.task[0], None) if worker.task is not None else None
            self._assign()
        if worker.task is None:
            return
        task_id, done = worker.task
        if cancelled is not None:
            done(TaskResult.failure(task_id, *cancelled))
        else:
            done(
                TaskResult.failure(
                    task_id, "WorkerLost", f"the worker process died (exit code {worker.process.returncode})"
                )
            )

    def _shutdown(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
            queued, self._queued = list(self._queued), deque()
        for worker in workers:
            if worker.task is not None:
                worker.process.kill()
                _close(worker)
                worker.task[1](TaskResult.failure(worker.task[0], "Stopped", "the executor was closed"))
            else:
                worker.tasks.close()  # an idle worker exits when its task pipe closes
                try:
                    worker.process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                _close(worker)
        for task_id, _payload, done in queued:
            done(TaskResult.failure(task_id, "Stopped", "the executor was closed"))
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _close(worker: _Worker) -> None:
    worker.tasks.close()
    worker.results.close()
    if worker.process.poll() is None:
        worker.process.kill()
    worker.process.wait()
