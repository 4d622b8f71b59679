"""Step arguments written as literals may be parameters or properties, checked where their value becomes known."""

from __future__ import annotations

import _pipeline_steps as lib
import pytest

from slipway._backend import Backend
from slipway.errors import InvalidInput
from slipway.pipelines import (
    ExecutionStatus,
    JsonGet,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    RegisterModelStep,
    StepStatus,
    TrainingStep,
    TransformStep,
)

STATUSES = "one of PendingManualApproval, Approved, Rejected"


def _modelled(approval_status: object, *, output_format: object = "csv", batch_size: object = 10) -> Pipeline:
    rows = ProcessingStep("Rows", lib.write_rows, inputs={"n": 30}, outputs=["rows"])
    train = TrainingStep("Train", lib.fit_frame, inputs={"rows": rows.outputs["rows"]})
    predict = TransformStep("Predict", model=train.outputs["model"], data=rows.outputs["rows"], drop_columns=["y"],
                            output_format=output_format, batch_size=batch_size)
    register = RegisterModelStep("Register", model=train.outputs["model"], group="lines",
                                 approval_status=approval_status, depends_on=[predict])
    return Pipeline("settled", [register])


def test_literal_arguments_take_parameters_and_properties(service: PipelineService, backend: Backend) -> None:
    decide = ProcessingStep("Decide", lib.echo, inputs={"value": Parameter("decision", str, "Approved")})
    size = ProcessingStep("Size", lib.square, inputs={"x": 3})
    pipeline = _modelled(JsonGet(decide, None, "value"), output_format=Parameter("format", str, "csv"),
                         batch_size=JsonGet(size, None, "y"))

    execution = service.run(pipeline, parameters={"format": "parquet"})
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    assert execution.step("Predict").properties == {"rows": 30, "batches": 4, "file": "predictions.parquet"}
    registered = execution.step("Register").properties or {}
    assert registered["status"] == "Approved"
    assert backend.registry.get_version("lines", registered["version"]).status.value == "Approved"
    # The value a parameter gave is part of the step's cache key: another format runs the step again.
    again = service.run(pipeline, parameters={"format": "csv", "decision": "Rejected"})
    assert again.step("Predict").status is StepStatus.SUCCEEDED
    assert again.step("Predict").properties["file"] == "predictions.csv"  # type: ignore[index]
    assert again.step("Register").properties["status"] == "Rejected"  # type: ignore[index]
    # The definition keeps the operands; a literal stays the plain value it always was.
    steps = {s["name"]: s for s in pipeline.definition()["steps"]}
    assert steps["Predict"]["output_format"] == {"parameter": "format"} and steps["Predict"]["drop_columns"] == ["y"]
    rebuilt = Pipeline.from_definition(pipeline.definition())
    assert rebuilt.digest() == pipeline.digest()
    assert _modelled("Approved").definition()["steps"][-1]["approval_status"] == "Approved"


def test_bad_values_are_refused_naming_the_step_the_argument_and_the_source(
    service: PipelineService, backend: Backend
) -> None:
    with pytest.raises(InvalidInput, match=f"step 'Register': approval_status must be {STATUSES}, not 'Aproved'") as e:
        _modelled("Aproved")
    assert e.value.field == "steps.Register.approval_status"
    with pytest.raises(InvalidInput, match=f"approval_status takes {STATUSES}; parameter 'status' is a int"):
        _modelled(Parameter("status", int, 1))
    with pytest.raises(InvalidInput, match="batch_size must be an integer >= 1; the default of parameter 'size' is 0"):
        _modelled("Approved", batch_size=Parameter("size", int, 0))

    pipeline = _modelled(Parameter("ModelApprovalStatus", str, "PendingManualApproval"))
    with pytest.raises(InvalidInput) as refused:
        service.start(pipeline, parameters={"ModelApprovalStatus": "approved"})
    assert refused.value.field == "parameters.ModelApprovalStatus"
    assert refused.value.message == (
        f"step 'Register': approval_status must be {STATUSES}; parameter 'ModelApprovalStatus' is 'approved'"
    )
    assert service.list_executions(pipeline="settled") == []  # refused before anything ran

    decide = ProcessingStep("Decide", lib.echo, inputs={"value": "Maybe"})
    execution = service.run(_modelled(JsonGet(decide, None, "value")))
    assert execution.status is ExecutionStatus.FAILED
    failed = execution.step("Register")
    assert failed.status is StepStatus.FAILED
    assert failed.error == (
        f"step 'Register': approval_status must be {STATUSES}; the value of JsonGet('Decide', None, 'value') is 'Maybe'"
    )
    assert backend.registry.list_groups() == []  # nothing was registered
