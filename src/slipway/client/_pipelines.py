"""Remote mode of pipelines: :class:`~slipway.pipelines.PipelineService`'s declared operations over HTTP.

Every declared operation is derived (:mod:`slipway.client._operations`). A pipeline object travels
as its JSON definition: the server imports the step functions it names, so they must be installed
where the server runs. Written here by hand, because the caller's side differs: ``register`` and
``start`` of a pipeline object send its definition first; ``wait`` polls the server, which
orchestrates the execution; ``run`` is ``start``, then ``wait`` (the service's own skips the read
that ``start`` returns); ``logs`` reads a plain-text answer; ``close`` has nothing to release.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from slipway.client._operations import RemoteApi, derived, remote
from slipway.pipelines import ExecutionStatus, Pipeline, PipelineExecution, PipelineService, PipelineVersion

if TYPE_CHECKING:
    from slipway.client._protocols import PipelinesApi as Declared  # for mypy: the derived methods
else:
    Declared = object

_WAIT_POLL_S = 0.5
_start = derived(PipelineService, "start")


@remote(PipelineService)
class RemotePipelines(RemoteApi, Declared):
    """Pipelines on a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.pipelines.PipelineService`, which documents each of them."""

    def close(self) -> None:
        """Nothing to release: the executions run on the server; the client closes its HTTP session."""

    def register(self, pipeline: Pipeline) -> PipelineVersion:
        return self.register_definition(pipeline.definition())

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
        if isinstance(pipeline, Pipeline):  # its definition first; then the server runs that version
            stored = self.register(pipeline)
            pipeline, version = stored.pipeline, stored.version
        started: PipelineExecution = _start(
            self, pipeline, parameters=dict(parameters or {}), version=version, executor=executor,
            max_parallel=max_parallel, cache=cache, steps=steps, reference_execution=reference_execution,
        )
        return started

    def run(
        self, pipeline: Pipeline | str, *, parameters: Mapping[str, Any] | None = None, **options: Any
    ) -> PipelineExecution:
        return self.wait(self.start(pipeline, parameters=parameters, **options).id)

    def wait(self, execution_id: str, timeout: float | None = None) -> PipelineExecution:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            execution = self.get_execution(execution_id)
            if execution.status.terminal or execution.status is ExecutionStatus.INTERRUPTED:
                return execution
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"pipeline execution {execution_id} is still {execution.status.value}")
            time.sleep(_WAIT_POLL_S)

    def logs(self, execution_id: str, step: str, *, stream: str = "stdout", attempt: int | None = None) -> str:
        path = f"/pipeline-executions/{quote(execution_id, safe='')}/steps/{quote(step, safe='')}/logs"
        params: dict[str, Any] = {"stream": stream} if attempt is None else {"stream": stream, "attempt": attempt}
        return b"".join(self._http.stream(path, params=params)).decode("utf-8", errors="replace")
