"""The incoming webhook, the one automation route not derived from a declared operation.

``POST /hooks/{name}`` (outside ``/api/v1``, as CI systems are configured with one URL) is
authenticated by its HMAC signature, not by an API token: it reads the raw body and two headers,
which no declared operation describes. Every other automation route derives from
:class:`~slipway.automation.AutomationService`'s declarations (:mod:`slipway.server._operations`).

The route checks the call and records its run; the action runs elsewhere: on a server whose worker
processes do the heavy work, a worker claims the run's job (:data:`~slipway._operations.ACTION_RUN`);
without workers, this process runs it once the answer is sent. Either way the caller gets ``202``
and the run, ``Pending``, at once; should the job be lost (the process killed between the two
writes), the next dispatch round of any scheduler runs the recorded run.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, status
from starlette.concurrency import run_in_threadpool

from slipway._operations import ACTION_RUN
from slipway.automation import SIGNATURE_HEADER, TIMESTAMP_HEADER, ActionRun, AutomationService
from slipway.server._guard import OPEN, needs
from slipway.server._jobs import start_job

hooks_router = APIRouter(tags=["automation"])


@hooks_router.post("/hooks/{name}", status_code=status.HTTP_202_ACCEPTED, dependencies=[needs(OPEN)])
async def receive_hook(name: str, request: Request, background: BackgroundTasks) -> ActionRun:
    """An incoming webhook call, signed with the hook's secret (headers X-Slipway-Timestamp and
    X-Slipway-Signature); its JSON body is the event the action's templates read. The answer is the
    run, Pending: its action runs after the answer (GET /api/v1/automation/runs/{id} tells its end)."""
    body = await request.body()
    automation: AutomationService = request.app.state.backend.automation
    # A header sent twice is joined into one value, which the strict parse then refuses.
    timestamp, signature = (",".join(request.headers.getlist(h)) or None for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER))
    run = await run_in_threadpool(automation.accept_hook, name, body, timestamp, signature)
    # A worker runs the action (this process, after the answer, on a server without workers).
    await start_job(request, ACTION_RUN, {"run": run.id}, lambda: automation.run_action(run.id), background)
    return run
