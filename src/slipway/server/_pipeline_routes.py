"""REST routes of pipelines: each one translates a request, calls the service, returns the record.

No route holds a rule of its own: :class:`~slipway.pipelines.PipelineService` validates, decides
and raises, as it does for embedded callers. A pipeline arrives as its JSON definition; the server
imports the step functions it names, so they must be installed where the server runs. Executions
started here are orchestrated by the server process.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from slipway.pipelines import (
    CacheExplanation,
    DefinitionDiff,
    PipelineExecution,
    PipelineService,
    PipelineSummary,
    PipelineVersion,
    StepExecution,
)
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import JSON_BODY_LIMIT


async def _pipelines(request: Request) -> PipelineService:
    """The service of the app's backend (async: no threadpool hop just to fetch it)."""
    service: PipelineService = request.app.state.backend.pipelines
    return service


Pipelines = Annotated[PipelineService, Depends(_pipelines)]


class _Body(BaseModel):
    """Unknown fields are an error: a misspelt option must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class RegisterPipeline(_Body):
    definition: dict[str, Any] = Field(description="the pipeline's JSON definition (Pipeline.definition())")


class StartExecution(_Body):
    parameters: dict[str, Any] = Field(default_factory=dict, description="parameter name -> value")
    version: int | None = Field(None, description="the version to run; the newest by default")
    executor: str = Field("local", description="local or ray")
    max_parallel: int | None = Field(None, description="steps running at once at most")
    cache: bool = Field(True, description="false runs every step, reusing nothing")
    steps: list[str] | None = Field(None, description="run only these steps")
    reference_execution: str | None = Field(None, description="where the other steps' outputs come from")


class Signal(_Body):
    payload: dict[str, Any] | None = Field(None, description="becomes the wait step's properties")


router = APIRouter(tags=["pipelines"])
pipelines = APIRouter(prefix="/pipelines", max_body_size=JSON_BODY_LIMIT)
executions = APIRouter(prefix="/pipeline-executions", max_body_size=JSON_BODY_LIMIT)


@pipelines.post("", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def register_pipeline(body: RegisterPipeline, service: Pipelines) -> PipelineVersion:
    """Register a definition; its steps may name code only from the server's ``pipeline_modules``."""
    return service.register_definition(body.definition)


@pipelines.get("", dependencies=[needs(Permission.READ)])
def list_pipelines(service: Pipelines) -> list[PipelineSummary]:
    return service.list_pipelines()


@pipelines.get("/{name}", dependencies=[needs(Permission.READ)])
def get_pipeline(name: str, service: Pipelines) -> PipelineSummary:
    return service.get_pipeline(name)


@pipelines.get("/{name}/versions", dependencies=[needs(Permission.READ)])
def list_versions(name: str, service: Pipelines) -> list[PipelineVersion]:
    return service.list_versions(name)


@pipelines.get("/{name}/versions/latest", dependencies=[needs(Permission.READ)])
def get_latest_version(name: str, service: Pipelines) -> PipelineVersion:
    return service.get_version(name)


@pipelines.get("/{name}/versions/{version}", dependencies=[needs(Permission.READ)])
def get_version(name: str, version: int, service: Pipelines) -> PipelineVersion:
    return service.get_version(name, version)


@pipelines.get("/{name}/diff", dependencies=[needs(Permission.READ)])
def diff_versions(name: str, from_version: int, to_version: int, service: Pipelines) -> DefinitionDiff:
    return service.diff(name, from_version, to_version)


@pipelines.post("/{name}/executions", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def start_execution(name: str, body: StartExecution, service: Pipelines) -> PipelineExecution:
    return service.start(
        name,
        parameters=body.parameters,
        version=body.version,
        executor=body.executor,
        max_parallel=body.max_parallel,
        cache=body.cache,
        steps=body.steps,
        reference_execution=body.reference_execution,
    )


@executions.get("", dependencies=[needs(Permission.READ)])
def list_executions(
    service: Pipelines, pipeline: str | None = None, status: str | None = None, limit: int = 50
) -> list[PipelineExecution]:
    return service.list_executions(pipeline=pipeline, status=status, limit=limit)


@executions.get("/{execution_id}", dependencies=[needs(Permission.READ)])
def get_execution(execution_id: str, service: Pipelines) -> PipelineExecution:
    return service.get_execution(execution_id)


@executions.post("/{execution_id}/stop", dependencies=[needs(Permission.WRITE)])
def stop_execution(execution_id: str, service: Pipelines) -> PipelineExecution:
    return service.stop(execution_id)


@executions.post("/{execution_id}/resume", dependencies=[needs(Permission.WRITE)])
def resume_execution(execution_id: str, service: Pipelines) -> PipelineExecution:
    return service.resume(execution_id)


@executions.post("/{execution_id}/retry", status_code=status.HTTP_201_CREATED, dependencies=[needs(Permission.WRITE)])
def retry_execution(execution_id: str, service: Pipelines) -> PipelineExecution:
    return service.retry(execution_id)


@executions.get("/{execution_id}/steps/{step}", dependencies=[needs(Permission.READ)])
def get_step(execution_id: str, step: str, service: Pipelines) -> StepExecution:
    return service.get_step(execution_id, step)


@executions.post("/{execution_id}/steps/{step}/signal", dependencies=[needs(Permission.WRITE)])
def signal_step(execution_id: str, step: str, body: Signal, service: Pipelines) -> StepExecution:
    return service.signal(execution_id, step, body.payload)


# The log is plain text, its errors the usual JSON: a text/plain response_class would document both as text.
@executions.get("/{execution_id}/steps/{step}/logs", response_class=Response,
                responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
                dependencies=[needs(Permission.READ)])
def step_logs(
    execution_id: str, step: str, service: Pipelines, stream: str = "stdout", attempt: int | None = None
) -> Response:
    return PlainTextResponse(service.logs(execution_id, step, stream=stream, attempt=attempt))


@executions.get("/{execution_id}/steps/{step}/cache", dependencies=[needs(Permission.READ)])
def explain_cache(execution_id: str, step: str, service: Pipelines) -> CacheExplanation:
    return service.explain_cache(execution_id, step)


router.include_router(pipelines)
router.include_router(executions)
