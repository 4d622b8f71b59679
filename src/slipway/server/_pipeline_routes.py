"""The pipeline route not derived from a declared operation: a step's log, which is plain text.

Every other pipelines route derives from :class:`~slipway.pipelines.PipelineService`'s declarations
(:mod:`slipway.server._operations`). A pipeline arrives as its JSON definition; the server imports
the step functions it names, so they must be installed where the server runs. Executions started
here are orchestrated by the server process.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import PlainTextResponse

from slipway.pipelines import PipelineService
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import service_of

Pipelines = Annotated[PipelineService, Depends(service_of("pipelines"))]
router = APIRouter(prefix="/pipeline-executions", tags=["pipelines"])


# The log is plain text, its errors the usual JSON: a text/plain response_class would document both as text.
@router.get("/{execution_id}/steps/{step}/logs", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
            dependencies=[needs(Permission.READ)])
def step_logs(
    execution_id: str, step: str, service: Pipelines, stream: str = "stdout", attempt: int | None = None
) -> Response:
    return PlainTextResponse(service.logs(execution_id, step, stream=stream, attempt=attempt))
