"""Fitting a model in a tracked run: what a training step, a tuning trial and a distributed worker share.

A training function's hyperparameters, metrics and model land in one tracked run:
:func:`start_run` makes the run, tagged with the pipeline, execution and step, and :func:`train_into`
calls the function in it and stores the model it returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._context import Reporter, StepContext, WorkContext
from slipway.pipelines.steps._function import UserFunction
from slipway.tracking import RunStatus

MODEL_OUTPUT = "model"


@dataclass
class TrainingResult:
    """What a training function may return instead of a bare model.

    Attributes:
        model: the fitted model, stored as a model package (``slipway.models.save_model``).
        metrics: final metrics, logged on the tracked run.
        input_example: a few rows of input, stored with the model (its signature is inferred).
    """

    model: Any
    metrics: dict[str, float] = field(default_factory=dict)
    input_example: Any = None


@dataclass(frozen=True)
class Trained:
    """A finished training call: the package folder written and the metrics logged."""

    metrics: dict[str, float]


def train_into(
    ctx: WorkContext,
    function: UserFunction,
    inputs: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    *,
    run_id: str,
    package: Path,
    flavor: str | None,
    on_report: Reporter | None = None,
    world_size: int = 1,
    end: bool = True,
) -> Trained:
    """Call a training function in the tracked run ``run_id`` and store its model at ``package``.

    The hyperparameters are logged as params before the call; metrics returned in a
    :class:`TrainingResult` are logged after it; the model package is also logged on the run
    under ``model/``. The run is ended FINISHED (unless ``end`` is False: the caller ends it), or
    FAILED if anything raises (and KILLED when a tuning pruner stops it). ``world_size`` > 1: this
    is rank 0 of a distributed training, and a module it returns wrapped for it is stored unwrapped.
    """
    from slipway.models import save_model  # slipway.models brings pandas: a worker imports it on first use

    tracking = ctx.services.tracking
    if hyperparameters:
        tracking.log_batch(run_id, params=dict(hyperparameters))
    user_ctx = StepContext(
        ctx.info.execution_id,
        ctx.info.step_name,
        ctx,
        run_id=run_id,
        params=dict(hyperparameters),
        on_report=on_report,
        world_size=world_size,
    )
    try:
        result = function({**inputs, **hyperparameters}, user_ctx)
        if not isinstance(result, TrainingResult):
            result = TrainingResult(result)
        if result.model is None:
            raise InvalidInput(f"step {ctx.info.step_name!r}: the training function returned no model")
        for key, value in result.metrics.items():
            user_ctx.log_metric(key, value)
        model = result.model
        if type(model).__name__ == "DistributedDataParallel":  # ctx.prepare_model's wrapper
            model = model.module
        save_model(model, package, flavor=flavor, input_example=result.input_example)
        tracking.log_artifact(run_id, package, "model")
    except BaseException as exc:
        pruned = type(exc).__name__ == "TrialPruned"
        tracking.end_run(run_id, RunStatus.KILLED if pruned else RunStatus.FAILED)
        raise
    if end:
        tracking.end_run(run_id, RunStatus.FINISHED)
    return Trained({k: v for k, v in user_ctx.metrics.items() if math.isfinite(v)})


def start_run(
    ctx: WorkContext,
    name: str,
    *,
    experiment: str | None,
    parent_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """A tracked run for a step (or a trial), tagged with the pipeline, execution and step."""
    tracking = ctx.services.tracking
    exp = tracking.get_or_create_experiment(experiment or ctx.info.pipeline)
    run_tags = {
        "slipway.pipeline": ctx.info.pipeline,
        "slipway.pipeline.execution_id": ctx.info.execution_id,
        "slipway.pipeline.step": ctx.info.step_name,
        "slipway.pipeline.step_execution_id": ctx.info.step_execution_id,
        **({} if ctx.info.orchestrator == "slipway" else {"slipway.pipeline.orchestrator": ctx.info.orchestrator}),
        **(tags or {}),
    }
    return tracking.create_run(exp.id, name=name, tags=run_tags, parent_run_id=parent_run_id).id
