"""Retry policies, timeouts, stopping, `retry` with the code as it is now, and selective execution."""

from __future__ import annotations

import time
from pathlib import Path

import _pipeline_steps as lib
import pytest
from _pipeline_modules import rewrite, write_module
from sqlalchemy import select

from slipway._backend import Backend
from slipway.errors import Conflict, InvalidInput
from slipway.events._tables import events
from slipway.pipelines import (
    ExecutionStatus,
    JsonGet,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    RetryPolicy,
    StepStatus,
)


def test_a_retry_policy_tries_again_after_a_backoff(service: PipelineService, tmp_path: Path) -> None:
    policy = RetryPolicy(max_attempts=3, backoff=0.2, backoff_rate=2.0, retry_on=(ConnectionError,))
    flaky = ProcessingStep(
        "Flaky", lib.flaky, inputs={"marker_dir": str(tmp_path / "calls"), "failures": 2}, retry=policy
    )
    execution = service.run(Pipeline("flaky", [flaky]))
    assert execution.status is ExecutionStatus.SUCCEEDED
    step = execution.step("Flaky")
    assert step.properties == {"calls": 3}
    assert [a.status for a in step.attempt_history] == [StepStatus.FAILED, StepStatus.FAILED, StepStatus.SUCCEEDED]
    assert step.attempt_history[0].error == "ConnectionError: call 1 failed on purpose"
    waits = [b.started_at - a.ended_at for a, b in zip(step.attempt_history, step.attempt_history[1:], strict=False)]
    assert waits[0].total_seconds() >= 0.2 and waits[1].total_seconds() >= 0.4  # the backoff doubles
    assert "call 2 failed" in service.logs(execution.id, "Flaky", stream="stderr", attempt=2)


def test_errors_outside_the_policy_are_not_retried(service: PipelineService, tmp_path: Path) -> None:
    policy = RetryPolicy(max_attempts=3, backoff=0.0, retry_on=("TimeoutError",))
    flaky = ProcessingStep(
        "Flaky", lib.flaky, inputs={"marker_dir": str(tmp_path / "calls"), "failures": 1}, retry=policy
    )
    execution = service.run(Pipeline("flaky", [flaky]))
    assert execution.status is ExecutionStatus.FAILED
    assert execution.step("Flaky").attempts == 1


def test_a_step_past_its_timeout_is_stopped_and_may_be_retried(service: PipelineService) -> None:
    slow = ProcessingStep(
        "Slow",
        lib.sleeper,
        inputs={"seconds": 30},
        timeout=0.5,
        retry=RetryPolicy(max_attempts=2, backoff=0.0, retry_on=("StepTimeout",)),
    )
    started = time.monotonic()
    execution = service.run(Pipeline("slow", [slow]))
    assert time.monotonic() - started < 20
    step = execution.step("Slow")
    assert execution.status is ExecutionStatus.FAILED
    assert (step.status, step.error_type, step.attempts) == (StepStatus.FAILED, "StepTimeout", 2)
    assert step.error == "the step ran longer than its timeout of 0.5s"


def test_stop_kills_running_steps(service: PipelineService, backend: Backend) -> None:
    slow = ProcessingStep("Slow", lib.sleeper, inputs={"seconds": 30})
    after = ProcessingStep("After", lib.noop, depends_on=[slow])
    started = service.start(Pipeline("stoppable", [after]))
    for _ in range(400):
        if service.get_step(started.id, "Slow").status is StepStatus.RUNNING:
            break
        time.sleep(0.05)
    stopped = service.stop(started.id)
    assert stopped.status is ExecutionStatus.STOPPED
    assert stopped.step("Slow").status is StepStatus.STOPPED
    assert stopped.step("After").status is StepStatus.PENDING
    with pytest.raises(Conflict, match="already Stopped"):
        service.stop(started.id)
    with backend.db.read() as conn:
        kinds = conn.execute(select(events.c.type).where(events.c.object_id == started.id)).scalars().all()
    assert kinds == ["pipeline_execution.stopped"]


def test_retry_reruns_failed_steps_with_the_code_as_it_is_now(
    service: PipelineService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counter: Path
) -> None:
    source = """
        import _pipeline_steps

        def expensive(counter: str) -> dict:
            _pipeline_steps.count_run(counter, "expensive")
            return {"value": 10}

        def buggy(value: int, counter: str) -> dict:
            _pipeline_steps.count_run(counter, "buggy")
            raise ZeroDivisionError("a bug")
    """
    module = write_module(tmp_path, source, monkeypatch)
    expensive = ProcessingStep("Expensive", module.expensive, inputs={"counter": str(counter)})
    buggy = ProcessingStep(
        "Buggy", module.buggy, inputs={"value": JsonGet(expensive, None, "value"), "counter": str(counter)}
    )
    report = ProcessingStep("Report", lib.square, inputs={"x": 2}, depends_on=[buggy])
    failed = service.run(Pipeline("fixable", [report]))
    assert failed.status is ExecutionStatus.FAILED
    assert failed.step("Report").status is StepStatus.PENDING

    rewrite(module, source.replace('raise ZeroDivisionError("a bug")', 'return {"half": value / 2}'))
    retried = service.wait(service.retry(failed.id).id, timeout=120)
    assert retried.id != failed.id and retried.reference_execution_id == failed.id
    assert retried.status is ExecutionStatus.SUCCEEDED
    assert retried.step("Expensive").status is StepStatus.CACHED  # reused, not run again
    assert retried.step("Buggy").properties == {"half": 5.0}
    assert retried.step("Report").status is StepStatus.SUCCEEDED
    assert lib.runs(counter) == ["expensive", "buggy", "buggy"]
    assert retried.version == 2  # the fixed code is a new version
    with pytest.raises(Conflict, match="only one that failed"):
        service.retry(retried.id)


def test_selective_execution_takes_other_inputs_from_a_reference(service: PipelineService, counter: Path) -> None:
    make = ProcessingStep(
        "Make", lib.numbers, inputs={"n": Parameter("n", int, 5), "counter": str(counter)}, outputs=["data"]
    )
    total = ProcessingStep(
        "Total", lib.total, inputs={"data": make.outputs["data"], "counter": str(counter)}, cache=False
    )
    square = ProcessingStep("Square", lib.square, inputs={"x": 2}, depends_on=[total])
    pipeline = Pipeline("selective", [square])
    reference = service.run(pipeline)
    only = service.run(pipeline, steps=["Total"], reference_execution=reference.id)
    assert only.status is ExecutionStatus.SUCCEEDED
    assert only.step("Make").status is StepStatus.CACHED
    assert only.step("Make").cached_from == reference.step("Make").id
    assert only.step("Total").status is StepStatus.SUCCEEDED
    assert only.step("Square").status is StepStatus.SKIPPED and only.step("Square").error == "not selected"
    assert lib.runs(counter) == ["numbers", "total", "total"]
    with pytest.raises(InvalidInput, match="step 'Make' is not selected"):
        service.start(pipeline, steps=["Total"])
    with pytest.raises(InvalidInput, match="has no step 'Nope'"):
        service.start(pipeline, steps=["Nope"], reference_execution=reference.id)
