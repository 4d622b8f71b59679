"""Handing a request's heavy work to the worker processes, and the jobs a caller polls.

The job is queued in the metadata database (:class:`slipway.store.JobQueue`) and a worker claims
and runs it as the principal who asked. A route either awaits its end (:func:`run_job`: the
request polls on the event loop, so no thread of the API is held while a worker computes) or
answers at once (:func:`start_job`: ``202`` and the job, which ``GET /api/v1/jobs/{id}`` tells
until it ends). On a server without workers (``offload`` off) this process does the work itself:
in a thread for :func:`run_job`; after the answer, under the job's claim as a worker would, for
:func:`start_job`, so the job is polled the same way.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, BackgroundTasks, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from starlette.concurrency import run_in_threadpool

from slipway._principal import Principal, acting_as, current_principal
from slipway.errors import NotFound
from slipway.security import Permission, has_permission
from slipway.server._guard import needs
from slipway.store import Job, JobInputs, JobQueue

_FIRST_POLL_S, _MAX_POLL_S = 0.02, 0.25
JOBS_PATH = "/jobs"  # below /api/v1: where a job answered 202 is polled

router = APIRouter(prefix=JOBS_PATH, tags=["jobs"])


class JobState(BaseModel):
    """A job the server queued for heavy work: poll it until ``status`` is ``Succeeded`` or ``Failed``.

    ``result`` is then what the route that started it documents as the job's result; ``error`` is
    ``{"status": <HTTP status>, "body": <the error's JSON body>}``, as the route would have answered.
    """

    id: str
    kind: str
    status: str
    result: Any = None
    error: dict[str, Any] | None = None

    @classmethod
    def of(cls, job: Job) -> JobState:
        return cls(id=job.id, kind=job.kind, status=job.status, result=job.result, error=job.error)


def _queues(request: Request) -> JobQueue:
    jobs: JobQueue = request.app.state.jobs
    return jobs


def _submit(jobs: JobQueue, kind: str, payload: dict[str, Any], who: Principal) -> str:
    return jobs.submit(kind, payload, actor=who.name, roles=sorted(who.roles))


async def run_job(request: Request, kind: str, payload: dict[str, Any], here: Callable[[], Any],
                  read: Callable[[Any], Any] | None = None, staged: BinaryIO | None = None) -> Any:
    """The answer of heavy work: a worker's job awaited, when the server has workers; ``here()`` in
    a thread of this process otherwise. A caller that prefers not to wait (``Prefer:
    respond-async``) is answered ``202`` and the job at once, when a worker does the work and the
    job's result is the answer (no ``read``): what the remote client asks of every job route.

    Args:
        kind: the job's kind (a key of the worker's handlers), ``payload`` what it is given.
        here: the same work done in this process.
        read: the answer from the job's (JSON) result, in this process's thread pool; the result
            itself when None.
        staged: data for the worker (what the request sent), staged in the artifact store
            (:class:`~slipway.store.JobInputs`) with its id as the payload's ``input``; the worker
            forgets it once read, this process if the job is not awaited to its end, garbage
            collection if this process dies first.

    Raises:
        SlipwayError: what the job or ``here()`` failed with (the same class, message and field).
    """
    if not request.app.state.offload:
        return await run_in_threadpool(here)
    inputs: JobInputs = request.app.state.backend.job_inputs
    input_id = None if staged is None else await run_in_threadpool(inputs.stage, staged)
    if input_id is not None:
        payload = {**payload, "input": input_id}
    jobs = _queues(request)
    try:
        if read is None and _prefers_async(request):
            return accepted(await run_in_threadpool(_submit, jobs, kind, payload, current_principal()), kind)
        result = await _awaited(jobs, kind, payload)
    except BaseException:
        if input_id is not None:  # the worker forgets it once read; not if the job never ran (or is not awaited)
            await run_in_threadpool(inputs.release, input_id)
        raise
    return result if read is None else await run_in_threadpool(read, result)


def _prefers_async(request: Request) -> bool:
    """Whether the request asks to be answered before the work is done (RFC 7240's ``respond-async``)."""
    return any(token.strip().lower() == "respond-async"
               for value in request.headers.getlist("prefer") for token in value.split(","))


async def _awaited(jobs: JobQueue, kind: str, payload: dict[str, Any]) -> Any:
    """The result of a job queued now, polled on the event loop; its error raised again."""
    job_id = await run_in_threadpool(_submit, jobs, kind, payload, current_principal())
    pause = _FIRST_POLL_S
    while True:
        await asyncio.sleep(pause)
        job = await run_in_threadpool(jobs.get, job_id)
        if job.ended:
            return job.outcome()
        pause = min(pause * 2, _MAX_POLL_S)


async def start_job(request: Request, kind: str, payload: dict[str, Any], here: Callable[[], Any],
                    background: BackgroundTasks) -> str:
    """Queue heavy work and return its job's id at once: a worker claims it when the server has
    workers; otherwise this process runs ``here()`` (its answer, in JSON form, the job's result)
    once the response is sent."""
    who = current_principal()
    jobs = _queues(request)
    job_id = await run_in_threadpool(_submit, jobs, kind, payload, who)
    if not request.app.state.offload:
        background.add_task(_run_here, jobs, kind, job_id, here, who)
    return job_id


def _run_here(jobs: JobQueue, kind: str, job_id: str, here: Callable[[], Any], who: Principal) -> None:
    job = jobs.claim(f"{socket.gethostname()}:{os.getpid()}", [kind], job_id=job_id)
    if job is None:  # a worker of another process took it first
        return
    with acting_as(who):
        jobs.run(job, lambda _job: to_jsonable_python(here(), by_alias=True))


def accepted(job_id: str, kind: str) -> JSONResponse:
    """The ``202`` answer of a job started by :func:`start_job`: the job, and where to poll it."""
    state = JobState(id=job_id, kind=kind, status="Pending")
    return JSONResponse(state.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/api/v1{JOBS_PATH}/{job_id}", "Preference-Applied": "respond-async"})


@router.get("/{job_id}", dependencies=[needs(Permission.READ)])
def get_job(job_id: Annotated[str, Path(max_length=26)], request: Request) -> JobState:
    """A job the caller started (any job, for an admin): its status and, once ended, its result or error.

    Finished jobs are kept for a day.
    """
    job = _queues(request).get(job_id)
    if job.actor != current_principal().name and not has_permission(Permission.ADMIN):
        raise NotFound(f"job {job_id!r} does not exist", field="job_id")  # another's job: not even its existence
    return JobState.of(job)
