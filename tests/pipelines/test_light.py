"""Light steps: run in the orchestrator's process, recorded like any step, and only where allowed."""

from __future__ import annotations

import os
from pathlib import Path

import _pipeline_steps as lib
import pytest

from slipway import load_settings
from slipway._backend import Backend
from slipway._confinement import Confinement
from slipway.errors import InvalidInput, PermissionDenied
from slipway.lineage import LineageService
from slipway.pipelines import (
    ExecutionStatus,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    RetryPolicy,
    ServiceSpec,
    StepStatus,
)
from slipway.pipelines._pool import LocalExecutor


def _pipeline(*, light: bool = True) -> Pipeline:
    make = ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, 5)}, outputs=["data"], light=light)
    where = ProcessingStep("Where", lib.whereabouts, inputs={"data": make.outputs["data"]}, light=light)
    return Pipeline("light", [make, where])


def test_a_light_step_runs_in_the_orchestrators_process_and_is_recorded_like_any(
    service: PipelineService, backend: Backend
) -> None:
    execution = service.run(_pipeline())
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    make, where = execution.step("Make"), execution.step("Where")
    assert where.properties == {"pid": os.getpid()}  # no worker process: this one's orchestrator thread
    for step in (make, where):
        assert step.status is StepStatus.SUCCEEDED and step.attempts == 1
        assert step.attempt_history[0].status is StepStatus.SUCCEEDED and step.duration is not None
    assert service.logs(execution.id, "Make") == "writing 5 numbers\n"  # its own prints, not the process's
    assert service.logs(execution.id, "Make", stream="stderr") == "a warning on stderr\n"
    assert service.logs(execution.id, "Where") == "read 5 numbers\n"
    [data] = make.outputs
    assert [i.digest for i in where.inputs] == [data.digest]
    graph = LineageService(backend.db).upstream("step_execution", where.id, depth=2)
    assert (("artifact", f"step_execution/{make.id}/outputs/data"), "consumed", ("step_execution", where.id)) in {
        (e.src, e.relation, e.dst) for e in graph.edges
    }

    again = service.run(_pipeline(light=False))  # light is not part of the result: the cache holds
    assert [s.status for s in again.steps] == [StepStatus.CACHED, StepStatus.CACHED]
    worked = service.run(_pipeline(light=False), cache=False)
    assert worked.step("Where").properties != {"pid": os.getpid()}  # a worker process


def test_a_failing_light_step_is_retried_and_its_traceback_kept(service: PipelineService, tmp_path: Path) -> None:
    flaky = ProcessingStep(
        "Flaky", lib.flaky, inputs={"marker_dir": str(tmp_path / "calls"), "failures": 1},
        retry=RetryPolicy(max_attempts=2, backoff=0), light=True,
    )
    execution = service.run(Pipeline("flaky-light", [flaky]))
    step = execution.step("Flaky")
    assert execution.status is ExecutionStatus.SUCCEEDED and step.properties == {"calls": 2}
    assert [(a.status, a.error_type) for a in step.attempt_history] == [
        (StepStatus.FAILED, "ConnectionError"), (StepStatus.SUCCEEDED, None)
    ]
    traceback = service.logs(execution.id, "Flaky", stream="stderr", attempt=1)
    assert "ConnectionError: call 1 failed on purpose" in traceback


def test_light_is_refused_where_it_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot be stopped at a timeout") as info:
        Pipeline("p", [ProcessingStep("Slow", lib.sleeper, inputs={"seconds": 1}, timeout=5, light=True)])
    assert info.value.field == "steps.Slow.timeout"
    script = tmp_path / "job.py"
    script.write_text("print('hi')\n")
    with pytest.raises(InvalidInput, match="a script runs as a process of its own"):
        Pipeline("p", [ProcessingStep("Job", script=script, light=True)])
    definition = _pipeline().definition()
    assert [s.get("light") for s in definition["steps"]] == [True, True]
    assert "light" not in _pipeline(light=False).definition()["steps"][0]  # old definitions keep their digest


def test_a_server_runs_light_only_the_code_it_lists(backend: Backend, pool: LocalExecutor) -> None:
    def server(modules: str, light: str | None = None) -> PipelineService:
        env = {"SLIPWAY_PIPELINE_MODULES": modules} | ({"SLIPWAY_LIGHT_STEP_MODULES": light} if light else {})
        confined = Confinement.server(load_settings(env=env, cwd=backend.settings.home))
        return PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, backend.settings),
                               local_executor=pool, confinement=confined)

    definition = _pipeline().definition()
    with pytest.raises(PermissionDenied, match="light_step_modules") as info:
        server("_pipeline_steps").register_definition(definition)
    assert info.value.field == "steps.Make.light"
    with pytest.raises(PermissionDenied, match="only steps whose code is from acme"):
        server("_pipeline_steps", "acme").register_definition(definition)

    allowed = server("_pipeline_steps", "_pipeline_steps")
    try:
        allowed.register_definition(definition)
        execution = allowed.run("light")
    finally:
        allowed.close()
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    assert execution.step("Where").properties == {"pid": os.getpid()}
