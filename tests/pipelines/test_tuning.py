"""Tuning steps: Optuna search spaces, samplers, pruners, parallel trials, warm starts; trials are runs."""

from __future__ import annotations

import _pipeline_steps as lib
import pytest

from slipway._backend import Backend
from slipway.errors import InvalidInput
from slipway.pipelines import (
    Categorical,
    ExecutionStatus,
    FloatRange,
    HyperbandPruning,
    IntRange,
    MedianPruning,
    Parameter,
    Pipeline,
    PipelineService,
    TuningStep,
)


def _tune(name: str = "Tune", **options) -> TuningStep:  # type: ignore[no-untyped-def]
    space = options.pop(
        "search_space",
        {
            "x": FloatRange(0.1, 4.0, log=True),
            "y": IntRange(1, 5),
            "kind": Categorical(["a", "b"]),
        },
    )
    options.setdefault("direction", "minimize")
    return TuningStep(name, lib.quadratic, search_space=space, objective="loss", **options)


def test_every_trial_is_a_child_run_and_the_best_model_is_the_output(
    service: PipelineService, backend: Backend
) -> None:
    execution = service.run(Pipeline("tuned", [_tune(max_trials=6, max_parallel_trials=2, seed=1)]))
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.failure_reason
    props = execution.step("Tune").properties or {}
    assert len(props["trials"]) == 6
    job = backend.tracking.get_run(props["run_id"])
    children = backend.tracking.search_runs(filter=f"parent_run_id = '{job.id}'").runs
    assert len(children) == 6
    best = min(t["value"] for t in props["trials"] if t["state"] == "COMPLETE")
    assert props["best_value"] == best
    assert job.metrics["best_loss"].value == best
    best_run = backend.tracking.get_run(props["best_run_id"])
    assert best_run.parent_run_id == job.id and best_run.metrics["loss"].value == best
    assert set(best_run.params) == {"x", "y", "kind"}
    assert len(backend.tracking.get_metric_history(best_run.id, "loss")) == 4  # 3 reports + the final value
    assert {r.status.value for r in children} == {"FINISHED"}
    assert {r.tags["slipway.tuning.state"] for r in children} == {"COMPLETE"}
    # Only the best model is stored: on its trial's run (and as the output), not on the others'.
    assert backend.tracking.list_artifacts(best_run.id, "model")
    assert not [r.id for r in children if r.id != best_run.id and backend.tracking.list_artifacts(r.id, "model")]
    [model] = execution.step("Tune").outputs
    assert model.name == "model"


def test_grid_search_tries_each_point_once(service: PipelineService) -> None:
    space = {"y": IntRange(2, 4), "kind": Categorical(["a", "b"])}
    tune = _tune(search_space=space, sampler="grid", max_trials=50, hyperparameters={"x": 2.0})
    props = service.run(Pipeline("grid", [tune])).step("Tune").properties or {}
    points = sorted((t["params"]["y"], t["params"]["kind"]) for t in props["trials"])
    assert points == [(2, "a"), (2, "b"), (3, "a"), (3, "b"), (4, "a"), (4, "b")]
    assert props["best_params"] == {"y": 3, "kind": "a"} and props["best_value"] == 0.0


def test_median_pruning_stops_trials_that_fall_behind(service: PipelineService, backend: Backend) -> None:
    tune = _tune(
        sampler="random", seed=3, max_trials=10, pruner=MedianPruning(startup_trials=2), hyperparameters={"epochs": 4}
    )
    props = service.run(Pipeline("pruned", [tune])).step("Tune").properties or {}
    pruned = [t for t in props["trials"] if t["state"] == "PRUNED"]
    assert pruned, props["trials"]
    run = backend.tracking.get_run(pruned[0]["run_id"])
    assert (run.status.value, run.tags["slipway.tuning.state"]) == ("KILLED", "PRUNED")
    # One trial at a time: each run ended (its end written with the next one's start) when its
    # trial did, before the next began; the last one ended too.
    runs = sorted((backend.tracking.get_run(t["run_id"]) for t in props["trials"]), key=lambda r: r.start_time)
    assert all(r.end_time is not None and r.status.value in ("FINISHED", "KILLED") for r in runs)
    assert all(a.end_time <= b.start_time for a, b in zip(runs, runs[1:], strict=False))  # type: ignore[operator]


def test_hyperband_and_a_warm_start_from_an_earlier_job(service: PipelineService) -> None:
    first = service.run(Pipeline("warm", [_tune(sampler="random", seed=5, max_trials=4)]))
    earlier = first.step("Tune").properties or {}
    warm = Parameter("warm_start", str, "")
    tune = _tune(max_trials=3, seed=6, pruner=HyperbandPruning(min_resource=1, max_resource=3), warm_start_from=warm)
    second = service.run(Pipeline("warm", [tune]), parameters={"warm_start": earlier["run_id"]})
    props = second.step("Tune").properties or {}
    assert props["warm_started_trials"] == sum(t["state"] == "COMPLETE" for t in earlier["trials"])
    assert len(props["trials"]) == props["warm_started_trials"] + 3
    assert props["best_value"] <= min(t["value"] for t in earlier["trials"] if t["value"] is not None)


def test_tuning_options_are_checked_when_defined() -> None:
    with pytest.raises(InvalidInput, match="grid search needs discrete values; give 'x' a step"):
        Pipeline("bad", [_tune(sampler="grid")])
    with pytest.raises(InvalidInput, match="unknown pruner 'asha'"):
        _tune(pruner="asha")
    with pytest.raises(InvalidInput, match="direction must be one of minimize, maximize, not .down."):
        Pipeline("bad", [_tune(direction="down")])
    with pytest.raises(InvalidInput, match="'y' is both searched and given"):
        Pipeline("bad", [_tune(hyperparameters={"y": 1})])
