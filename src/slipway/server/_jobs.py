"""Handing a request's heavy work to the worker processes, and awaiting its end without a thread.

The job is queued in the metadata database (:class:`slipway.store.JobQueue`), a worker claims and
runs it as the principal who asked, and the request polls for its end on the event loop: no
thread of the API is held while a worker computes, so other requests are answered meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool

from slipway._principal import Principal
from slipway.store import JobQueue

_FIRST_POLL_S, _MAX_POLL_S = 0.02, 0.25


async def await_job(jobs: JobQueue, kind: str, payload: dict[str, Any], who: Principal) -> Any:
    """Queue a job and wait for its end; its result, or its error raised again.

    Raises:
        SlipwayError: what the job failed with (the same class, message and field).
    """
    job_id = await run_in_threadpool(jobs.submit, kind, payload, actor=who.name, roles=sorted(who.roles))
    pause = _FIRST_POLL_S
    while True:
        await asyncio.sleep(pause)
        job = await run_in_threadpool(jobs.get, job_id)
        if job.ended:
            return job.outcome()
        pause = min(pause * 2, _MAX_POLL_S)
