"""The abalone pipeline: PreprocessAbaloneData → TrainAbaloneModel → EvaluateAbaloneModel →
CheckMSEAbaloneEvaluation (MSE ≤ threshold) → RegisterAbaloneModel, else AbaloneMSEFail.

Run it from the repository's root::

    slipway pipelines run examples.abalone.pipeline:pipeline -p mse_threshold=6.0

The data is the abalone set shipped with Slipway; point ``input_data`` at another CSV of the same
columns to train on it instead. A registered version starts as the parameter ``ModelApprovalStatus``
says, ``PendingManualApproval`` by default: approve it with ``slipway models approve abalone VERSION``,
or start an execution with ``-p ModelApprovalStatus=Approved`` (as the cloud stack's abalone example does).
"""

from __future__ import annotations

from importlib.resources import files

from examples.abalone import steps
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

input_data = Parameter(
    "input_data", str, str(files("slipway") / "_data" / "abalone.csv"), description="a CSV with the abalone columns"
)
test_size = Parameter("test_size", float, 0.2, description="the share of rows held out for the test")
alpha = Parameter("alpha", float, 1.0, description="ridge regularisation strength")
mse_threshold = Parameter("mse_threshold", float, 6.0, description="the highest test MSE worth registering")
model_group = Parameter("model_group", str, "abalone", description="the registry group to register into")
model_approval_status = Parameter(
    "ModelApprovalStatus",
    str,
    "PendingManualApproval",
    description="the registered version's status: PendingManualApproval, Approved or Rejected",
)

preprocess = ProcessingStep(
    "PreprocessAbaloneData",
    steps.preprocess,
    inputs={"raw": FileInput(input_data), "test_size": test_size, "seed": 42},
    outputs=["train", "validation", "test"],
)
train = TrainingStep(
    "TrainAbaloneModel",
    steps.train,
    inputs={"train": preprocess.outputs["train"], "validation": preprocess.outputs["validation"]},
    hyperparameters={"alpha": alpha},
)
report = PropertyFile("EvaluationReport", output="evaluation", path="evaluation.json")
evaluate = ProcessingStep(
    "EvaluateAbaloneModel",
    steps.evaluate,
    inputs={"model": train.outputs["model"], "test": preprocess.outputs["test"]},
    outputs=["evaluation"],
    property_files=[report],
)
mse = JsonGet(evaluate, report, "regression_metrics.mse.value")
register = RegisterModelStep(
    "RegisterAbaloneModel",
    model=train.outputs["model"],
    group=model_group,
    approval_status=model_approval_status,
    metrics={"mse": mse},
    metadata={"dataset": "abalone", "alpha": alpha},
    version_description="ridge regression of rings on the measurements",
)
fail = FailStep("AbaloneMSEFail", message=Join("Execution failed due to MSE > ", mse_threshold))
check = ConditionStep("CheckMSEAbaloneEvaluation", mse <= mse_threshold, if_steps=[register], else_steps=[fail])

pipeline = Pipeline(
    "abalone",
    [check],
    parameters=[input_data, test_size, alpha, mse_threshold, model_group, model_approval_status],
    description="Train and register a ridge regression predicting abalone rings",
)
