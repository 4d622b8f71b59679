"""The incoming webhook, the one automation route not derived from a declared operation.

``POST /hooks/{name}`` (outside ``/api/v1``, as CI systems are configured with one URL) is
authenticated by its HMAC signature, not by an API token: it reads the raw body and two headers,
which no declared operation describes. Every other automation route derives from
:class:`~slipway.automation.AutomationService`'s declarations (:mod:`slipway.server._operations`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from slipway.automation import SIGNATURE_HEADER, TIMESTAMP_HEADER, ActionRun, AutomationService
from slipway.server._guard import OPEN, needs

hooks_router = APIRouter(tags=["automation"])


@hooks_router.post("/hooks/{name}", status_code=status.HTTP_202_ACCEPTED, dependencies=[needs(OPEN)])
async def receive_hook(name: str, request: Request) -> ActionRun:
    """An incoming webhook call, signed with the hook's secret (headers X-Slipway-Timestamp and
    X-Slipway-Signature); its JSON body is the event the action's templates read."""
    body = await request.body()
    automation: AutomationService = request.app.state.backend.automation
    # A header sent twice is joined into one value, which the strict parse then refuses.
    timestamp, signature = (",".join(request.headers.getlist(h)) or None for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER))
    return await run_in_threadpool(automation.receive_hook, name, body, timestamp, signature)
