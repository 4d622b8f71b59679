"""The worker's loops: pipeline executions, jobs and the scheduler, each claiming what nobody holds."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from slipway._backend import Backend
from slipway._config import Settings
from slipway._principal import Principal, acting_as
from slipway.automation import Scheduler
from slipway.store import Job, JobQueue
from slipway.worker._jobs import HANDLERS

_log = logging.getLogger(__name__)
_MAX_POLL_S = 1.0


class Worker:
    """Claims and runs work from the metadata database until stopped.

    Three loops, each in a thread of this process:

    - pipelines: claims the queued executions nobody holds (new ones, resumed ones, and those
      whose orchestrator's lease ran out) and orchestrates them;
    - jobs: claims the jobs a server queued (a monitor's run over captured traffic or sent records; a bias or
      explainability report over a registered dataset; an upload, a feature ingest, materializing,
      a batch transform; the action of a hook call; garbage collection, due schedules and rule
      dispatch asked over REST) one at a time, runs each as
      the principal who asked, and records its result or error;
    - the scheduler (``scheduler_interval``; 0: off): fires due schedules and runs the actions of
      rules and hooks (deployments, monitor runs, garbage collection, pipeline starts).

    A failing round (the database restarting, say) is logged and the next one tries again.

    Args:
        backend: the services to work with; a worker holds the server's rules
            (``Backend.confine``): definitions may name code only from ``pipeline_modules``.
        poll_interval: seconds between two rounds when idle; by default a quarter of the lease
            (at most one second), so a dead holder's work is taken over soon after its lease ends.
        scheduler: whether this worker also runs the scheduler.
        warm: start the local step processes at once (``slipway worker``), so the first execution
            claimed does not wait for them; otherwise on first use (a server's worker).
    """

    def __init__(
        self, backend: Backend, *, poll_interval: float | None = None, scheduler: bool = True, warm: bool = False
    ) -> None:
        self.backend = backend
        self.warm = warm
        backend.confine()
        lease = backend.settings.lease_seconds
        self.poll_interval = poll_interval if poll_interval is not None else min(_MAX_POLL_S, lease / 4)
        self.jobs = JobQueue(backend.db, int(lease * 1000))
        interval = backend.settings.scheduler_interval
        self._scheduler = Scheduler(backend.automation, interval) if scheduler and interval > 0 else None
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_settings(cls, settings: Settings, *, warm: bool = False) -> Worker:
        """A worker over engines of its own, built from ``settings``."""
        return cls(Backend(settings), warm=warm)

    def run_once(self) -> list[str]:
        """One round of the pipelines' loop; returns the ids of the executions it claimed."""
        return self.backend.pipelines.orchestrate_queued()

    def run_job(self) -> Job | None:
        """Claim one ready job and run it to its end; None when there was none."""
        job = self.jobs.claim(self.name, list(HANDLERS))
        return None if job is None else self.jobs.run(job, self._handle)

    def _handle(self, job: Job) -> object:
        with acting_as(Principal(job.actor, frozenset(job.roles), source=f"job:{job.id}")):
            return HANDLERS[job.kind](self.backend, job.payload)

    def run(self) -> None:
        """Run every loop until :meth:`stop` (blocks)."""
        if self.warm:
            self.backend.pipelines.warm()  # a claimed execution's first step does not wait for a process to start
        if self._scheduler is not None:
            self._scheduler.start()
        jobs = threading.Thread(target=self._loop, args=(self.run_job, True), name="slipway-worker-jobs", daemon=True)
        jobs.start()
        self._loop(self.run_once, False)
        jobs.join(30)
        if self._scheduler is not None:
            self._scheduler.stop()

    def _loop(self, round_: Callable[[], object], eager: bool) -> None:
        """Rounds until stopped; ``eager``: the next round follows at once when this one found work."""
        while not self._stop.is_set():
            try:
                found = round_()
            except Exception:  # a bad round must not end the worker: the next one may succeed
                _log.exception("worker round failed; trying again in %.1f s", self.poll_interval)
                found = None
            if not (eager and found):
                self._stop.wait(self.poll_interval)

    def start(self) -> None:
        """Run the loops in a daemon thread of this process (a server's, or a test's)."""
        self._stop.clear()
        thread = threading.Thread(target=self.run, name="slipway-worker", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Claim nothing more; executions already claimed keep running until they end."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
