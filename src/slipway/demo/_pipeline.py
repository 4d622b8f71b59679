"""The demo's model-build pipeline: Prepare → Train → Evaluate → CheckMSE → Register (or Fail)."""

from __future__ import annotations

from slipway.demo import _steps
from slipway.pipelines import (
    ConditionStep,
    FailStep,
    FileInput,
    Join,
    JsonGet,
    Parameter,
    Pipeline,
    ProcessingStep,
    PropertyFile,
    RegisterModelStep,
    TrainingStep,
)


def build_pipeline(name: str, group: str, input_data: str) -> Pipeline:
    """The pipeline ``name``, training on the CSV ``input_data`` (a parameter) and registering into ``group``."""
    data = Parameter("input_data", str, input_data, description="a CSV of labelled abalone rows")
    alpha = Parameter("alpha", float, 1.0, description="ridge regularisation strength")
    threshold = Parameter("mse_threshold", float, 6.0, description="the highest test MSE worth registering")

    prepare = ProcessingStep(
        "Prepare",
        _steps.prepare,
        inputs={"raw": FileInput(data), "test_size": 0.2, "seed": 42},
        outputs=["train", "test"],
    )
    train = TrainingStep(
        "Train", _steps.fit, inputs={"train": prepare.outputs["train"]}, hyperparameters={"alpha": alpha}
    )
    report = PropertyFile("Evaluation", output="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        _steps.score,
        inputs={"model": train.outputs["model"], "test": prepare.outputs["test"]},
        outputs=["evaluation"],
        property_files=[report],
    )
    mse = JsonGet(evaluate, report, "regression_metrics.mse.value")
    register = RegisterModelStep(
        "Register",
        model=train.outputs["model"],
        group=group,
        metrics={"mse": {"value": mse, "std": JsonGet(evaluate, report, "regression_metrics.mse.standard_deviation")}},
        metadata={"input_data": data},
        version_description="ridge regression of the ring count, built by the demo pipeline",
    )
    fail = FailStep("MSETooHigh", message=Join("the test MSE is above ", threshold))
    check = ConditionStep("CheckMSE", mse <= threshold, if_steps=[register], else_steps=[fail])
    return Pipeline(
        name,
        [check],
        parameters=[data, alpha, threshold],
        description="The demo's model build: train on the labelled abalone rows, register if good",
    )
