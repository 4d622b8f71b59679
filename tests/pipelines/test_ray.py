"""The Ray executor runs the same pipelines, each step a Ray task, on the session's local Ray cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _pipeline_steps as lib
import pytest

from slipway.pipelines import ExecutionStatus, Pipeline, PipelineService, ProcessingStep, Resources, StepStatus

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ray


def test_the_abalone_pipeline_runs_on_ray(
    ray_cluster: Any, service: PipelineService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    from examples.abalone.pipeline import pipeline

    execution = service.run(pipeline, executor="ray", parameters={"mse_threshold": 6.0})
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    assert execution.step("RegisterAbaloneModel").status is StepStatus.SUCCEEDED
    assert all(a.worker for s in execution.steps for a in s.attempt_history)
    logs = service.logs(execution.id, "PreprocessAbaloneData")
    assert "train" in logs and "test rows" in logs


def test_ray_tasks_reserve_resources_and_stop_on_timeout(ray_cluster: Any, service: PipelineService) -> None:
    wide = [ProcessingStep(f"Square{i}", lib.square, inputs={"x": i}, resources=Resources(cpus=1)) for i in range(4)]
    slow = ProcessingStep("Slow", lib.sleeper, inputs={"seconds": 60}, timeout=1.0, resources=Resources(cpus=0.5))
    execution = service.run(Pipeline("on-ray", [*wide, slow]), executor="ray")
    assert [execution.step(f"Square{i}").properties for i in range(4)] == [{"y": i * i} for i in range(4)]
    assert execution.step("Slow").error_type == "StepTimeout"
    assert execution.status is ExecutionStatus.FAILED
