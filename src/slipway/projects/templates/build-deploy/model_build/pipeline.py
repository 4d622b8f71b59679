"""The model-build pipeline: Preprocess → Train → Evaluate → CheckMSE → Register (or Fail).

Run it with ``python -m model_build`` (CI does), or from Python::

    from model_build.pipeline import build_pipeline
    execution = build_pipeline("my-model").run(parameters={"alpha": 0.5})

A version it registers waits as ``PendingManualApproval``: an approver approves it
(``slipway models approve GROUP VERSION``), which is what lets ``deploy`` put it on staging.
"""

from __future__ import annotations

from importlib.resources import files

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

from model_build import steps

BUNDLED_DATA = str(files("slipway") / "_data" / "abalone.csv")


def build_pipeline(model_group: str, *, mse_threshold: float = 6.0) -> Pipeline:
    """The pipeline, registering into ``model_group``; every value a run may change is a parameter."""
    input_data = Parameter("input_data", str, BUNDLED_DATA, description="a CSV with the training columns")
    test_size = Parameter("test_size", float, 0.2, description="the share of rows held out for the test")
    alpha = Parameter("alpha", float, 1.0, description="ridge regularisation strength")
    threshold = Parameter("mse_threshold", float, mse_threshold, description="the highest test MSE to register")

    preprocess = ProcessingStep(
        "Preprocess",
        steps.preprocess,
        inputs={"raw": FileInput(input_data), "test_size": test_size, "seed": 42},
        outputs=["train", "validation", "test"],
    )
    train = TrainingStep(
        "Train",
        steps.train,
        inputs={"train": preprocess.outputs["train"], "validation": preprocess.outputs["validation"]},
        hyperparameters={"alpha": alpha},
    )
    report = PropertyFile("EvaluationReport", output="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        steps.evaluate,
        inputs={"model": train.outputs["model"], "test": preprocess.outputs["test"]},
        outputs=["evaluation"],
        property_files=[report],
    )
    mse = JsonGet(evaluate, report, "regression_metrics.mse.value")
    register = RegisterModelStep(
        "Register",
        model=train.outputs["model"],
        group=model_group,
        metrics={"mse": {"value": mse, "std": JsonGet(evaluate, report, "regression_metrics.mse.standard_deviation")}},
        metadata={"alpha": alpha, "input_data": input_data},
    )
    fail = FailStep("MSETooHigh", message=Join("the test MSE is above ", threshold))
    check = ConditionStep("CheckMSE", mse <= threshold, if_steps=[register], else_steps=[fail])
    return Pipeline(
        f"{model_group}-build",
        [check],
        parameters=[input_data, test_size, alpha, threshold],
        description=f"Build, check and register a model of {model_group}",
    )
