"""A handle on a started execution, the same whether it runs in this process or on a server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from slipway.pipelines._records import ExecutionStatus, PipelineExecution, StepExecution

if TYPE_CHECKING:
    from slipway.pipelines._definition import Pipeline


class PipelinesApi(Protocol):
    """What a handle needs of the pipelines service: :class:`~slipway.pipelines.PipelineService`
    embedded, ``RemotePipelines`` over HTTP."""

    def start(
        self, pipeline: Pipeline | str, *, parameters: Mapping[str, Any] | None = None, **options: Any
    ) -> PipelineExecution: ...

    def run(
        self, pipeline: Pipeline | str, *, parameters: Mapping[str, Any] | None = None, **options: Any
    ) -> PipelineExecution: ...

    def get_execution(self, execution_id: str) -> PipelineExecution: ...

    def wait(self, execution_id: str, timeout: float | None = None) -> PipelineExecution: ...

    def stop(self, execution_id: str) -> PipelineExecution: ...

    def signal(self, execution_id: str, step: str, payload: Mapping[str, Any] | None = None) -> StepExecution: ...

    def logs(self, execution_id: str, step: str, *, stream: str = "stdout", attempt: int | None = None) -> str: ...


class ExecutionHandle:
    """A started execution: follow it, wait for it, stop it, signal its wait steps.

    Example:
        >>> handle = pipeline.start(parameters={"mse_threshold": 5.0})  # doctest: +SKIP
        >>> handle.signal("ManualApproval", {"approved": True})  # doctest: +SKIP
        >>> handle.wait(timeout=600).status  # doctest: +SKIP
        <ExecutionStatus.SUCCEEDED: 'Succeeded'>
    """

    def __init__(self, api: PipelinesApi, execution: PipelineExecution) -> None:
        self._api = api
        self.id = execution.id

    @property
    def execution(self) -> PipelineExecution:
        """The execution as stored now, with its steps."""
        return self._api.get_execution(self.id)

    @property
    def status(self) -> ExecutionStatus:
        return self.execution.status

    def wait(self, timeout: float | None = None) -> PipelineExecution:
        """Block until the execution ends (or ``timeout`` seconds pass) and return it.

        Raises:
            TimeoutError: if it is still going after ``timeout`` seconds.
        """
        return self._api.wait(self.id, timeout)

    def stop(self) -> PipelineExecution:
        """Ask the execution to stop: running steps are killed and recorded as Stopped."""
        return self._api.stop(self.id)

    def signal(self, step: str, payload: Mapping[str, Any] | None = None) -> StepExecution:
        """Release the wait step ``step``; ``payload`` becomes its properties."""
        return self._api.signal(self.id, step, payload)

    def logs(self, step: str, *, stream: str = "stdout", attempt: int | None = None) -> str:
        """What ``step`` printed (``stream="stderr"`` for its errors), latest attempt by default."""
        return self._api.logs(self.id, step, stream=stream, attempt=attempt)

    def __repr__(self) -> str:
        return f"ExecutionHandle({self.id!r})"
