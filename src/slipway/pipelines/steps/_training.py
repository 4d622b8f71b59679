"""Training: a function that fits a model; hyperparameters, metrics and model land in a tracked run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._code import Code
from slipway.pipelines._context import StepOutcome, WorkContext
from slipway.pipelines._expressions import decode, encode
from slipway.pipelines.steps._base import Step
from slipway.pipelines.steps._fitting import MODEL_OUTPUT, start_run, train_into
from slipway.pipelines.steps._function import UserFunction
from slipway.pipelines.steps._ray_train import FRAMEWORKS, TrainJob, fit
from slipway.pipelines.steps._settings import Setting
from slipway.tracking import RunStatus


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
        num_workers: train data-parallel on this many Ray Train workers (each reserving the step's
            ``resources``), on the Ray cluster this process is connected to (or ``RAY_ADDRESS``): every
            worker calls ``fn``, ``ctx.rank``/``ctx.world_size`` say which it is, ``ctx.shard(rows)``
            gives it its rows and ``ctx.prepare_model(module)`` wraps a PyTorch module for
            DistributedDataParallel. Rank 0 alone logs to the run (each epoch once) and its model is
            stored. None (the default) trains in the step's process.
        framework: with ``num_workers``: ``torch`` (a gloo process group on CPU, NCCL on GPUs) or
            ``xgboost`` (XGBoost's collective: ``xgboost.train`` on each shard grows one model).
        **common: see :class:`~slipway.pipelines.Step`.

    Example:
        >>> train = TrainingStep(
        ...     "Train", fn=fit_ridge, inputs={"train": split.outputs["train"]},
        ...     hyperparameters={"alpha": Parameter("alpha", float, 1.0)},
        ... )  # doctest: +SKIP
    """

    type_name = "Training"
    settings = {
        "flavor": Setting(str, optional=True),
        "experiment": Setting(str, optional=True),
        "num_workers": Setting(int, optional=True, minimum=1),
        "framework": Setting(str, choices=FRAMEWORKS),
    }

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        inputs: Mapping[str, Any] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        flavor: Any = None,
        experiment: Any = None,
        num_workers: Any = None,
        framework: Any = "torch",
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.function = UserFunction(fn, name)
        self.inputs = dict(inputs or {})
        self.hyperparameters = dict(hyperparameters or {})
        self.flavor = flavor
        self.experiment = experiment
        self.num_workers = num_workers
        self.framework = framework

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
        hyperparameters = ctx.args["hyperparameters"]
        if self.num_workers is not None:
            return self._run_distributed(ctx, hyperparameters)
        inputs = ctx.localize(ctx.args["inputs"])
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

    def _run_distributed(self, ctx: WorkContext, hyperparameters: dict[str, Any]) -> StepOutcome:
        if ctx.spec is None:
            raise InvalidInput(
                f"step {self.name!r}: training on Ray Train workers needs Slipway's runner",
                field=f"steps.{self.name}.num_workers",
            )
        tags = {"slipway.training.num_workers": str(self.num_workers), "slipway.training.framework": self.framework}
        run_id = start_run(ctx, self.name, experiment=self.experiment, tags=tags)
        tracking = ctx.services.tracking
        job = TrainJob(
            run_id, ctx.args["inputs"], dict(hyperparameters), self.function, self.flavor, ctx.info, ctx.spec
        )
        try:
            fit(job, self.framework, self.num_workers, self.resources, ctx.scratch("ray-train"))
            tracking.download_artifacts(run_id, "model", ctx.outputs_dir / MODEL_OUTPUT)
        except BaseException:
            tracking.end_run(run_id, RunStatus.FAILED)
            raise
        run = tracking.end_run(run_id, RunStatus.FINISHED)
        properties = {
            "run_id": run_id,
            "metrics": {key: metric.value for key, metric in run.metrics.items()},
            "hyperparameters": hyperparameters,
            "num_workers": self.num_workers,
        }
        return StepOutcome(properties=properties, run_id=run_id)
