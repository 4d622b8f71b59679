"""Data-parallel training on Ray Train (PyTorch DDP on CPU, XGBoost): two workers, one tracked run."""

from __future__ import annotations

from typing import Any

import _pipeline_steps as lib
import numpy as np
import pandas as pd
import pytest

from slipway._backend import Backend
from slipway.errors import InvalidInput
from slipway.models import load_model
from slipway.pipelines import (
    ExecutionStatus,
    Pipeline,
    PipelineService,
    ProcessingStep,
    RegisterModelStep,
    TrainingStep,
)
from slipway.tracking import Run

pytestmark = pytest.mark.ray


def _trained(service: PipelineService, backend: Backend, train: TrainingStep, group: str) -> Run:
    """Run ``train`` and register its model on the session's Ray cluster; the training's run."""
    register = RegisterModelStep("Register", model=train.outputs["model"], group=group)
    execution = service.run(Pipeline(f"{group}-pipeline", [register]), executor="ray")
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    props = execution.step("Train").properties or {}
    run = backend.tracking.get_run(props["run_id"])
    assert run.status.value == "FINISHED" and props["num_workers"] == 2
    assert not backend.tracking.search_runs(filter=f"parent_run_id = '{run.id}'").runs  # one run, not one per worker
    registered = execution.step("Register").properties or {}
    assert backend.registry.get_version(group, registered["version"]).status.value == "PendingManualApproval"
    return run


def test_pytorch_ddp_on_two_workers_is_one_run_with_one_model(
    ray_cluster: Any, service: PipelineService, backend: Backend
) -> None:
    rows = ProcessingStep("Rows", lib.write_rows, inputs={"n": 40}, outputs=["rows"])
    train = TrainingStep(
        "Train", lib.ddp_linear, inputs={"rows": rows.outputs["rows"]}, hyperparameters={"epochs": 3},
        num_workers=2, framework="torch",
    )
    run = _trained(service, backend, train, "ddp")
    assert run.metrics["world_size"].value == 2 and run.metrics["rows_seen"].value == 20  # half the rows each
    assert [m.step for m in backend.tracking.get_metric_history(run.id, "loss")] == [0, 1, 2]  # rank 0 only
    assert run.params == {"epochs": "3"} and run.tags["slipway.training.num_workers"] == "2"
    model = load_model(backend.tracking.download_artifacts(run.id, "model", backend.settings.home / "ddp"))
    assert np.asarray(model.predict(np.array([[10.0]], dtype=np.float32))).shape == (1, 1)


def test_xgboost_on_two_workers_grows_one_model(ray_cluster: Any, service: PipelineService, backend: Backend) -> None:
    rows = ProcessingStep("Rows", lib.write_rows, inputs={"n": 40}, outputs=["rows"])
    train = TrainingStep(
        "Train", lib.xgb_rows, inputs={"rows": rows.outputs["rows"]}, num_workers=2, framework="xgboost"
    )
    run = _trained(service, backend, train, "boosted")
    history = backend.tracking.get_metric_history(run.id, "train_rmse")
    assert [m.step for m in history] == [0, 1, 2, 3] and history[-1].value < history[0].value
    assert run.metrics["rows_seen"].value == 20
    model = load_model(backend.tracking.download_artifacts(run.id, "model", backend.settings.home / "xgb"))
    # One model from every worker's rows: it predicts rows rank 0 never saw (odd x) as well as its own.
    predictions = np.asarray(model.predict(pd.DataFrame({"x": [10.0, 11.0]}))).ravel()
    assert np.allclose(predictions, [21.0, 23.0], atol=3.0)


def test_distributed_training_options_are_checked() -> None:
    with pytest.raises(InvalidInput, match="framework must be one of torch, xgboost"):
        Pipeline("bad", [TrainingStep("Train", lib.ddp_linear, inputs={"rows": "x"}, num_workers=2, framework="jax")])
    with pytest.raises(InvalidInput, match="num_workers"):
        Pipeline("bad", [TrainingStep("Train", lib.ddp_linear, inputs={"rows": "x"}, num_workers=0)])
