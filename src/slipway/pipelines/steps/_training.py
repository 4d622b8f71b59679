"""Training: a function that fits a model; hyperparameters, metrics and model land in a tracked run."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._code import Code
from slipway.pipelines._context import Reporter, StepContext, StepOutcome, WorkContext
from slipway.pipelines._expressions import decode, encode
from slipway.pipelines.steps._base import Step
from slipway.pipelines.steps._function import UserFunction
from slipway.pipelines.steps._settings import Setting
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
) -> Trained:
    """Call a training function in the tracked run ``run_id`` and store its model at ``package``.

    The hyperparameters are logged as params before the call; metrics returned in a
    :class:`TrainingResult` are logged after it; the model package is also logged on the run
    under ``model/``. The run is ended FINISHED, or FAILED if anything raises (and KILLED when a
    tuning pruner stops it).
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
    )
    try:
        result = function({**inputs, **hyperparameters}, user_ctx)
        if not isinstance(result, TrainingResult):
            result = TrainingResult(result)
        if result.model is None:
            raise InvalidInput(f"step {ctx.info.step_name!r}: the training function returned no model")
        for key, value in result.metrics.items():
            user_ctx.log_metric(key, value)
        save_model(result.model, package, flavor=flavor, input_example=result.input_example)
        tracking.log_artifact(run_id, package, "model")
    except BaseException as exc:
        pruned = type(exc).__name__ == "TrialPruned"
        tracking.end_run(run_id, RunStatus.KILLED if pruned else RunStatus.FAILED)
        raise
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


class TrainingStep(Step):
    """Fit a model with ``fn``; the step's tracked run records hyperparameters, metrics and the model.

    ``fn`` is called with ``inputs`` and ``hyperparameters`` as keyword arguments (and ``ctx``
    if it asks: ``ctx.log_metric`` and ``ctx.report`` write to the run). It returns the model, or
    a :class:`TrainingResult` with metrics and an input example. The model is stored as a model
    package in the output ``model``; the step's properties hold ``run_id``, ``metrics`` and
    ``hyperparameters``.

    Args:
        name: the step's name.
        fn: the training function.
        inputs: data inputs (step outputs arrive as local paths).
        hyperparameters: values or parameters, logged as the run's params.
        flavor: the model flavor, when it cannot be detected from the model's class.
        experiment: the experiment of the run; the pipeline's name by default.
        **common: see :class:`~slipway.pipelines.Step`.

    Example:
        >>> train = TrainingStep(
        ...     "Train", fn=fit_ridge, inputs={"train": split.outputs["train"]},
        ...     hyperparameters={"alpha": Parameter("alpha", float, 1.0)},
        ... )  # doctest: +SKIP
    """

    type_name = "Training"
    settings = {"flavor": Setting(str, optional=True), "experiment": Setting(str, optional=True)}

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        inputs: Mapping[str, Any] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        flavor: Any = None,
        experiment: Any = None,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.function = UserFunction(fn, name)
        self.inputs = dict(inputs or {})
        self.hyperparameters = dict(hyperparameters or {})
        self.flavor = flavor
        self.experiment = experiment

    @property
    def output_names(self) -> tuple[str, ...]:
        return (MODEL_OUTPUT,)

    def arguments(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "hyperparameters": self.hyperparameters}

    def code(self) -> Code:
        return self.function.code()

    def check(self) -> None:
        super().check()
        both = set(self.inputs) & set(self.hyperparameters)
        if both:
            raise InvalidInput(
                f"step {self.name!r}: {sorted(both)[0]!r} is both an input and a hyperparameter",
                field=f"steps.{self.name}.hyperparameters",
            )
        self.function.check(set(self.inputs) | set(self.hyperparameters))

    def spec(self) -> dict[str, Any]:
        return {
            "inputs": {k: encode(v) for k, v in self.inputs.items()},
            "hyperparameters": {k: encode(v) for k, v in self.hyperparameters.items()},
            **self.settings_spec(),
        }

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> TrainingStep:
        return cls(
            name,
            UserFunction.load(spec).fn,
            inputs={k: decode(v) for k, v in spec.get("inputs", {}).items()},
            hyperparameters={k: decode(v) for k, v in spec.get("hyperparameters", {}).items()},
            **cls.settings_from_spec(spec),
            **common,
        )

    def run(self, ctx: WorkContext) -> StepOutcome:
        inputs = ctx.localize(ctx.args["inputs"])
        hyperparameters = ctx.args["hyperparameters"]
        run_id = start_run(ctx, self.name, experiment=self.experiment)
        trained = train_into(
            ctx,
            self.function,
            inputs,
            hyperparameters,
            run_id=run_id,
            package=ctx.outputs_dir / MODEL_OUTPUT,
            flavor=self.flavor,
        )
        properties = {"run_id": run_id, "metrics": trained.metrics, "hyperparameters": hyperparameters}
        return StepOutcome(properties=properties, run_id=run_id)
