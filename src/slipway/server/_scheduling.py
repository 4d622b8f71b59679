"""The server's lifespan: unless worker processes do it, the API's process runs the scheduler and
claims queued pipeline executions while the app serves.

The scheduler thread fires due schedules and runs rule actions every ``scheduler_interval``
seconds (a setting; 0 turns it off). The claiming thread takes up the queued executions nobody
holds (those whose orchestrator died included) every second at most. With several workers or
several servers on one database each runs them, and the claims keep every action to a single run
and every execution to a single orchestrator.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from slipway.automation import Scheduler

_log = logging.getLogger(__name__)
_MAX_CLAIM_INTERVAL_S = 1.0


def _every(interval: float, round_: Callable[[], object], stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            round_()
        except Exception:  # a bad round must not end the thread: the next one may succeed
            _log.exception("claiming queued pipeline executions failed; trying again")


@contextlib.asynccontextmanager
async def scheduler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the scheduler and claiming threads with the app, stop them when the app stops."""
    backend = app.state.backend
    interval = backend.settings.scheduler_interval
    # With background workers, they do both (slipway.worker): not the API's process.
    offload = getattr(app.state, "offload", False)
    scheduler = Scheduler(backend.automation, interval) if interval > 0 and not offload else None
    stop = threading.Event()
    claiming = None
    if not offload:
        every = min(_MAX_CLAIM_INTERVAL_S, backend.settings.lease_seconds / 4)
        claiming = threading.Thread(target=_every, args=(every, backend.pipelines.orchestrate_queued, stop),
                                    name="slipway-claims", daemon=True)
        claiming.start()
    if scheduler is not None:
        scheduler.start()
    try:
        yield
    finally:
        stop.set()
        if scheduler is not None:
            scheduler.stop()
        if claiming is not None:
            claiming.join(30)
