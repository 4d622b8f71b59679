"""Fitting a model in a tracked run: what a training step, a tuning trial and a distributed worker share.

A training function's hyperparameters, metrics and model land in one tracked run:
:func:`start_run` makes the run, tagged with the pipeline, execution and step, and :func:`train_into`
calls the function in it and stores the model it returns. A tuning trial uses the two halves of
:func:`train_into` on their own: :func:`fit_in_run` calls the function, and :func:`store_model`
stores a model only where one is kept (the job's best).
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


@dataclass(frozen=True)
class Fitted:
    """A training function's answer, before anything of it is stored.

    Attributes:
        model: the fitted model (a data-parallel wrapper already taken off).
        input_example: the example rows it returned, for the model's signature.
        returned: the metrics it returned, not logged yet: the caller writes them with the run's end.
        metrics: the last value of every metric, those it logged during the call and those returned.
    """

    model: Any
    input_example: Any
    returned: dict[str, float]
    metrics: dict[str, float]

    def points(self) -> list[dict[str, Any]]:
        """The returned metrics as points for ``log_batch`` (step 0, as ``log_metric`` would)."""
        return [{"key": key, "value": value, "step": 0} for key, value in self.returned.items()]

    def finite_metrics(self) -> dict[str, float]:
        return {k: v for k, v in self.metrics.items() if math.isfinite(v)}


def fit_in_run(
    ctx: WorkContext,
    function: UserFunction,
    inputs: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    *,
    run_id: str,
    on_report: Reporter | None = None,
    world_size: int = 1,
) -> Fitted:
    """Call a training function in the tracked run ``run_id`` (what it logs goes there); store nothing else.

    Raises:
        InvalidInput: if the function returned no model; whatever the function raised.
    """
    user_ctx = StepContext(
        ctx.info.execution_id,
        ctx.info.step_name,
        ctx,
        run_id=run_id,
        params=dict(hyperparameters),
        on_report=on_report,
        world_size=world_size,
    )
    result = function({**inputs, **hyperparameters}, user_ctx)
    if not isinstance(result, TrainingResult):
        result = TrainingResult(result)
    if result.model is None:
        raise InvalidInput(f"step {ctx.info.step_name!r}: the training function returned no model")
    model = result.model
    if type(model).__name__ == "DistributedDataParallel":  # ctx.prepare_model's wrapper
        model = model.module
    returned = {key: float(value) for key, value in result.metrics.items()}
    return Fitted(model, result.input_example, returned, {**user_ctx.metrics, **returned})


def store_model(ctx: WorkContext, fitted: Fitted, *, run_id: str, package: Path, flavor: str | None) -> None:
    """Save the fitted model as a package at ``package`` and log it on the run under ``model/``."""
    from slipway.models import save_model  # slipway.models brings pandas: a worker imports it on first use

    save_model(fitted.model, package, flavor=flavor, input_example=fitted.input_example)
    ctx.services.tracking.log_artifact(run_id, package, "model")


def train_into(
    ctx: WorkContext,
    function: UserFunction,
    inputs: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    *,
    run_id: str,
    package: Path,
    flavor: str | None,
    world_size: int = 1,
    end: bool = True,
) -> Trained:
    """Call a training function in the tracked run ``run_id`` and store its model at ``package``.

    The hyperparameters are logged as params before the call; metrics returned in a
    :class:`TrainingResult` are logged after it, in the write that ends the run; the model package
    is also logged on the run under ``model/``. The run is ended FINISHED (unless ``end`` is False:
    the caller ends it), or FAILED if anything raises. ``world_size`` > 1: this is rank 0 of a
    distributed training, and a module it returns wrapped for it is stored unwrapped.
    """
    tracking = ctx.services.tracking
    if hyperparameters:
        tracking.log_batch(run_id, params=dict(hyperparameters))
    try:
        fitted = fit_in_run(ctx, function, inputs, hyperparameters, run_id=run_id, world_size=world_size)
        store_model(ctx, fitted, run_id=run_id, package=package, flavor=flavor)
    except BaseException:
        tracking.end_run(run_id, RunStatus.FAILED)
        raise
    if fitted.returned or end:
        tracking.log_batch(run_id, metrics=fitted.points(), end_status=RunStatus.FINISHED if end else None)
    return Trained(fitted.finite_metrics())


def run_tags(ctx: WorkContext, tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """A step's (or a trial's) run tags: the pipeline, execution and step it belongs to, and ``tags``."""
    return {
        "slipway.pipeline": ctx.info.pipeline,
        "slipway.pipeline.execution_id": ctx.info.execution_id,
        "slipway.pipeline.step": ctx.info.step_name,
        "slipway.pipeline.step_execution_id": ctx.info.step_execution_id,
        **({} if ctx.info.orchestrator == "slipway" else {"slipway.pipeline.orchestrator": ctx.info.orchestrator}),
        **(tags or {}),
    }


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
    return tracking.create_run(exp.id, name=name, tags=run_tags(ctx, tags), parent_run_id=parent_run_id).id
