"""The scheduler thread of ``slipway server``: fires due schedules and dispatches rule actions.

Several servers may share one database: each runs its own scheduler, and the service's
compare-and-set claims make every schedule occurrence and every (rule, event) run once.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

_log = logging.getLogger(__name__)
DEFAULT_INTERVAL_SECONDS = 5.0


class _Automation(Protocol):
    def run_due_schedules(self) -> object: ...

    def dispatch_pending(self) -> object: ...


class Scheduler:
    """Calls ``run_due_schedules()`` then ``dispatch_pending()`` every ``interval`` seconds.

    A failing round (the database restarting, say) is logged and the next round tries again: the
    thread only ends with :meth:`stop`.

    Example:
        >>> scheduler = Scheduler(backend.automation, interval=5.0)
        >>> scheduler.start()
        >>> ...
        >>> scheduler.stop()
    """

    def __init__(self, automation: _Automation, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._automation = automation
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (a daemon: it never keeps the process alive on its own)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="slipway-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end after its current round, and wait for it up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> None:
        """One round: fire due schedules, then dispatch events and ready runs."""
        self._automation.run_due_schedules()
        self._automation.dispatch_pending()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad round must not end the thread: the next one may succeed
                _log.exception("scheduler round failed; trying again in %.0f s", self._interval)
            self._stop.wait(self._interval)
