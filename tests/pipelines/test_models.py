"""Model steps doing real work: Training (a tracked run), CreateModel (a checked package), Transform, RegisterModel."""

from __future__ import annotations

import csv
import io

import _pipeline_steps as lib
import numpy as np

from slipway._backend import Backend
from slipway.lineage import LineageService
from slipway.models import load_model
from slipway.pipelines import (
    CreateModelStep,
    ExecutionStatus,
    JsonGet,
    Parameter,
    Pipeline,
    PipelineService,
    ProcessingStep,
    RegisterModelStep,
    TrainingStep,
    TransformStep,
)
from slipway.pipelines.steps._models import APPROVAL_STATUSES
from slipway.registry import ApprovalStatus
from slipway.store.artifacts import Owner


def test_training_records_a_tracked_run_with_params_metrics_and_model(
    service: PipelineService, backend: Backend
) -> None:
    make = ProcessingStep("Make", lib.numbers, inputs={"n": 20}, outputs=["data"])
    train = TrainingStep(
        "Train",
        lib.fit_line,
        inputs={"data": make.outputs["data"]},
        hyperparameters={"slope_prior": Parameter("slope_prior", float, 0.5)},
    )
    execution = service.run(Pipeline("trained", [train]))
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    step = execution.step("Train")
    run = backend.tracking.get_run(step.run_id or "")
    assert run.status.value == "FINISHED"
    assert run.params == {"slope_prior": "0.5"}
    assert set(run.metrics) == {"train_mse", "intercept"}
    assert round(run.metrics["intercept"].value, 6) == 1.5
    assert run.tags["slipway.pipeline.execution_id"] == execution.id
    assert backend.tracking.get_experiment(run.experiment_id).name == "trained"
    assert {a.path for a in backend.tracking.list_artifacts(run.id)} == {"model"}
    assert step.properties and step.properties["metrics"]["intercept"] == run.metrics["intercept"].value
    [model] = step.outputs
    folder = backend.artifacts.download(
        Owner(model.owner_kind, model.owner_id), model.path, backend.settings.home / "m"
    )
    assert round(float(load_model(folder).predict(np.array([[10.0]]))[0]), 6) == 21.5
    graph = LineageService(backend.db).downstream("step_execution", step.id, depth=1)
    assert ("run", run.id) in {n.key for n in graph.nodes}


def test_create_model_transform_and_register(service: PipelineService, backend: Backend) -> None:
    rows = ProcessingStep("Rows", lib.write_rows, inputs={"n": 30}, outputs=["rows"])
    train = TrainingStep("Train", lib.fit_frame, inputs={"rows": rows.outputs["rows"]})
    create = CreateModelStep(
        "Package", model=train.outputs["model"], input_example=rows.outputs["rows"] / "rows.csv", drop_columns=["y"]
    )
    predict = TransformStep(
        "Predict",
        model=create.outputs["model"],
        data=rows.outputs["rows"],
        drop_columns=["y"],
        batch_size=7,
        output_format="csv",
    )
    register = RegisterModelStep(
        "Register",
        model=create.outputs["model"],
        group=Parameter("group", str, "lines"),
        metrics={"slope": JsonGet(train, None, "metrics.slope")},
        metadata={"source": "pipeline test"},
        depends_on=[predict],
    )
    execution = service.run(Pipeline("modelled", [register]))
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason

    assert execution.step("Package").properties["signature"]["inputs"][0]["name"] == "x"
    assert execution.step("Predict").properties == {"rows": 30, "batches": 5, "file": "predictions.csv"}
    [out] = execution.step("Predict").outputs
    text = backend.artifacts.read_bytes(Owner(out.owner_kind, out.owner_id), f"{out.path}/predictions.csv").decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 30
    assert all(abs(float(r["prediction"]) - float(r["y"])) < 1e-6 for r in table)

    registered = execution.step("Register").properties
    assert registered and registered["status"] == "PendingManualApproval" and registered["group"] == "lines"
    version = backend.registry.get_version("lines", registered["version"])
    assert round(version.metrics["slope"].value, 6) == 2.0
    assert version.metadata == {"source": "pipeline test"}
    assert (version.source_kind, version.source_id) == ("step_execution", execution.step("Register").id)


def test_the_step_knows_the_registry_statuses() -> None:
    assert tuple(s.value for s in ApprovalStatus) == APPROVAL_STATUSES
