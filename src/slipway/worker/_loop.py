"""The worker's loop: every round claims what is ready and nobody holds, then sleeps a little."""

from __future__ import annotations

import logging
import threading

from slipway._backend import Backend
from slipway._config import Settings

_log = logging.getLogger(__name__)
_MAX_POLL_S = 1.0


class Worker:
    """Claims and runs work from the metadata database until stopped.

    Each round claims the queued pipeline executions nobody holds (new ones, resumed ones, and
    those whose orchestrator's lease ran out) and orchestrates them in threads of this process.
    A failing round (the database restarting, say) is logged and the next one tries again.

    Args:
        backend: the services to work with; a worker holds the server's rules
            (``Backend.confine``): definitions may name code only from ``pipeline_modules``.
        poll_interval: seconds between two rounds; by default a quarter of the lease (at most
            one second), so a dead holder's work is taken over soon after its lease ends.
    """

    def __init__(self, backend: Backend, *, poll_interval: float | None = None) -> None:
        self.backend = backend
        backend.confine()
        lease = backend.settings.lease_seconds
        self.poll_interval = poll_interval if poll_interval is not None else min(_MAX_POLL_S, lease / 4)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> Worker:
        """A worker over engines of its own, built from ``settings``."""
        return cls(Backend(settings))

    def run_once(self) -> list[str]:
        """One round; returns the ids of the pipeline executions it claimed."""
        return self.backend.pipelines.orchestrate_queued()

    def run(self) -> None:
        """Run rounds until :meth:`stop` (blocks)."""
        self.backend.pipelines.warm()  # a claimed execution's first step does not wait for a process to start
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad round must not end the worker: the next one may succeed
                _log.exception("worker round failed; trying again in %.1f s", self.poll_interval)
            self._stop.wait(self.poll_interval)

    def start(self) -> None:
        """Run rounds in a daemon thread of this process (a server's, or a test's)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="slipway-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Claim nothing more; executions already claimed keep running until they end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
