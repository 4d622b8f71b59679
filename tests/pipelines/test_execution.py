"""Running pipelines: data by reference, state and times, logs, parallelism, failures, events, lineage."""

from __future__ import annotations

import json
from pathlib import Path

import _pipeline_steps as lib
from sqlalchemy import select

import slipway
from slipway import Client
from slipway._backend import Backend
from slipway.events._tables import events
from slipway.lineage import LineageService
from slipway.pipelines import (
    ExecutionStatus,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    StepStatus,
)


def _sum_pipeline(counter: Path | None = None) -> Pipeline:
    extra = {"counter": str(counter)} if counter else {}
    make = ProcessingStep("Make", lib.numbers, inputs={"n": Parameter("n", int, 5), **extra}, outputs=["data"])
    total = ProcessingStep("Total", lib.total, inputs={"data": make.outputs["data"], "scale": 2.0, **extra})
    first = ProcessingStep(
        "SumOfFile", lib.total_of_file, inputs={"numbers_file": make.outputs["data"] / "numbers.json"}
    )
    return Pipeline("sums", [total, first])


def test_outputs_pass_by_reference_and_every_step_is_recorded(service: PipelineService) -> None:
    execution = service.run(_sum_pipeline(), parameters={"n": 10})
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    make, total, first = (execution.step(n) for n in ("Make", "Total", "SumOfFile"))
    assert make.properties == {"count": 10}
    assert total.properties == {"sum": 90.0}
    assert first.properties == {"sum": 45}
    [data] = make.outputs
    assert (data.name, data.owner_kind, data.owner_id, data.path) == ("data", "step_execution", make.id, "outputs/data")
    assert [i.digest for i in total.inputs] == [data.digest]
    assert first.inputs[0].path == "outputs/data/numbers.json" and not first.inputs[0].is_dir
    for step in execution.steps:
        assert step.status is StepStatus.SUCCEEDED
        assert step.attempts == 1 and step.attempt_history[0].status is StepStatus.SUCCEEDED
        assert step.started_at is not None and step.ended_at is not None and step.duration is not None
    assert execution.step("Total").depends_on == ["Make"]
    assert execution.started_at <= make.started_at <= total.started_at <= execution.ended_at


def test_stdout_and_stderr_are_captured_per_step(service: PipelineService) -> None:
    execution = service.run(_sum_pipeline())
    assert service.logs(execution.id, "Make") == "writing 5 numbers\n"
    assert service.logs(execution.id, "Make", stream="stderr") == "a warning on stderr\n"
    assert service.logs(execution.id, "Total") == ""


def test_ready_steps_run_in_parallel_up_to_the_limit(service: PipelineService) -> None:
    sleepers = [ProcessingStep(f"Sleep{i}", lib.sleeper, inputs={"seconds": 0.6}) for i in range(4)]
    execution = service.run(Pipeline("fan", sleepers), max_parallel=2)
    assert execution.status is ExecutionStatus.SUCCEEDED
    # The most steps running at one instant: a sweep over start (+1) and end (-1) times, ends first on a tie.
    changes = sorted(
        [(s.properties["started"], 1) for s in execution.steps] + [(s.properties["ended"], -1) for s in execution.steps]
    )
    running = peak = 0
    for _, change in changes:
        running += change
        peak = max(peak, running)
    assert peak == 2  # two at a time: parallel, and never more than the limit


def test_a_failed_step_fails_the_execution_and_nothing_after_it_runs(
    service: PipelineService, backend: Backend
) -> None:
    bad = ProcessingStep("Bad", lib.broken, inputs={"message": "no good"})
    after = ProcessingStep("After", lib.square, inputs={"x": 2}, depends_on=[bad])
    execution = service.run(Pipeline("failing", [after]))
    assert execution.status is ExecutionStatus.FAILED
    assert execution.failure_reason == "step 'Bad' failed: ValueError: no good"
    assert execution.step("Bad").error_type == "ValueError"
    assert execution.step("After").status is StepStatus.PENDING
    assert "ValueError: no good" in service.logs(execution.id, "Bad", stream="stderr")
    with backend.db.read() as conn:
        published = conn.execute(
            select(events.c.type, events.c.payload).where(events.c.object_id == execution.id)
        ).all()
    assert [t for t, _ in published] == ["pipeline_execution.failed"]
    assert json.loads(published[0].payload)["failure_reason"] == execution.failure_reason


def test_success_publishes_an_event_and_records_lineage(service: PipelineService, backend: Backend) -> None:
    execution = service.run(_sum_pipeline())
    with backend.db.read() as conn:
        kinds = conn.execute(select(events.c.type).where(events.c.object_id == execution.id)).scalars().all()
    assert kinds == ["pipeline_execution.succeeded"]
    total = execution.step("Total")
    graph = LineageService(backend.db).upstream("step_execution", total.id, depth=3)
    relations = {(e.src, e.relation, e.dst) for e in graph.edges}
    data = f"step_execution/{execution.step('Make').id}/outputs/data"
    assert (("artifact", data), "consumed", ("step_execution", total.id)) in relations
    assert (("step_execution", execution.step("Make").id), "produced", ("artifact", data)) in relations
    assert (("pipeline_execution", execution.id), "contains", ("step_execution", total.id)) in relations


def test_start_returns_a_handle_that_follows_the_execution(client: Client) -> None:
    pipeline = Pipeline("handled", [ProcessingStep("Sleep", lib.sleeper, inputs={"seconds": 0.3})])
    handle = pipeline.start(client=client)
    assert handle.status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
    done = handle.wait(timeout=120)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert [e.id for e in client.pipelines.list_executions(pipeline="handled")] == [handle.id]
    assert pipeline.run(client=client).status is ExecutionStatus.SUCCEEDED
    slipway.set_client(client)  # the process's default client: what run() without client= uses
    try:
        assert pipeline.run().status is ExecutionStatus.SUCCEEDED
    finally:
        slipway.set_client(None)


def test_the_same_run_on_postgresql(pg_url: str, tmp_path: Path, pool) -> None:  # type: ignore[no-untyped-def]
    from slipway import load_settings
    from slipway.pipelines import ServiceSpec

    settings = load_settings(env={}, cwd=tmp_path, home=str(tmp_path / "home"), db_url=pg_url)
    backend = Backend(settings)
    try:
        service = PipelineService(backend.db, backend.artifacts, ServiceSpec(Backend, settings), local_executor=pool)
        execution = service.run(_sum_pipeline(), parameters={"n": 4})
        assert execution.status is ExecutionStatus.SUCCEEDED
        assert execution.step("Total").properties == {"sum": 12.0}
        again = service.run(_sum_pipeline(), parameters={"n": 4})
        assert {s.status for s in again.steps} == {StepStatus.CACHED}
    finally:
        backend.close()
