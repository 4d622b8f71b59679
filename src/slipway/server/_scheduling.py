"""The server's lifespan: its scheduler thread runs while the app serves, unless workers run it.

The thread fires due schedules and runs rule actions every ``scheduler_interval`` seconds (a
setting; 0 turns it off). With several workers or several servers on one database each runs
one, and the automation service's claims keep every action to a single run.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from slipway.automation import Scheduler


@contextlib.asynccontextmanager
async def scheduler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the scheduler thread with the app, stop it (after its current round) when the app stops."""
    backend = app.state.backend
    interval = backend.settings.scheduler_interval
    # With background workers, they run the scheduler (slipway.worker): not the API's process.
    offload = getattr(app.state, "offload", False)
    scheduler = Scheduler(backend.automation, interval) if interval > 0 and not offload else None
    if scheduler is not None:
        scheduler.start()
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.stop()
