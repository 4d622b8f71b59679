"""Remote mode of pipelines: :class:`~slipway.pipelines.PipelineService`'s methods over HTTP.

Each method sends one request and parses the record the service returns; the server's service
decides and raises. A pipeline object is sent as its JSON definition: the server imports the
step functions it names, so they must be installed where the server runs. Waiting polls the
server, since the execution is orchestrated there.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from slipway.client._http import HttpSession
from slipway.client._operations import parse as _parse
from slipway.pipelines import (
    CacheExplanation,
    DefinitionDiff,
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineSummary,
    PipelineVersion,
    StepExecution,
)

_WAIT_POLL_S = 0.5


def _name(name: str) -> str:
    return quote(name, safe="")


def _execution(execution_id: str, rest: str = "") -> str:
    return f"/pipeline-executions/{quote(execution_id, safe='')}{rest}"


class RemotePipelines:
    """Pipelines on a ``slipway server``: the same calls as the embedded service."""

    def __init__(self, http: HttpSession) -> None:
        self._http = http

    def register(self, pipeline: Pipeline) -> PipelineVersion:
        return _parse(
            PipelineVersion, self._http.request("POST", "/pipelines", json={"definition": pipeline.definition()})
        )

    def list_pipelines(self) -> list[PipelineSummary]:
        return _parse(list[PipelineSummary], self._http.request("GET", "/pipelines"))

    def get_pipeline(self, name: str) -> PipelineSummary:
        return _parse(PipelineSummary, self._http.request("GET", f"/pipelines/{_name(name)}"))

    def list_versions(self, name: str) -> list[PipelineVersion]:
        return _parse(list[PipelineVersion], self._http.request("GET", f"/pipelines/{_name(name)}/versions"))

    def get_version(self, name: str, version: int | None = None) -> PipelineVersion:
        which = "latest" if version is None else str(version)
        return _parse(PipelineVersion, self._http.request("GET", f"/pipelines/{_name(name)}/versions/{which}"))

    def diff(self, name: str, from_version: int, to_version: int) -> DefinitionDiff:
        params = {"from_version": from_version, "to_version": to_version}
        return _parse(DefinitionDiff, self._http.request("GET", f"/pipelines/{_name(name)}/diff", params=params))

    def start(
        self,
        pipeline: Pipeline | str,
        *,
        parameters: Mapping[str, Any] | None = None,
        version: int | None = None,
        executor: str = "local",
        max_parallel: int | None = None,
        cache: bool = True,
        steps: Sequence[str] | None = None,
        reference_execution: str | None = None,
    ) -> PipelineExecution:
        if isinstance(pipeline, Pipeline):
            stored = self.register(pipeline)
            name, version = stored.pipeline, stored.version
        else:
            name = pipeline
        body = {
            "parameters": dict(parameters or {}),
            "version": version,
            "executor": executor,
            "max_parallel": max_parallel,
            "cache": cache,
            "steps": None if steps is None else list(steps),
            "reference_execution": reference_execution,
        }
        return _parse(PipelineExecution, self._http.request("POST", f"/pipelines/{_name(name)}/executions", json=body))

    def run(
        self, pipeline: Pipeline | str, *, parameters: Mapping[str, Any] | None = None, **options: Any
    ) -> PipelineExecution:
        return self.wait(self.start(pipeline, parameters=parameters, **options).id)

    def resume(self, execution_id: str) -> PipelineExecution:
        return _parse(PipelineExecution, self._http.request("POST", _execution(execution_id, "/resume")))

    def retry(self, execution_id: str) -> PipelineExecution:
        return _parse(PipelineExecution, self._http.request("POST", _execution(execution_id, "/retry")))

    def get_execution(self, execution_id: str) -> PipelineExecution:
        return _parse(PipelineExecution, self._http.request("GET", _execution(execution_id)))

    def list_executions(
        self, *, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[PipelineExecution]:
        params = {"pipeline": pipeline, "status": status, "limit": limit}
        return _parse(list[PipelineExecution], self._http.request("GET", "/pipeline-executions", params=params))

    def get_step(self, execution_id: str, step: str) -> StepExecution:
        return _parse(StepExecution, self._http.request("GET", _execution(execution_id, f"/steps/{_name(step)}")))

    def wait(self, execution_id: str, timeout: float | None = None) -> PipelineExecution:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            execution = self.get_execution(execution_id)
            if execution.status.terminal or execution.status is ExecutionStatus.INTERRUPTED:
                return execution
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"pipeline execution {execution_id} is still {execution.status.value}")
            time.sleep(_WAIT_POLL_S)

    def stop(self, execution_id: str) -> PipelineExecution:
        return _parse(PipelineExecution, self._http.request("POST", _execution(execution_id, "/stop")))

    def signal(self, execution_id: str, step: str, payload: Mapping[str, Any] | None = None) -> StepExecution:
        body = {"payload": None if payload is None else dict(payload)}
        path = _execution(execution_id, f"/steps/{_name(step)}/signal")
        return _parse(StepExecution, self._http.request("POST", path, json=body))

    def logs(self, execution_id: str, step: str, *, stream: str = "stdout", attempt: int | None = None) -> str:
        path = _execution(execution_id, f"/steps/{_name(step)}/logs")
        params: dict[str, Any] = {"stream": stream} if attempt is None else {"stream": stream, "attempt": attempt}
        return b"".join(self._http.stream(path, params=params)).decode("utf-8", errors="replace")

    def explain_cache(self, execution_id: str, step: str) -> CacheExplanation:
        path = _execution(execution_id, f"/steps/{_name(step)}/cache")
        return _parse(CacheExplanation, self._http.request("GET", path))
