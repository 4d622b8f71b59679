"""Condition, Fail and Wait steps: branches, skipped steps, failure messages, signals and timeouts."""

from __future__ import annotations

import time

import _pipeline_steps as lib
import pytest

from slipway.errors import Conflict
from slipway.pipelines import (
    ConditionStep,
    ExecutionStatus,
    FailStep,
    Join,
    JsonGet,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    PropertyFile,
    StepStatus,
    WaitStep,
)


def _checked(mse: float, threshold: Parameter) -> Pipeline:
    make = ProcessingStep("Make", lib.numbers, inputs={"n": 4}, outputs=["data"])
    report = PropertyFile("Report", output="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        lib.report,
        inputs={"data": make.outputs["data"], "mse": mse},
        outputs=["evaluation"],
        property_files=[report],
    )
    mse_value = JsonGet(evaluate, report, "regression_metrics.mse.value")
    register = ProcessingStep("Register", lib.square, inputs={"x": 3})
    after_register = ProcessingStep("AfterRegister", lib.square, inputs={"x": 4}, depends_on=[register])
    fail = FailStep("TooHigh", message=Join("MSE ", mse_value, " is above ", threshold))
    check = ConditionStep("Check", mse_value <= threshold, if_steps=[register], else_steps=[fail])
    return Pipeline("checked", [check, after_register])


def test_the_if_branch_runs_and_the_else_branch_is_skipped(service: PipelineService) -> None:
    threshold = Parameter("threshold", float, 5.0)
    execution = service.run(_checked(3.0, threshold))
    assert execution.status is ExecutionStatus.SUCCEEDED
    statuses = {s.step_name: s.status for s in execution.steps}
    assert statuses["Register"] is StepStatus.SUCCEEDED and statuses["AfterRegister"] is StepStatus.SUCCEEDED
    assert statuses["TooHigh"] is StepStatus.SKIPPED
    assert execution.step("Check").properties == {"outcome": True, "branch": "if", "steps": ["Register"]}


def test_the_else_branch_fails_the_execution_with_its_message(service: PipelineService) -> None:
    execution = service.run(_checked(9.5, Parameter("threshold", float, 5.0)))
    assert execution.status is ExecutionStatus.FAILED
    assert execution.failure_reason == "MSE 9.5 is above 5.0"
    statuses = {s.step_name: s.status for s in execution.steps}
    assert statuses["TooHigh"] is StepStatus.FAILED
    assert statuses["Register"] is StepStatus.SKIPPED and statuses["AfterRegister"] is StepStatus.SKIPPED


@pytest.mark.parametrize(
    ("make_condition", "outcome"),
    [
        (lambda v: v.eq(6), True),
        (lambda v: v.ne(6), False),
        (lambda v: v < 6, False),
        (lambda v: v >= 6, True),
        (lambda v: v.is_in([1, 6]), True),
        (lambda v: (v > 1) & (v < 5), False),
        (lambda v: (v > 10) | (v.eq(6)), True),
        (lambda v: ~(v > 10), True),
    ],
)
def test_comparisons_and_combinations(service: PipelineService, make_condition, outcome: bool) -> None:  # type: ignore[no-untyped-def]
    make = ProcessingStep("Make", lib.numbers, inputs={"n": 4}, outputs=["data"])
    total = ProcessingStep("Total", lib.total, inputs={"data": make.outputs["data"]})
    yes, no = ProcessingStep("Yes", lib.noop), ProcessingStep("No", lib.noop)
    check = ConditionStep("Check", make_condition(JsonGet(total, None, "sum")), if_steps=[yes], else_steps=[no])
    execution = service.run(Pipeline("compare", [check]))
    assert execution.step("Check").properties["outcome"] is outcome
    assert execution.step("Yes" if outcome else "No").status is StepStatus.SUCCEEDED
    assert execution.step("No" if outcome else "Yes").status is StepStatus.SKIPPED


def test_a_wait_step_holds_its_branch_until_signalled(service: PipelineService) -> None:
    approval = WaitStep("Approval", timeout=60)
    approved = ConditionStep(
        "IsApproved",
        JsonGet(approval, None, "approved").eq(True),
        if_steps=[ProcessingStep("Deploy", lib.square, inputs={"x": 5})],
        else_steps=[FailStep("Refused")],
    )
    side = ProcessingStep("Meanwhile", lib.square, inputs={"x": 2})
    started = service.start(Pipeline("gated", [approved, side]))
    for _ in range(400):
        current = service.get_execution(started.id)
        if current.step("Approval").status is StepStatus.WAITING and current.step("Meanwhile").status.terminal:
            break
        time.sleep(0.05)
    assert current.step("Approval").status is StepStatus.WAITING
    assert current.step("Approval").wait_deadline is not None
    assert current.step("Deploy").status is StepStatus.PENDING
    service.signal(started.id, "Approval", {"approved": True, "by": "ana"})
    done = service.wait(started.id, timeout=60)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.step("Approval").properties == {"approved": True, "by": "ana"}
    assert done.step("Deploy").properties == {"y": 25}
    with pytest.raises(Conflict, match="takes no more signals"):
        service.signal(started.id, "Approval", {})
    with pytest.raises(Conflict, match="only Wait steps take signals"):
        service.signal(started.id, "Deploy", {})


def test_a_wait_step_fails_at_its_timeout(service: PipelineService) -> None:
    execution = service.run(Pipeline("timed-out", [WaitStep("Approval", timeout=0.5)]))
    assert execution.status is ExecutionStatus.FAILED
    step = execution.step("Approval")
    assert (step.status, step.error_type) == (StepStatus.FAILED, "StepTimeout")
    assert "no signal arrived within 0.5s" in (step.error or "")


def test_a_missing_json_path_fails_the_condition_naming_it(service: PipelineService) -> None:
    total = ProcessingStep("Total", lib.square, inputs={"x": 2})
    check = ConditionStep("Check", JsonGet(total, None, "nope") > 1, if_steps=[])
    execution = service.run(Pipeline("bad-path", [check]))
    assert execution.status is ExecutionStatus.FAILED
    assert "JSON path 'nope' leads nowhere" in (execution.step("Check").error or "")
